//! Streaming calls plugins make themselves (server- and client-streaming
//! methods over REST): one HTTP/2 stream to a target of the route's
//! upstream, owned by the plugin's response body until it ends.

use std::future::poll_fn;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::protocols::http::v2::client::Http2Session;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_http::{RequestHeader, ResponseHeader};
use protogate_core::{GatewayError, UpstreamStream};
use protogate_metrics::Metrics;
use tokio::time::Instant;

use crate::connect::{address_request, connect, target_failed};
use crate::deadline::bounded;
use crate::Upstream;

/// An open stream, and what it needs to give its connection back.
pub struct OpenedStream {
    session: Option<Http2Session>,
    peer: Box<HttpPeer>,
    pool: Arc<Connector>,
    upstream: Arc<Upstream>,
    target: Arc<str>,
    deadline: Option<Instant>,
    deadline_from_caller: bool,
}

/// Connects to the next target that accepts (as for a proxied call) and
/// sends the request header, with the remaining budget as `grpc-timeout`.
pub async fn open(
    pool: Arc<Connector>,
    upstream: Arc<Upstream>,
    metrics: &Metrics,
    mut request: RequestHeader,
    deadline: Option<Instant>,
    deadline_from_caller: bool,
) -> Result<OpenedStream, GatewayError> {
    let start = upstream.next_start();
    let connected = connect(&pool, &upstream, metrics, start, start + upstream.len()).await?;
    let target = Arc::clone(&connected.target.label);
    let HttpSession::H2(mut session) = connected.session else {
        pool.release_http_session(connected.session, &*connected.peer, None)
            .await;
        return Err(GatewayError::unavailable(format!(
            "upstream `{}` ({target}) does not speak HTTP/2; streaming calls need it",
            upstream.name
        )));
    };
    address_request(&mut request, &upstream, &target, deadline)?;
    session
        .write_request_header(Box::new(request), false)
        .map_err(|e| target_failed(&upstream, &target, &e))?;
    Ok(OpenedStream {
        session: Some(session),
        peer: connected.peer,
        pool,
        upstream,
        target,
        deadline,
        deadline_from_caller,
    })
}

impl OpenedStream {
    fn session(&mut self) -> Result<&mut Http2Session, GatewayError> {
        self.session
            .as_mut()
            .ok_or_else(|| GatewayError::internal("the upstream stream is already finished"))
    }

    fn fail(&self, e: &pingora_error::Error) -> GatewayError {
        target_failed(&self.upstream, &self.target, e)
    }
}

#[async_trait]
impl UpstreamStream for OpenedStream {
    async fn send(&mut self, data: Bytes, end: bool) -> Result<(), GatewayError> {
        let deadline = self.deadline;
        let from_caller = self.deadline_from_caller;
        let session = self.session()?;
        bounded(deadline, from_caller, session.write_request_body(data, end))
            .await?
            .map_err(|e| self.fail(&e))
    }

    async fn response_header(&mut self) -> Result<ResponseHeader, GatewayError> {
        let deadline = self.deadline;
        let from_caller = self.deadline_from_caller;
        let session = self.session()?;
        let read = poll_fn(|cx| session.poll_read_response_header(cx));
        if let Err(e) = bounded(deadline, from_caller, read).await? {
            return Err(GatewayError::unavailable(format!(
                "upstream `{}` ({}): {e}",
                self.upstream.name, self.target
            )));
        }
        self.session()?
            .response_header()
            .cloned()
            .ok_or_else(|| GatewayError::internal("no response header"))
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, GatewayError> {
        let deadline = self.deadline;
        let from_caller = self.deadline_from_caller;
        let session = self.session()?;
        let read = poll_fn(|cx| session.poll_read_response_body(cx));
        match bounded(deadline, from_caller, read).await? {
            Some(Ok(data)) => Ok(Some(data)),
            Some(Err(e)) => Err(GatewayError::unavailable(format!(
                "upstream `{}` ({}): stream failed: {e}",
                self.upstream.name, self.target
            ))),
            None => Ok(None),
        }
    }

    async fn trailers(&mut self) -> Result<Option<HeaderMap>, GatewayError> {
        let deadline = self.deadline;
        let from_caller = self.deadline_from_caller;
        let session = self.session()?;
        let read = session.read_trailers();
        let trailers = bounded(deadline, from_caller, read)
            .await?
            .map_err(|e| self.fail(&e))?;
        if let Some(session) = self.session.take() {
            self.pool
                .release_http_session(HttpSession::H2(session), &*self.peer, None)
                .await;
        }
        Ok(trailers)
    }
}
