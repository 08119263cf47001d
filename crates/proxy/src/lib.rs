//! The gateway itself: one `impl ProxyHttp` that routes each request, runs
//! the route's plugin chain through Pingora's phases, picks an upstream
//! target, and answers every failure in the caller's protocol.
//!
//! Load path: `protogate_config` parses the file, [`compile`] turns it into a
//! [`Runtime`] (route table, upstreams, plugin chains, descriptor catalog,
//! metric handles), and [`serve`] starts Pingora with it. The runtime sits
//! behind an `ArcSwap`: each request takes a snapshot when it starts and
//! keeps it for its whole life.

mod access_log;
mod client_addr;
mod compile;
mod connect;
mod connections;
mod ctx;
mod deadline;
mod downstream;
mod failure;
mod gateway;
mod grpc_forward;
mod health;
mod plugins;
mod reload;
mod respond;
mod runtime;
mod server;
pub mod tls;
mod upstream;
mod upstream_call;
mod upstream_stream;
mod upstream_tls;

pub use compile::{compile, load};
pub use gateway::Gateway;
pub use plugins::PluginConfig;
pub use reload::{ReloadOutcome, Reloader};
pub use runtime::{CompiledRoute, Runtime};
pub use server::{serve, ServeOptions};
pub use upstream::Upstream;
pub use upstream_call::RouteConnector;
pub use upstream_tls::UpstreamTlsMaterial;
