//! Opening the upstream stream: target choice, connect-failure retries.

use std::sync::Arc;

use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::protocols::http::v2::client::Http2Session;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use protogate_core::GatewayError;
use protogate_metrics::Metrics;

use crate::Upstream;

/// An HTTP/2 stream to one target, with what is needed to give the
/// connection back to the pool.
pub struct OpenStream {
    /// The client side of the stream.
    pub session: Http2Session,
    /// The peer it was opened on (the pool's key).
    pub peer: Box<HttpPeer>,
    /// `host:port` of the target, for messages.
    pub target: Arc<str>,
}

/// Walks the upstream's targets from a round-robin start until one accepts
/// a connection, then sends the request header on a new stream. A target
/// that fails to connect never saw the call, so moving on is always safe.
pub async fn open_stream(
    pool: &Connector,
    upstream: &Upstream,
    metrics: &Metrics,
    start: usize,
    request: &RequestHeader,
    end_of_stream: bool,
) -> Result<OpenStream, GatewayError> {
    let mut last_failure = String::from("no targets");
    for attempt in 0..upstream.len() {
        let Some(target) = upstream.target(start.wrapping_add(attempt)) else {
            break;
        };
        let peer = target.peer();
        let mut session = match pool.get_http_session(&*peer).await {
            Ok((HttpSession::H2(session), _reused)) => session,
            Ok((other, _)) => {
                pool.release_http_session(other, &*peer, None).await;
                return Err(GatewayError::unavailable(format!(
                    "upstream `{}` ({}) did not speak HTTP/2",
                    upstream.name, target.label
                )));
            }
            Err(e) => {
                metrics.upstream_connect_failure(&upstream.name, &target.label);
                last_failure = format!("{}: {}", target.label, e.etype().as_str());
                continue;
            }
        };
        if let Err(e) = session.write_request_header(Box::new(request.clone()), end_of_stream) {
            // The stream could not even start (e.g. the connection just
            // closed): the call never left, try the next target.
            last_failure = format!("{}: {}", target.label, e.etype().as_str());
            continue;
        }
        return Ok(OpenStream {
            session,
            peer,
            target: Arc::clone(&target.label),
        });
    }
    Err(GatewayError::unavailable(format!(
        "upstream `{}` unreachable ({last_failure})",
        upstream.name
    )))
}
