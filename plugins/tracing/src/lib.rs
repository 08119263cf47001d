//! `tracing`: OpenTelemetry spans for every call, with the W3C trace
//! context carried to the upstream.
//!
//! - [`context`]: `traceparent` / `tracestate`, sans IO.
//! - [`span`]: calls as spans under the current semantic conventions.
//! - [`otlp`] and [`wire`]: those spans encoded as OTLP protobuf, once,
//!   straight from the call.
//! - [`exporter`]: the bounded, off-path export with its drop counter;
//!   [`transport`]: OTLP/HTTP (hyper) or OTLP/gRPC (tonic).
//!
//! See the README for the configuration.

pub mod config;
pub mod context;
pub mod exporter;
mod filter;
pub mod otlp;
pub mod span;
pub mod transport;
pub mod wire;

pub use config::TracingPluginConfig;
pub use exporter::{Destination, Exporter};
pub use filter::{CallTrace, Tracer};

/// The plugin's name in the config file.
pub const NAME: &str = "tracing";

/// The JSON Schema of the plugin's settings (the body of `- tracing:`), as
/// a reference into `g`'s definitions.
pub fn settings_schema(
    g: &mut protogate_core::schema::SchemaGenerator,
) -> protogate_core::schema::Schema {
    g.subschema_for::<TracingPluginConfig>()
}
