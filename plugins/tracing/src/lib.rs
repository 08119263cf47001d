//! `tracing`: OpenTelemetry spans for every call, with the W3C trace
//! context carried to the upstream.
//!
//! - [`context`]: `traceparent` / `tracestate`, sans IO.
//! - [`span`]: calls as spans under the current semantic conventions.
//! - [`exporter`]: the bounded, off-path OTLP export (HTTP or gRPC) with
//!   its drop counter.
//!
//! See the README for the configuration.

pub mod config;
pub mod context;
pub mod exporter;
mod filter;
pub mod span;

pub use config::TracingPluginConfig;
pub use exporter::{Destination, Exporter};
pub use filter::{CallTrace, Tracer};

/// The plugin's name in the config file.
pub const NAME: &str = "tracing";
