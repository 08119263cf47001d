//! Native gRPC forwarding: the proxy loop for calls on `grpc_proxy` routes.
//!
//! Pingora's own proxy loop moves gRPC bytes well, but it has no per-call
//! timer (its read timeout resets on every read and retires the shared
//! upstream connection when it fires) and no view of message boundaries.
//! gRPC calls need both, so for a native gRPC caller on HTTP/2 the gateway
//! runs this loop instead, over Pingora's downstream session and Pingora's
//! pooled upstream HTTP/2 connections:
//!
//! - the deadline (the caller's `grpc-timeout`, else the route's or the
//!   upstream's `timeout`) is a timer of this call alone: when it fires, the
//!   upstream stream is reset, the caller gets DEADLINE_EXCEEDED, and every
//!   other stream on the same upstream connection carries on;
//! - the upstream is told the remaining budget in `grpc-timeout`;
//! - every message's 5-byte prefix is checked as it streams by, in both
//!   directions, without buffering the message: over `max_message_size` is
//!   RESOURCE_EXHAUSTED, a malformed frame is INVALID_ARGUMENT;
//! - a call the upstream never saw (connect failure, REFUSED_STREAM, or a
//!   GOAWAY that left the stream unprocessed) is retried on the next target
//!   while the request body sent so far fits the replay buffer;
//! - the caller going away resets the upstream stream.
//!
//! The chain's hooks run here as in Pingora's pipeline: `upstream_request`
//! before the request goes out, `request_body` per chunk, `response`,
//! `response_body` and `response_trailers` on the way back.
//!
//! gRPC-Web callers (HTTP/1.1 or HTTP/2) take the same loop: their side is
//! translated to native gRPC as the bytes pass ([`web_caller`]), so they get
//! the same deadlines, limits, retries, hooks and metrics. The frame checks
//! and the hooks see native gRPC bytes.

mod caller;
mod frames;
mod open;
mod pump;
mod web_caller;

use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::ServerSession;
use pingora_proxy::Session;
use protogate_core::{CallerProtocol, Code, GatewayError, RequestHeader};
use protogate_metrics::Metrics;

use caller::NativeCaller;
use frames::{Direction, FrameGuard};
use web_caller::WebCaller;

use crate::ctx::RequestCtx;
use crate::respond::write_failure;
use crate::CompiledRoute;

/// The frame checks of both directions; they also count the messages.
pub(crate) struct Guards {
    /// Caller to upstream.
    pub requests: FrameGuard,
    /// Upstream to caller.
    pub responses: FrameGuard,
}

/// Why a forwarded call ended early.
#[derive(Debug)]
pub(crate) enum Ending {
    /// The gateway answers the caller with this error.
    Error(protogate_core::GatewayError),
    /// The caller went away (reset or disconnect): nothing to write back.
    CallerGone,
}

impl From<protogate_core::GatewayError> for Ending {
    fn from(error: protogate_core::GatewayError) -> Self {
        Ending::Error(error)
    }
}

/// Forwards one gRPC or gRPC-Web call and answers the caller whatever happens.
pub(crate) async fn forward(
    session: &mut Session,
    ctx: &mut RequestCtx,
    route: &CompiledRoute,
    pool: &Connector,
    metrics: &Metrics,
) {
    let limit = route
        .grpc
        .as_ref()
        .map_or(protogate_plugin_grpc_proxy::DEFAULT_MAX_MESSAGE_SIZE, |g| {
            g.max_message_size
        });
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let mut guards = Guards {
        requests: FrameGuard::new(limit, Direction::Request),
        responses: FrameGuard::new(limit, Direction::Response),
    };
    let mut request = upstream_header(session.req_header());
    let protocol = ctx.call.protocol;
    let ended = match (protocol, session.downstream_session.as_mut()) {
        (CallerProtocol::Grpc, ServerSession::H2(down)) => {
            let mut caller = NativeCaller::new(down);
            pump::run(&mut caller, request, ctx, route, pool, metrics, &mut guards).await
        }
        (CallerProtocol::GrpcWeb | CallerProtocol::GrpcWebText, down) => {
            WebCaller::upstream_request(&mut request);
            let text = protocol == CallerProtocol::GrpcWebText;
            let mut caller = WebCaller::new(down, text);
            pump::run(&mut caller, request, ctx, route, pool, metrics, &mut guards).await
        }
        _ => Err(Ending::Error(GatewayError::internal(
            "the forwarding loop takes gRPC callers on HTTP/2 and gRPC-Web callers",
        ))),
    };
    if let Some(handles) = &ctx.grpc_metrics {
        handles.messages(guards.requests.messages(), guards.responses.messages());
    }
    match ended {
        Ok(()) => {}
        Err(Ending::Error(error)) => {
            write_failure(session, ctx, &error).await;
        }
        Err(Ending::CallerGone) => {
            ctx.call.grpc_status = Some(Code::Canceled);
        }
    }
}

/// The caller's request header as the start of the upstream's: an HTTP/1.1
/// caller's header keeps a case map the HTTP/2 upstream has no use for, and
/// without it the plugins edit the plain `http` map (cheaper per write).
fn upstream_header(caller: &RequestHeader) -> RequestHeader {
    if caller.has_case() {
        RequestHeader::from(caller.as_owned_parts())
    } else {
        caller.clone()
    }
}
