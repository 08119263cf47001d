//! Calls plugins make outside Pingora's pipeline, over a pooled connector.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_http::RequestHeader;
use protogate_config::Timeout;
use protogate_core::{
    CallInfo, CallLimits, GatewayError, UpstreamConnector, UpstreamResponse, UpstreamStream,
};
use protogate_grpc::status::parse_grpc_status;
use protogate_metrics::Metrics;

use crate::connect::{address_request, connect, target_failed, Connected};
use crate::deadline::{bounded, call_deadline};
use crate::Upstream;

/// The route's upstream, as a plugin's out-of-pipeline call sees it: the
/// same targets, round robin and connect-failure retries as a proxied
/// call, over a pool of connections shared by every such call, and the
/// same deadline rules as the gRPC forwarding loop.
pub struct RouteConnector {
    /// The shared connection pool.
    pub pool: Arc<Connector>,
    /// The route's upstream.
    pub upstream: Arc<Upstream>,
    /// Where connect failures are counted.
    pub metrics: Arc<Metrics>,
    /// The route's timeout (else the upstream's): the cap for a call whose
    /// request carries no `grpc-timeout`.
    pub timeout: Timeout,
}

#[async_trait]
impl UpstreamConnector for RouteConnector {
    async fn open(
        &self,
        call: &mut CallInfo,
        request: RequestHeader,
    ) -> Result<Box<dyn UpstreamStream>, GatewayError> {
        call.upstream_sent = Some(std::time::Instant::now());
        let from_caller = request.headers.contains_key("grpc-timeout");
        let deadline = call_deadline(&request, tokio::time::Instant::now(), self.timeout)?;
        let opening = crate::upstream_stream::open(
            Arc::clone(&self.pool),
            Arc::clone(&self.upstream),
            &self.metrics,
            request,
            deadline,
            from_caller,
        );
        let stream = bounded(deadline, from_caller, opening).await??;
        Ok(Box::new(stream))
    }

    async fn send(
        &self,
        call: &mut CallInfo,
        request: RequestHeader,
        body: Bytes,
        limits: CallLimits,
    ) -> Result<UpstreamResponse, GatewayError> {
        let from_caller = request.headers.contains_key("grpc-timeout");
        let deadline = call_deadline(&request, tokio::time::Instant::now(), self.timeout)?;
        call.upstream_sent = Some(std::time::Instant::now());
        let answer = bounded(
            deadline,
            from_caller,
            self.call(call, request, body, limits, deadline),
        )
        .await?;
        if answer.is_ok() {
            let now = std::time::Instant::now();
            call.upstream_answered = Some(now);
            call.upstream_finished = Some(now);
        }
        answer
    }
}

impl RouteConnector {
    /// Connects (moving on past targets that refuse to connect), sends, and
    /// reads the whole answer. A stream the upstream refused unprocessed
    /// (REFUSED_STREAM, or cut by a GOAWAY before it was processed) never
    /// reached the application: the whole request is in hand, so it goes to
    /// the next target. Runs under the deadline set by `send`.
    async fn call(
        &self,
        call: &mut CallInfo,
        request: RequestHeader,
        body: Bytes,
        limits: CallLimits,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<UpstreamResponse, GatewayError> {
        let start = self.upstream.next_start();
        let until = start + self.upstream.len();
        let mut from = start;
        let mut request = Some(request);
        loop {
            let Connected {
                mut session,
                peer,
                target,
                position,
            } = connect(&self.pool, &self.upstream, &self.metrics, from, until).await?;
            // Keep a copy only while another target could take a retry.
            let mut attempt = if position + 1 < until {
                request.clone()
            } else {
                request.take()
            }
            .ok_or_else(|| GatewayError::internal("the request was already sent"))?;
            address_request(&mut attempt, &self.upstream, &target.label, deadline)?;
            match exchange(
                &mut session,
                attempt,
                body.clone(),
                limits.max_response_bytes,
            )
            .await
            {
                Ok(response) => {
                    if let Some(status) = response
                        .trailers
                        .as_ref()
                        .and_then(|t| t.get("grpc-status"))
                        .or_else(|| response.header.headers.get("grpc-status"))
                    {
                        call.grpc_status = parse_grpc_status(status.as_bytes());
                    }
                    if session.response_done() {
                        self.pool.release_http_session(session, &*peer, None).await;
                    }
                    return Ok(response);
                }
                Err(Exchange::Failed(e)) if never_processed(&e) && position + 1 < until => {
                    from = position + 1;
                }
                Err(Exchange::Failed(e)) => {
                    return Err(target_failed(&self.upstream, &target.label, &e))
                }
                Err(Exchange::TooLarge) => {
                    return Err(too_large(&self.upstream, limits.max_response_bytes))
                }
            }
        }
    }
}

/// True when the upstream refused the stream before processing it, so
/// sending the request elsewhere cannot run it twice.
fn never_processed(error: &pingora_error::Error) -> bool {
    let Some(h2_error) = error.root_cause().downcast_ref::<h2::Error>() else {
        return false;
    };
    h2_error.is_remote()
        && (h2_error.reason() == Some(h2::Reason::REFUSED_STREAM) || h2_error.is_go_away())
}

/// Why an exchange failed.
pub(crate) enum Exchange {
    /// The connection or the upstream failed.
    Failed(Box<pingora_error::Error>),
    /// The response body grew past the call's limit.
    TooLarge,
}

impl From<Box<pingora_error::Error>> for Exchange {
    fn from(e: Box<pingora_error::Error>) -> Self {
        Exchange::Failed(e)
    }
}

/// One request and its whole answer (at most `max_body` bytes of body) on
/// an established session.
pub(crate) async fn exchange(
    session: &mut HttpSession,
    request: RequestHeader,
    body: Bytes,
    max_body: usize,
) -> Result<UpstreamResponse, Exchange> {
    match session {
        HttpSession::H2(h2) => {
            // Queue HEADERS and the whole body (with END_STREAM) before the
            // connection task runs, so both leave in one write. Pingora's
            // `write_request_body` waits for flow-control capacity first,
            // which lets the connection task flush HEADERS on its own; h2
            // buffers data sent ahead of capacity and sends it as the
            // window allows, and the body is in memory anyway.
            h2.write_request_header(Box::new(request), body.is_empty())?;
            if !body.is_empty() {
                let mut writer = h2.take_request_body_writer().ok_or_else(|| {
                    pingora_error::Error::explain(
                        pingora_error::ErrorType::WriteError,
                        "no h2 request body writer",
                    )
                })?;
                writer.send_data(body, true).map_err(|e| {
                    pingora_error::Error::because(
                        pingora_error::ErrorType::WriteError,
                        "while writing the h2 request body",
                        e,
                    )
                })?;
            }
        }
        _ => {
            session.write_request_header(Box::new(request)).await?;
            session.write_request_body(body, true).await?;
            session.finish_request_body().await?;
        }
    }
    session.read_response_header().await?;
    let mut collected = BytesMut::new();
    while let Some(chunk) = session.read_response_body().await? {
        if collected.len() + chunk.len() > max_body {
            return Err(Exchange::TooLarge);
        }
        collected.extend_from_slice(&chunk);
    }
    let trailers = match session {
        HttpSession::H2(h2) => h2.read_trailers().await?,
        _ => None,
    };
    let header = session.response_header().cloned().ok_or_else(|| {
        pingora_error::Error::explain(
            pingora_error::ErrorType::InvalidHTTPHeader,
            "no response header",
        )
    })?;
    Ok(UpstreamResponse {
        header,
        body: collected.freeze(),
        trailers,
    })
}

fn too_large(upstream: &Upstream, limit: usize) -> GatewayError {
    GatewayError::new(
        protogate_core::Code::ResourceExhausted,
        format!(
            "the response of upstream `{}` is larger than the route's limit of {limit} bytes",
            upstream.name
        ),
    )
    .with_http_status(502)
}
