//! Sans-IO gRPC helpers for the protogate gateway.
//!
//! Nothing here does I/O on the request path, spawns tasks or knows about
//! Pingora: the proxy feeds bytes and header values in and gets decisions
//! back. Only [`catalog`] touches the file system, and only at config load.
//!
//! | module | used | for |
//! | --- | --- | --- |
//! | [`frame`] | every gRPC body chunk | message counting, size limits, framing |
//! | [`status`] | every response | `grpc-status` parsing, HTTP mappings, metrics labels |
//! | [`message`] | error replies | `grpc-message` percent-encoding |
//! | [`timeout`] | every request | `grpc-timeout` parsing and re-encoding |
//! | [`content_type`] | routing | gRPC vs gRPC-Web vs plain HTTP |
//! | [`catalog`] | config load, then lookups | services and methods from descriptors |
//! | [`web`] | gRPC-Web calls | content types, trailer frames, base64 text mode |

pub mod catalog;
pub mod content_type;
pub mod frame;
pub mod message;
pub mod status;
pub mod timeout;
pub mod web;

pub use catalog::{split_grpc_path, Catalog, CatalogError, DescriptorSource, MethodInfo, RpcKind};
pub use content_type::{classify, Protocol};
pub use frame::{FrameDecoder, FrameError, FrameScanner, Message, ScanProgress, HEADER_LEN};
pub use message::{decode_grpc_message, encode_grpc_message};
pub use status::{parse_grpc_status, Code};
pub use timeout::{
    encode_grpc_timeout, format_grpc_timeout, parse_grpc_timeout, EncodedTimeout, TimeoutError,
};
