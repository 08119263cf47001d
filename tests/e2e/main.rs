//! protogate end to end: the real `protogate` binary on ephemeral loopback
//! ports, real tonic and grpcio clients, real upstreams.
//!
//! Build the binaries first (`cargo build --workspace --bins`); the README's
//! test command does.

#![allow(clippy::unwrap_used)]

mod support;

mod cli;
mod dashboard;
mod deploy;
mod examples;
mod grpc_edges;
mod grpc_interop;
mod grpc_streams;
mod grpc_web;
mod grpc_web_browser;
mod header_map;
mod health;
mod http_routes;
mod lifecycle;
mod metrics;
mod python_interop;
mod rate_limit;
mod readme;
mod routing;
mod schema;
mod tls;
mod tracing;
mod transcoding;
mod transcoding_openapi;
mod transcoding_streams;
