//! Test kit for protogate's end-to-end tests: the real `protogate` binary
//! started from a YAML string on ephemeral loopback ports, real upstreams
//! (the demo gRPC services, a small HTTP echo server), and HTTP clients.
//!
//! Rules it enforces: no fixed ports (reserve-and-release, with retries on a
//! bind race), no sleeps to wait for readiness (poll `/readyz` with a bound),
//! every process and server stopped when its handle drops.

mod gateway;
mod http_client;
mod http_upstream;
mod otlp;
mod pki;
mod ports;
mod raw_client;
mod raw_upstream;
mod redis;
mod upstream;
mod wait;

pub use gateway::{protogate_bin, Gateway, GatewayBuilder};
pub use http_client::{HttpClient, HttpReply};
pub use http_upstream::HttpEcho;
pub use otlp::{OtlpReceiver, OtlpSpan};
pub use pki::{Authority, Leaf};
pub use ports::free_port;
pub use raw_client::{frame, RawClient, RawReply};
pub use raw_upstream::RawUpstream;
pub use redis::RedisServer;
pub use upstream::{DemoProcess, DemoUpstream};
pub use wait::eventually;
