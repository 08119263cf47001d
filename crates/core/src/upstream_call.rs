//! Calls a plugin makes itself, outside Pingora's proxy pipeline.
//!
//! Some calls cannot ride the pipeline: the transcoder must read the whole
//! upstream answer (status from trailers, a body for a GET) before it writes
//! anything. It asks [`RequestCx::call_upstream`], which sends the request
//! through the same machinery as a proxied call (the route's upstream, its
//! pooled connections, target choice and retries, see
//! [`UpstreamConnector`]) and runs the rest of the chain around it:
//!
//! - every other plugin's `upstream_request` hook, in order, on the request;
//! - every other plugin's `response_trailers` hook, in reverse, on the
//!   upstream's trailers (tracing and metrics see the `grpc-status`);
//! - the `response` hooks run once, on the answer the caller finally gets
//!   (the plugin's [`crate::LocalResponse`]), so a header rule applies to
//!   what the client sees and never twice;
//! - every plugin's `log` hook runs at the end of the call, as always.

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora_http::{RequestHeader, ResponseHeader};

use crate::chain::Slots;
use crate::{CallInfo, Chain, Downstream, GatewayError};

/// The upstream's complete answer to a call a plugin made itself.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// The response header.
    pub header: ResponseHeader,
    /// The whole body.
    pub body: Bytes,
    /// Trailers, when the upstream sent them (HTTP/2).
    pub trailers: Option<HeaderMap>,
}

/// Limits on one out-of-pipeline call.
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    /// The largest response body read; a larger one fails the call with
    /// RESOURCE_EXHAUSTED (HTTP 502: the upstream, not the caller, is at fault).
    pub max_response_bytes: usize,
}

/// A call to the upstream whose request and response stream: for
/// streaming methods over REST. Every operation is bounded by the call's
/// deadline (DEADLINE_EXCEEDED when it passes); dropping the stream before
/// its end resets it, which cancels the upstream call.
#[async_trait]
pub trait UpstreamStream: Send {
    /// Sends one chunk of the request body; `end` closes the request side.
    /// Waits for HTTP/2 flow control, so a slow upstream slows the caller.
    async fn send(&mut self, data: Bytes, end: bool) -> Result<(), GatewayError>;
    /// Waits for the response header.
    async fn response_header(&mut self) -> Result<ResponseHeader, GatewayError>;
    /// The next response body chunk, as it arrives; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, GatewayError>;
    /// After the body: the trailers (HTTP/2), and the connection goes back
    /// to the pool.
    async fn trailers(&mut self) -> Result<Option<HeaderMap>, GatewayError>;
}

/// Sends one complete request to the route's upstream: implemented by the
/// proxy over Pingora's pooled connector.
#[async_trait]
pub trait UpstreamConnector: Send + Sync {
    /// Opens a streaming call: the request header is sent, the body and the
    /// answer stream through the returned handle. Connect failures move on
    /// to the next target, as for [`UpstreamConnector::send`]; the deadline
    /// rules are the same, for the life of the stream.
    async fn open(
        &self,
        call: &mut CallInfo,
        request: RequestHeader,
    ) -> Result<Box<dyn UpstreamStream>, GatewayError>;

    /// Sends `request` with `body` and reads the whole answer. Connect
    /// failures move on to the next target; any other failure is
    /// UNAVAILABLE. The call's deadline is the route's timeout, shortened
    /// by a `grpc-timeout` the request carries; it is sent upstream as
    /// `grpc-timeout` and ends the call with DEADLINE_EXCEEDED when it passes.
    async fn send(
        &self,
        call: &mut CallInfo,
        request: RequestHeader,
        body: Bytes,
        limits: CallLimits,
    ) -> Result<UpstreamResponse, GatewayError>;
}

/// What a request hook works with: the call, the caller's side, and the
/// way to the upstream.
pub struct RequestCx<'a> {
    /// The call's facts.
    pub call: &'a mut CallInfo,
    /// The caller's side: its request header and body.
    pub downstream: &'a mut dyn Downstream,
    pub(crate) chain: &'a Chain,
    pub(crate) slots: &'a mut Slots,
    pub(crate) position: usize,
    pub(crate) connector: Option<&'a dyn UpstreamConnector>,
}

impl RequestCx<'_> {
    /// Makes a complete call to the route's upstream (see the module docs
    /// for which hooks run). The hook that calls this owns the call: it must
    /// answer the caller itself with [`crate::Flow::Respond`].
    pub async fn call_upstream(
        &mut self,
        mut request: RequestHeader,
        body: Bytes,
        limits: CallLimits,
    ) -> Result<UpstreamResponse, GatewayError> {
        let connector = self
            .connector
            .ok_or_else(|| GatewayError::internal("this call has no upstream to call"))?;
        self.chain
            .upstream_request_except(self.slots, self.call, &mut request, self.position)?;
        let mut response = connector.send(self.call, request, body, limits).await?;
        if let Some(trailers) = response.trailers.as_mut() {
            self.chain
                .response_trailers_except(self.slots, self.call, trailers, self.position)?;
        }
        Ok(response)
    }

    /// Runs every other plugin's `response_trailers` hook on the trailers of
    /// a streaming call the plugin reads to the end itself (a
    /// client-streaming call answered with one message).
    pub fn trailer_hooks(&mut self, trailers: &mut HeaderMap) -> Result<(), GatewayError> {
        self.chain
            .response_trailers_except(self.slots, self.call, trailers, self.position)
    }

    /// Opens a streaming call to the route's upstream, after every other
    /// plugin's `upstream_request` hook. The answer goes back to the caller
    /// as a [`crate::LocalResponse::Stream`]; the proxy runs the other
    /// plugins' `response_trailers` hooks on the trailers the stream
    /// reports at its end ([`crate::ResponseStream::take_trailers`]).
    pub async fn open_upstream(
        &mut self,
        mut request: RequestHeader,
    ) -> Result<Box<dyn UpstreamStream>, GatewayError> {
        let connector = self
            .connector
            .ok_or_else(|| GatewayError::internal("this call has no upstream to call"))?;
        self.chain
            .upstream_request_except(self.slots, self.call, &mut request, self.position)?;
        connector.open(self.call, request).await
    }
}
