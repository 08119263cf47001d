//! The demo upstream for protogate: an in-memory e-commerce
//! `ecommerce.v1.ProductService`, the gRPC interop `grpc.testing.TestService`
//! and `protogate.testing.v1.EchoService` (for transcoding tests), plus
//! health checking and server reflection.
//!
//! The gateway's tests start it on an ephemeral port with [`serve`]; people
//! run the `protogate-demo` binary. The protos live in the workspace
//! `protos/` directory and are compiled at build time without `protoc`.

mod call_counter;
mod echo_metadata;
mod echo_service;
mod interop;
pub mod pb;
mod product_service;
mod server;
mod status_details;
mod store;

pub use call_counter::{CallCounter, CountCalls};
pub use echo_metadata::{EchoMetadata, ECHO_INITIAL_HEADER, ECHO_TRAILING_HEADER};
pub use echo_service::{
    numbered_product, stream_state, EchoServiceImpl, StreamState, FAIL_DETAIL_TYPE_URL,
    UNKNOWN_DETAIL_TYPE_URL,
};
pub use interop::TestServiceImpl;
pub use product_service::ProductServiceImpl;
pub use server::{serve, serve_counted, serve_tls, serve_with, serve_with_store, MAX_MESSAGE_SIZE};
pub use status_details::{encode_status_details, ECHO_STATUS_TYPE_URL};
pub use store::{ProductStore, SEED_PRODUCT_IDS};

/// The encoded `google.protobuf.FileDescriptorSet` of every file under
/// `protos/` and the well-known types they import. Feed it to reflection or
/// to a transcoder that needs the `google.api.http` rules.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
