//! `grpc_proxy`: transparent gRPC pass-through.
//!
//! Every route that matches by `grpc_service` or `grpc_method` runs this
//! plugin (with its defaults unless the route's list names it). The bytes of
//! every RPC kind flow through Pingora untouched (frames, metadata, `-bin`
//! values, `grpc-encoding`, trailers); the plugin guards what Pingora does
//! not: native gRPC needs HTTP/2 end to end, and `te: trailers` must reach
//! the upstream (Pingora 0.9.1 strips it from HTTP/1.x requests).
//!
//! gRPC-Web callers (browsers) are on by default: the plugin answers their
//! CORS preflight and puts the CORS headers on every answer; the proxy's
//! forwarding loop translates the bytes (`crates/proxy/src/grpc_forward`).

mod config;
mod filter;

pub use config::{GrpcProxyConfig, GrpcWebConfig, DEFAULT_MAX_MESSAGE_SIZE, GRPC_WEB_EXPOSED};
pub use filter::GrpcProxy;

/// The name used in the config file.
pub const NAME: &str = "grpc_proxy";

/// The JSON Schema of the plugin's settings (the body of `- grpc_proxy:`),
/// as a reference into `g`'s definitions.
pub fn settings_schema(
    g: &mut protogate_core::schema::SchemaGenerator,
) -> protogate_core::schema::Schema {
    g.subschema_for::<GrpcProxyConfig>()
}
