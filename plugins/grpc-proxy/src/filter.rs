//! The `grpc_proxy` hooks.

use async_trait::async_trait;
use bytes::Bytes;
use http::header::ACCESS_CONTROL_EXPOSE_HEADERS;
use http::{HeaderName, HeaderValue, Version};
use protogate_core::cors::CorsPolicy;
use protogate_core::{
    CallInfo, CallerProtocol, Code, Flow, GatewayError, Hooks, LocalResponse, Plugin, RequestCx,
    RequestHeader, ResponseHeader,
};

use crate::config::GrpcWebConfig;
use crate::GrpcProxyConfig;

/// The pass-through plugin for one route.
#[derive(Debug, Clone)]
pub struct GrpcProxy {
    grpc_web: Option<GrpcWebConfig>,
}

impl GrpcProxy {
    /// Builds the plugin from its decoded configuration.
    pub fn new(config: GrpcProxyConfig) -> Self {
        Self {
            grpc_web: config.grpc_web,
        }
    }

    fn cors(&self) -> Option<&CorsPolicy> {
        self.grpc_web.as_ref()?.cors.as_ref()
    }

    /// The answer to a browser's CORS preflight for a gRPC-Web call.
    fn preflight(&self, request: &RequestHeader) -> LocalResponse {
        let refused = |message: &'static str| {
            LocalResponse::Error(GatewayError::new(Code::PermissionDenied, message))
        };
        if self.grpc_web.is_none() {
            return refused("gRPC-Web is turned off on this route (grpc_proxy.grpc_web: false)");
        }
        let Some(cors) = self.cors() else {
            return refused(
                "cross-origin gRPC-Web is turned off on this route (grpc_proxy.grpc_web.cors: false)",
            );
        };
        match cors.preflight(request) {
            Ok(header) => LocalResponse::Http {
                header: Box::new(header),
                body: Bytes::new(),
            },
            Err(error) => LocalResponse::Error(error),
        }
    }
}

/// Per call: the CORS headers its answer carries (gRPC-Web callers from an
/// allowed origin only).
#[derive(Debug, Default)]
pub struct CallState {
    cors_headers: Vec<(HeaderName, HeaderValue)>,
}

#[async_trait]
impl Plugin for GrpcProxy {
    type State = CallState;

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::REQUEST | Hooks::UPSTREAM_REQUEST | Hooks::RESPONSE
    }

    /// Native gRPC over HTTP/1.x cannot carry trailers (so no `grpc-status`
    /// would ever arrive): refuse it up front with a message that says what
    /// to use instead. gRPC-Web is built for HTTP/1.1 and passes, unless the
    /// route turned it off; its CORS preflight is answered here.
    async fn request(
        &self,
        state: &mut CallState,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        let header = cx.downstream.req_header();
        if CorsPolicy::is_preflight(header) {
            return Ok(Flow::Respond(self.preflight(header)));
        }
        match cx.call.protocol {
            CallerProtocol::Grpc if header.version != Version::HTTP_2 => {
                let error = GatewayError::new(
                    Code::Internal,
                    "gRPC needs HTTP/2 (h2c or TLS with ALPN h2); HTTP/1.1 clients can use gRPC-Web",
                );
                Ok(Flow::Respond(LocalResponse::Error(error)))
            }
            CallerProtocol::GrpcWeb | CallerProtocol::GrpcWebText if self.grpc_web.is_none() => {
                let error = GatewayError::new(
                    Code::Unimplemented,
                    "gRPC-Web is turned off on this route (grpc_proxy.grpc_web: false)",
                );
                Ok(Flow::Respond(LocalResponse::Error(error)))
            }
            CallerProtocol::GrpcWeb | CallerProtocol::GrpcWebText => {
                if let Some(cors) = self.cors() {
                    state.cors_headers = cors.response_headers(header);
                }
                Ok(Flow::Continue)
            }
            _ => Ok(Flow::Continue),
        }
    }

    /// gRPC servers may insist on `te: trailers`; Pingora drops it as a
    /// hop-by-hop header when the caller spoke HTTP/1.1 (gRPC-Web).
    fn upstream_request(
        &self,
        _state: &mut CallState,
        _call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        request
            .insert_header(http::header::TE, HeaderValue::from_static("trailers"))
            .map_err(|e| GatewayError::internal(format!("cannot set te: trailers: {e}")))
    }

    /// A gRPC-Web answer (the upstream's or an error) carries the CORS
    /// headers, and exposes its metadata to the page.
    fn response(
        &self,
        state: &mut CallState,
        _call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        if state.cors_headers.is_empty() {
            return Ok(());
        }
        for (name, value) in &state.cors_headers {
            response
                .insert_header(name.clone(), value.clone())
                .map_err(|e| GatewayError::internal(format!("cannot set {name}: {e}")))?;
        }
        if let Some(exposed) = self.cors().and_then(|cors| cors.exposed_for(response)) {
            response
                .insert_header(ACCESS_CONTROL_EXPOSE_HEADERS, exposed)
                .map_err(|e| GatewayError::internal(format!("cannot expose headers: {e}")))?;
        }
        Ok(())
    }

    fn describe(&self) -> Vec<String> {
        match (&self.grpc_web, self.cors()) {
            (None, _) => vec!["gRPC-Web: off".to_owned()],
            (Some(_), None) => vec!["gRPC-Web: on, same-origin only (no CORS)".to_owned()],
            (Some(_), Some(_)) => vec!["gRPC-Web: on, with CORS".to_owned()],
        }
    }
}
