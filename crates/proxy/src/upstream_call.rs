//! Calls plugins make outside Pingora's pipeline, over a pooled connector.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::HeaderValue;
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_http::RequestHeader;
use protogate_core::{CallInfo, GatewayError, UpstreamConnector, UpstreamResponse};
use protogate_grpc::status::parse_grpc_status;
use protogate_metrics::Metrics;

use crate::connect::{connect, Connected};
use crate::upstream::Target;
use crate::Upstream;

/// The route's upstream, as a plugin's out-of-pipeline call sees it: the
/// same targets, round robin and connect-failure retries as a proxied
/// call, over a pool of connections shared by every such call.
pub struct RouteConnector<'a> {
    /// The shared connection pool.
    pub pool: &'a Connector,
    /// The route's upstream.
    pub upstream: &'a Upstream,
    /// Where connect failures are counted.
    pub metrics: &'a Arc<Metrics>,
}

#[async_trait]
impl UpstreamConnector for RouteConnector<'_> {
    async fn send(
        &self,
        call: &mut CallInfo,
        mut request: RequestHeader,
        body: Bytes,
    ) -> Result<UpstreamResponse, GatewayError> {
        let start = self.upstream.next_start();
        let Connected {
            mut session,
            peer,
            target,
            ..
        } = connect(
            self.pool,
            self.upstream,
            self.metrics,
            start,
            start + self.upstream.len(),
        )
        .await?;
        if request.headers.get(HOST).is_none() && request.uri.authority().is_none() {
            let host = HeaderValue::from_str(&target.label)
                .map_err(|e| GatewayError::internal(format!("bad target name: {e}")))?;
            request
                .insert_header(HOST, host)
                .map_err(|e| GatewayError::internal(e.to_string()))?;
        }
        let response = exchange(&mut session, request, body)
            .await
            .map_err(|e| failed(self.upstream, target, &e))?;
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
        Ok(response)
    }
}

/// One request and its whole answer on an established session.
async fn exchange(
    session: &mut HttpSession,
    request: RequestHeader,
    body: Bytes,
) -> pingora_error::Result<UpstreamResponse> {
    session.write_request_header(Box::new(request)).await?;
    session.write_request_body(body, true).await?;
    session.finish_request_body().await?;
    session.read_response_header().await?;
    let mut collected = BytesMut::new();
    while let Some(chunk) = session.read_response_body().await? {
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

fn failed(upstream: &Upstream, target: &Target, error: &pingora_error::Error) -> GatewayError {
    GatewayError::unavailable(format!(
        "upstream `{}` ({}): {}",
        upstream.name,
        target.label,
        error.etype().as_str()
    ))
}
