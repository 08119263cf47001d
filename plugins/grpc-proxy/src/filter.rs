//! The `grpc_proxy` hooks.

use async_trait::async_trait;
use http::{HeaderValue, Version};
use protogate_core::{
    CallInfo, CallerProtocol, Code, Flow, GatewayError, Hooks, LocalResponse, Plugin, RequestCx,
    RequestHeader,
};

use crate::GrpcProxyConfig;

/// The pass-through plugin for one route.
#[derive(Debug, Clone)]
pub struct GrpcProxy {
    _config: GrpcProxyConfig,
}

impl GrpcProxy {
    /// Builds the plugin from its decoded configuration.
    pub fn new(config: GrpcProxyConfig) -> Self {
        Self { _config: config }
    }
}

#[async_trait]
impl Plugin for GrpcProxy {
    type State = ();

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::REQUEST | Hooks::UPSTREAM_REQUEST
    }

    /// Native gRPC over HTTP/1.x cannot carry trailers (so no `grpc-status`
    /// would ever arrive): refuse it up front with a message that says what
    /// to use instead. gRPC-Web is built for HTTP/1.1 and passes.
    async fn request(&self, _state: &mut (), cx: &mut RequestCx<'_>) -> Result<Flow, GatewayError> {
        let version = cx.downstream.req_header().version;
        if cx.call.protocol == CallerProtocol::Grpc && version != Version::HTTP_2 {
            let error = GatewayError::new(
                Code::Internal,
                "gRPC needs HTTP/2 (h2c or TLS with ALPN h2); HTTP/1.1 clients can use gRPC-Web",
            );
            return Ok(Flow::Respond(LocalResponse::Error(error)));
        }
        Ok(Flow::Continue)
    }

    /// gRPC servers may insist on `te: trailers`; Pingora drops it as a
    /// hop-by-hop header when the caller spoke HTTP/1.1 (gRPC-Web).
    fn upstream_request(
        &self,
        _state: &mut (),
        _call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        request
            .insert_header(http::header::TE, HeaderValue::from_static("trailers"))
            .map_err(|e| GatewayError::internal(format!("cannot set te: trailers: {e}")))
    }
}
