//! Connecting to an upstream's targets from the shared pool: round robin,
//! with a connect failure moving on to the next target.

use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::upstreams::peer::HttpPeer;
use protogate_core::GatewayError;
use protogate_metrics::Metrics;

use crate::upstream::Target;
use crate::Upstream;

/// A pooled connection to one target.
pub(crate) struct Connected<'u> {
    /// The session (a new stream for HTTP/2).
    pub session: HttpSession,
    /// The peer it is keyed by in the pool.
    pub peer: Box<HttpPeer>,
    /// The target.
    pub target: &'u Target,
    /// The walk position it was found at; the next attempt starts after it.
    pub position: usize,
}

/// Walks the targets at positions `from..until` (modulo the target count)
/// until one accepts a connection. A target that fails to connect never saw
/// the call, so moving on is always safe; every failure is counted.
pub(crate) async fn connect<'u>(
    pool: &Connector,
    upstream: &'u Upstream,
    metrics: &Metrics,
    from: usize,
    until: usize,
) -> Result<Connected<'u>, GatewayError> {
    let mut last_failure = String::from("no targets");
    let mut failing_checks = 0;
    for position in from..until {
        let Some(target) = upstream.target(position) else {
            break;
        };
        if !target.is_healthy() {
            failing_checks += 1;
            continue;
        }
        let peer = target.peer();
        // Boxed: with Pingora's rustls feature the connect future holds a
        // whole TLS client state inline (tens of KB), and every future
        // that awaits it, up to the call's deadline wrapper, would carry
        // and move that state: 17,000 instructions of memcpy per call.
        match Box::pin(pool.get_http_session(&*peer)).await {
            Ok((session, _reused)) => {
                return Ok(Connected {
                    session,
                    peer,
                    target,
                    position,
                })
            }
            Err(e) => {
                metrics.upstream_connect_failure(&upstream.name, &target.label);
                last_failure = format!("{}: {}", target.label, failure_reason(&e));
            }
        }
    }
    if failing_checks > 0 && failing_checks == until.saturating_sub(from) {
        return Err(GatewayError::unavailable(format!(
            "upstream `{}`: every target is failing its health check",
            upstream.name
        )));
    }
    Err(GatewayError::unavailable(format!(
        "upstream `{}` unreachable ({last_failure})",
        upstream.name
    )))
}

/// Readies `request` for the target at `label`: a `host` when the caller
/// sent none, and for gRPC upstreams the budget left until `deadline` as
/// `grpc-timeout`.
pub(crate) fn address_request(
    request: &mut pingora_http::RequestHeader,
    upstream: &Upstream,
    label: &str,
    deadline: Option<tokio::time::Instant>,
) -> Result<(), GatewayError> {
    if request.headers.get(http::header::HOST).is_none() && request.uri.authority().is_none() {
        let host = http::HeaderValue::from_str(label)
            .map_err(|e| GatewayError::internal(format!("bad target name: {e}")))?;
        request
            .insert_header(http::header::HOST, host)
            .map_err(|e| GatewayError::internal(e.to_string()))?;
    }
    if let Some(deadline) = deadline {
        if upstream.is_grpc() {
            crate::deadline::tell_upstream(request, deadline)?;
        }
    }
    Ok(())
}

/// UNAVAILABLE for a call that failed on the target at `label`.
pub(crate) fn target_failed(
    upstream: &Upstream,
    label: &str,
    error: &pingora_error::Error,
) -> GatewayError {
    GatewayError::unavailable(format!(
        "upstream `{}` ({label}): {}",
        upstream.name,
        failure_reason(error)
    ))
}

/// A failure in words: Pingora's error type and what caused it (the
/// certificate problem or TLS alert, the operating system's error), so
/// "TLSHandshakeFailure" says which check failed.
pub(crate) fn failure_reason(error: &pingora_error::Error) -> String {
    let mut reason = error.etype().as_str().to_owned();
    // The context and the cause (often another Pingora error, printed
    // with its own context and cause): the certificate check that failed
    // is in there.
    if let Some(context) = &error.context {
        reason.push_str(": ");
        reason.push_str(context.as_str());
    }
    if let Some(cause) = &error.cause {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
    }
    reason
}
