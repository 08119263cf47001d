//! The protogate plugin API: the only crate a plugin depends on.
//!
//! A request enters the gateway, the router picks a route, and the route's
//! [`Chain`] of plugins runs through Pingora's phases. Plugins are typed for
//! their authors ([`Plugin`], with a per-request `State`) and erased for the
//! chain ([`DynPlugin`]); the proxy drives the chain and owns every answer the
//! gateway writes itself, through the one [`rescue`] function, so every error
//! has the same shape whichever plugin or phase raised it.
//!
//! Plugin configuration is decoded with `protogate_config`'s [`Decode`]
//! framework (re-exported here), so a plugin's errors carry the same line,
//! column and YAML path as the rest of the file.

mod call;
mod chain;
pub mod cors;
mod error;
pub mod ip;
pub mod parts;
mod plugin;
mod protocol;
pub mod registry;
mod rescue;
mod upstream_call;

pub use call::{CallEvent, CallInfo};
pub use chain::{Chain, DynPlugin, Slots};
pub use error::GatewayError;
pub use plugin::{Downstream, Flow, Hooks, LocalResponse, Plugin, ResponseStream};
pub use protocol::CallerProtocol;
pub use rescue::{json_error_body, rescue, trailers_for, Rendered};
pub use upstream_call::{
    CallLimits, RequestCx, UpstreamConnector, UpstreamResponse, UpstreamStream,
};

pub use http::HeaderMap;
pub use protogate_config::{
    ByteSize, Decode, Decoder, Fields, Node, OrderedMap, Span, Spanned, Timeout, Value, YamlPath,
};
pub use protogate_grpc::status::Code;

/// Re-exported: how plugins describe their settings for the config's JSON
/// Schema (`impl JsonSchema` beside `impl Decode`).
pub use protogate_config::schema;

/// Re-exported so plugins name Pingora's header types without depending on it.
pub use pingora_http::{RequestHeader, ResponseHeader};
