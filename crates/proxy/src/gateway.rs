//! The one `impl ProxyHttp`: each Pingora phase calls the matching hook of
//! the route's plugin chain. Phase by phase:
//!
//! | Pingora phase | what protogate does |
//! |---|---|
//! | `early_request_filter` | classify the caller, take the runtime snapshot, route, count the start |
//! | `request_filter` | no route: UNIMPLEMENTED / 404; else the chain's `request` hooks |
//! | `upstream_peer` | round robin over the upstream's targets (a retry moves on) |
//! | `fail_to_connect` | count the failure, retry on the next target |
//! | `upstream_request_filter` | the chain's `upstream_request` hooks |
//! | `request_body_filter` | the chain's `request_body` hooks |
//! | `upstream_response_filter` / `upstream_response_trailer_filter` | note `grpc-status` |
//! | `response_filter` / `response_body_filter` / `response_trailer_filter` | the chain's response hooks, in reverse |
//! | `fail_to_proxy` | the error in the caller's protocol (trailers-only, trailers, or JSON) |
//! | `logging` | every plugin's `log` hook, then metrics |

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::HeaderMap;
use pingora_core::connectors::http::Connector;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use protogate_core::cors::CorsPolicy;
use protogate_core::{CallInfo, CallerProtocol, Code, Flow, GatewayError, LocalResponse};
use protogate_grpc::status::parse_grpc_status;

use crate::ctx::RequestCtx;
use crate::downstream::SessionDownstream;
use crate::respond::{write_failure, write_local};
use crate::upstream_call::RouteConnector;
use crate::{failure, Runtime};

/// The gateway: a handle on the current runtime, and the connection pool
/// for calls plugins make themselves (kept across reloads).
pub struct Gateway {
    runtime: Arc<ArcSwap<Runtime>>,
    pool: Arc<Connector>,
}

impl Gateway {
    /// A gateway serving `runtime` (swap it through the shared handle to reload).
    pub fn new(runtime: Arc<ArcSwap<Runtime>>) -> Self {
        Self {
            runtime,
            pool: Arc::new(Connector::new(None)),
        }
    }
}

/// Turns a chain error into a Pingora error that `fail_to_proxy` renders.
fn chain_error(error: GatewayError, ctx: &mut RequestCtx) -> Box<Error> {
    let message = error.to_string();
    ctx.call.error = Some(error);
    Error::explain(ErrorType::InternalError, message)
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let runtime = self.runtime.load_full();
        let header = session.req_header();
        let protocol = CallerProtocol::from_content_type(
            header.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
        );
        let mut call = CallInfo::new(protocol);
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        call.client_addr =
            crate::client_addr::resolve(peer, &header.headers, runtime.trusted_proxies());
        let path = header.uri.path();
        let host = header
            .uri
            .host()
            .or_else(|| header.headers.get(HOST).and_then(|h| h.to_str().ok()));
        let request = protogate_router::Request {
            // A browser's CORS preflight carries no content type: route it
            // as the gRPC-Web call it announces, so it reaches the route
            // (and the policy) of that call.
            grpc: protocol.is_grpc() || CorsPolicy::is_preflight(header),
            method: &header.method,
            path,
            host,
            headers: &header.headers,
        };
        let route = runtime
            .table
            .lookup(&request)
            .and_then(|index| runtime.routes.get(*index))
            .cloned();
        if protocol.is_grpc() {
            let (method, metrics) = runtime.grpc_method(path, route.as_deref());
            call.grpc_service = Arc::clone(&method.service);
            call.grpc_method = Arc::clone(&method.method);
            call.rpc_kind = method.kind;
            metrics.started();
            ctx.grpc_metrics = Some(metrics);
        }
        ctx.open_stream = Some(runtime.traffic(route.as_deref()).open_stream());
        if let Some(route) = &route {
            call.route = Some(Arc::clone(&route.name));
            call.upstream = Some(Arc::clone(&route.upstream.name));
            ctx.slots = route.chain.new_slots();
        }
        ctx.call = call;
        ctx.route = route;
        ctx.runtime = Some(runtime);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        let Some(route) = ctx.route.clone() else {
            let header = session.req_header();
            let message = if ctx.call.protocol.is_grpc() {
                format!("unknown service or method: {}", header.uri.path())
            } else {
                format!("no route for {} {}", header.method, header.uri.path())
            };
            write_local(
                session,
                ctx,
                LocalResponse::Error(GatewayError::no_route(message)),
            )
            .await;
            return Ok(true);
        };
        let flow = {
            let Some(runtime) = ctx.runtime.clone() else {
                return Error::e_explain(ErrorType::InternalError, "no runtime snapshot");
            };
            let connector = RouteConnector {
                pool: Arc::clone(&self.pool),
                upstream: Arc::clone(&route.upstream),
                metrics: Arc::clone(runtime.metrics()),
                timeout: route.default_timeout(),
            };
            let mut downstream = SessionDownstream(session);
            route
                .chain
                .request(
                    &mut ctx.slots,
                    &mut ctx.call,
                    &mut downstream,
                    Some(&connector),
                )
                .await
        };
        match flow {
            Ok(Flow::Continue) => {
                route.chain.mark_request_complete(&mut ctx.slots);
                if forwards_natively(&route, ctx, session) {
                    let Some(runtime) = ctx.runtime.clone() else {
                        return Error::e_explain(ErrorType::InternalError, "no runtime snapshot");
                    };
                    crate::grpc_forward::forward(
                        session,
                        ctx,
                        &route,
                        &self.pool,
                        runtime.metrics(),
                    )
                    .await;
                    return Ok(true);
                }
                Ok(false)
            }
            Ok(Flow::Respond(answer)) => {
                write_local(session, ctx, answer).await;
                Ok(true)
            }
            Err(error) => {
                write_local(session, ctx, LocalResponse::Error(error)).await;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let Some(route) = &ctx.route else {
            return Error::e_explain(ErrorType::InternalError, "no route at upstream selection");
        };
        let upstream = &route.upstream;
        if ctx.attempts == 0 {
            ctx.walk_start = upstream.next_start();
        }
        // The next target of the walk that passes its health check.
        while ctx.attempts < upstream.len() {
            let Some(target) = upstream.target(ctx.walk_start.wrapping_add(ctx.attempts)) else {
                return Error::e_explain(ErrorType::InternalError, "upstream has no targets");
            };
            ctx.attempts += 1;
            if target.is_healthy() {
                ctx.target = Some(Arc::clone(&target.label));
                return Ok(target.peer());
            }
        }
        Error::e_explain(
            ErrorType::Custom(crate::failure::NO_HEALTHY_TARGET),
            "every target is failing its health check",
        )
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let (Some(route), Some(runtime), Some(target)) = (&ctx.route, &ctx.runtime, &ctx.target)
        {
            runtime
                .metrics()
                .upstream_connect_failure(&route.upstream.name, target);
            // The request never reached this target: try the next one, once
            // per remaining target.
            if ctx.attempts < route.upstream.len() {
                e.set_retry(true);
            }
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.call.upstream_sent = Some(std::time::Instant::now());
        let Some(route) = ctx.route.clone() else {
            return Ok(());
        };
        route
            .chain
            .upstream_request(&mut ctx.slots, &mut ctx.call, upstream_request)
            .map_err(|e| chain_error(e, ctx))
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(route) = ctx.route.clone() else {
            return Ok(());
        };
        // Pingora 0.9.1 sends the chunked terminator twice when an HTTP/2
        // caller's empty final chunk goes to an HTTP/1.1 upstream (pingora
        // issue 935); dropping the empty chunk keeps the connection clean.
        if end_of_stream && !route.upstream.is_grpc() && body.as_ref().is_some_and(Bytes::is_empty)
        {
            *body = None;
        }
        route
            .chain
            .request_body(&mut ctx.slots, &mut ctx.call, body, end_of_stream)
            .map_err(|e| chain_error(e, ctx))
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.call.upstream_answered = Some(std::time::Instant::now());
        if let Some(status) = upstream_response.headers.get("grpc-status") {
            ctx.call.grpc_status = parse_grpc_status(status.as_bytes());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.call.http_status = Some(response.status.as_u16());
        let Some(route) = ctx.route.clone() else {
            return Ok(());
        };
        route
            .chain
            .response(&mut ctx.slots, &mut ctx.call, response)
            .map_err(|e| chain_error(e, ctx))
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        if end_of_stream {
            ctx.call.upstream_finished = Some(std::time::Instant::now());
        }
        Ok(None)
    }

    fn upstream_response_trailer_filter(
        &self,
        _session: &mut Session,
        trailers: &mut HeaderMap,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.call.upstream_finished = Some(std::time::Instant::now());
        if let Some(status) = trailers.get("grpc-status") {
            ctx.call.grpc_status = parse_grpc_status(status.as_bytes());
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        let Some(route) = ctx.route.clone() else {
            return Ok(None);
        };
        route
            .chain
            .response_body(&mut ctx.slots, &mut ctx.call, body, end_of_stream)
            .map_err(|e| chain_error(e, ctx))?;
        Ok(None)
    }

    async fn response_trailer_filter(
        &self,
        _session: &mut Session,
        trailers: &mut HeaderMap,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Bytes>> {
        let Some(route) = ctx.route.clone() else {
            return Ok(None);
        };
        route
            .chain
            .response_trailers(&mut ctx.slots, &mut ctx.call, trailers)
            .map_err(|e| chain_error(e, ctx))?;
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        // A plugin's own error travels inside the Pingora error; prefer it.
        let error = match ctx.call.error.clone() {
            Some(error) => Some(error),
            None => failure::classify(e, ctx),
        };
        let error_code = match error {
            Some(error) => write_failure(session, ctx, &error).await,
            None => {
                // The caller went away: count it as CANCELLED, write nothing.
                ctx.call.grpc_status = Some(Code::Canceled);
                0
            }
        };
        FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        if let Some(route) = ctx.route.clone() {
            route.chain.log(&mut ctx.slots, &ctx.call);
        }
        let ended = std::time::Instant::now();
        let elapsed = ended.saturating_duration_since(ctx.call.started);
        crate::access_log::write(session, &ctx.call, elapsed);
        if let Some(runtime) = &ctx.runtime {
            runtime.traffic(ctx.route.as_deref()).finished(
                session.body_bytes_read(),
                session.body_bytes_sent(),
                ctx.call.upstream_latency(),
                ctx.call.gateway_overhead(ended),
            );
        }
        if let Some(metrics) = &ctx.grpc_metrics {
            metrics.handled(final_grpc_code(&ctx.call, e), elapsed);
        } else if let Some(runtime) = &ctx.runtime {
            let status = ctx
                .call
                .http_status
                .or_else(|| session.response_written().map(|r| r.status.as_u16()))
                .unwrap_or(0);
            let route = ctx.call.route.as_deref().unwrap_or("");
            runtime.metrics().http_request(route, status, elapsed);
        }
    }
}

/// Native gRPC callers on HTTP/2 and gRPC-Web callers to a `grpc_proxy`
/// route with a gRPC upstream go through the gateway's own forwarding loop
/// (deadlines, message limits, safe retries, gRPC-Web translation);
/// everything else rides Pingora's pipeline.
fn forwards_natively(route: &crate::CompiledRoute, ctx: &RequestCtx, session: &Session) -> bool {
    let caller_fits = match ctx.call.protocol {
        CallerProtocol::Grpc => session.req_header().version == http::Version::HTTP_2,
        CallerProtocol::GrpcWeb | CallerProtocol::GrpcWebText => true,
        _ => false,
    };
    caller_fits && route.grpc.is_some() && route.upstream.is_grpc()
}

/// The code a gRPC call ended with: the upstream's or the gateway's
/// `grpc-status`; else what the HTTP status implies; else UNKNOWN.
fn final_grpc_code(call: &CallInfo, error: Option<&Error>) -> Code {
    if let Some(code) = call.grpc_status {
        return code;
    }
    if error.is_some() {
        return Code::Unknown;
    }
    match call.http_status {
        Some(200) | None => Code::Unknown,
        Some(status) => Code::from_http_status(status),
    }
}
