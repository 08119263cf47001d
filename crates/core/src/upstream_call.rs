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

/// Sends one complete request to the route's upstream: implemented by the
/// proxy over Pingora's pooled connector.
#[async_trait]
pub trait UpstreamConnector: Send + Sync {
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
}
