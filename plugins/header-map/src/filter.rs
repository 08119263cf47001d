//! The `header_map` hooks.

use async_trait::async_trait;
use protogate_core::{
    CallInfo, Flow, GatewayError, HeaderMap, Hooks, Plugin, RequestCx, RequestHeader,
    ResponseHeader,
};

use crate::config::HeaderMapConfig;
use crate::rules::Values;
use crate::template::Sources;

/// The header rules of one route.
#[derive(Debug, Clone)]
pub struct HeaderMapper {
    config: HeaderMapConfig,
    hooks: Hooks,
    /// A request rule writes `host`: the upstream's `:authority` follows it.
    writes_host: bool,
}

impl HeaderMapper {
    /// Builds the plugin from its decoded configuration. Only the hooks its
    /// sections need are declared, so an empty section costs nothing.
    pub fn new(config: HeaderMapConfig) -> Self {
        let mut hooks = Hooks::NONE;
        if config.request.needs_values()
            || config.response.needs_values()
            || config.trailers.needs_values()
        {
            hooks = hooks | Hooks::REQUEST;
        }
        if !config.request.is_empty() {
            hooks = hooks | Hooks::UPSTREAM_REQUEST;
        }
        if !config.response.is_empty() || !config.trailers.is_empty() {
            hooks = hooks | Hooks::RESPONSE;
        }
        if !config.trailers.is_empty() {
            hooks = hooks | Hooks::RESPONSE_TRAILERS;
        }
        let writes_host = config.request.writes("host");
        Self {
            config,
            hooks,
            writes_host,
        }
    }
}

/// An HTTP/2 upstream takes `:authority` from the request URI when it has
/// one (an HTTP/2 caller's does), and from `host` only otherwise: after a
/// rule changed `host`, the URI's authority must follow.
fn point_authority_at_host(request: &mut RequestHeader) {
    if request.uri.authority().is_none() {
        return;
    }
    let Some(host) = request
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return;
    };
    let mut parts = request.uri.clone().into_parts();
    let Ok(authority) = host.parse() else {
        return;
    };
    parts.authority = Some(authority);
    if let Ok(uri) = http::Uri::from_parts(parts) {
        request.set_uri(uri);
    }
}

/// The call's template values, evaluated from the caller's request when it
/// arrives (the upstream request and the answer may look different by the
/// time the rules apply).
#[derive(Debug, Default)]
pub struct CallValues {
    request: Values,
    response: Values,
    trailers: Values,
}

#[async_trait]
impl Plugin for HeaderMapper {
    type State = CallValues;

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        self.hooks
    }

    async fn request(
        &self,
        state: &mut CallValues,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        let sources = Sources {
            call: cx.call,
            request: cx.downstream.req_header(),
        };
        let config = &self.config;
        if config.request.needs_values() {
            state.request = config.request.evaluate(&sources);
        }
        if config.response.needs_values() {
            state.response = config.response.evaluate(&sources);
        }
        if config.trailers.needs_values() {
            state.trailers = config.trailers.evaluate(&sources);
        }
        Ok(Flow::Continue)
    }

    fn upstream_request(
        &self,
        state: &mut CallValues,
        _call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        self.config.request.apply(request, &state.request);
        if self.writes_host {
            point_authority_at_host(request);
        }
        Ok(())
    }

    /// The response rules; and the trailer rules too when the header is a
    /// gRPC trailers-only answer (its status lives in the header).
    fn response(
        &self,
        state: &mut CallValues,
        _call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        self.config.response.apply(response, &state.response);
        if response.headers.contains_key("grpc-status") {
            self.config.trailers.apply(response, &state.trailers);
        }
        Ok(())
    }

    fn response_trailers(
        &self,
        state: &mut CallValues,
        _call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        self.config.trailers.apply(trailers, &state.trailers);
        Ok(())
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (section, rules) in [
            ("request", &self.config.request),
            ("response", &self.config.response),
            ("trailers", &self.config.trailers),
        ] {
            for rule in rules.describe() {
                lines.push(format!("{section}: {rule}"));
            }
        }
        lines
    }
}
