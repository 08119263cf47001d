//! Opening the upstream stream: target choice, connect-failure retries.

use std::sync::Arc;

use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::protocols::http::v2::client::Http2Session;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::RequestHeader;
use protogate_core::GatewayError;
use protogate_metrics::Metrics;

use crate::connect::connect;
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

/// Opens a stream on the first target from `start` that accepts a
/// connection and the request header. A header that cannot be sent (the
/// pooled connection just closed) means the call never left: the walk goes
/// on to the next target.
pub async fn open_stream(
    pool: &Connector,
    upstream: &Upstream,
    metrics: &Metrics,
    start: usize,
    request: &RequestHeader,
    end_of_stream: bool,
) -> Result<OpenStream, GatewayError> {
    let until = start.wrapping_add(upstream.len());
    let mut from = start;
    loop {
        let connected = connect(pool, upstream, metrics, from, until).await?;
        from = connected.position + 1;
        let HttpSession::H2(mut session) = connected.session else {
            pool.release_http_session(connected.session, &*connected.peer, None)
                .await;
            return Err(GatewayError::unavailable(format!(
                "upstream `{}` ({}) did not speak HTTP/2",
                upstream.name, connected.target.label
            )));
        };
        if session
            .write_request_header(Box::new(request.clone()), end_of_stream)
            .is_ok()
        {
            return Ok(OpenStream {
                session,
                peer: connected.peer,
                target: Arc::clone(&connected.target.label),
            });
        }
    }
}
