//! The caller's side of a call, as plugins see it.

use async_trait::async_trait;
use bytes::Bytes;
use pingora_http::RequestHeader;
use pingora_proxy::Session;
use protogate_core::{Code, Downstream, GatewayError};

/// Wraps Pingora's session for the request hooks.
pub struct SessionDownstream<'a>(pub &'a mut Session);

#[async_trait]
impl Downstream for SessionDownstream<'_> {
    fn req_header(&self) -> &RequestHeader {
        self.0.req_header()
    }

    fn req_header_mut(&mut self) -> &mut RequestHeader {
        self.0.req_header_mut()
    }

    async fn read_body(&mut self) -> Result<Option<Bytes>, GatewayError> {
        self.0
            .downstream_session
            .read_request_body()
            .await
            .map_err(|e| {
                GatewayError::new(
                    Code::Canceled,
                    format!("reading the request body failed: {e}"),
                )
            })
    }
}
