//! protogate's Prometheus metrics and the admin service that serves them.
//!
//! gRPC calls are counted with the go-grpc-prometheus families and labels
//! (`grpc_server_started_total`, `grpc_server_handled_total`,
//! `grpc_server_handling_seconds`, labelled `grpc_type`, `grpc_service`,
//! `grpc_method`, `grpc_code`) plus a `route` label, so existing gRPC
//! dashboards work unchanged. HTTP routes get `protogate_http_requests_total`
//! and `protogate_http_request_duration_seconds` by route and status.

mod admin;
mod families;
mod health;
mod rate_limit;
mod route;
mod tracing;

pub use admin::{AdminApp, Readiness};
pub use families::{GrpcMethodMetrics, Metrics};
pub use prometheus::IntGauge;
pub use rate_limit::RateLimitMetrics;
pub use route::{OpenConnection, OpenStream, RouteMetrics};
pub use tracing::TracingMetrics;
