//! `rate_limit`: exact rate and concurrency limits per route or method,
//! in process or shared through Redis.
//!
//! - [`gcra`]: the algorithm (GCRA), exact and all-or-nothing over several
//!   limits; the same arithmetic runs in [`local`] and in Redis's script.
//! - [`key`]: what a budget belongs to (`client_ip`, `header:NAME`,
//!   `route`, `grpc_method`, combined).
//! - [`redis_store`] and [`breaker`]: the shared store, bounded by a
//!   timeout and a circuit breaker with a local fallback.
//! - [`answer`]: refusals in the caller's protocol and the IETF
//!   `RateLimit` fields.
//!
//! See the README for the configuration.

pub mod answer;
pub mod breaker;
pub mod config;
mod filter;
pub mod gcra;
pub mod inflight;
pub mod key;
pub mod local;
pub mod redis_store;

pub use config::RateLimitConfig;
pub use filter::{CallState, RateLimiter};

/// The plugin's name in the config file.
pub const NAME: &str = "rate_limit";

/// The JSON Schema of the plugin's settings (the body of `- rate_limit:`),
/// as a reference into `g`'s definitions.
pub fn settings_schema(
    g: &mut protogate_core::schema::SchemaGenerator,
) -> protogate_core::schema::Schema {
    g.subschema_for::<RateLimitConfig>()
}
