//! The `header_map` hooks.

use std::sync::Arc;

use async_trait::async_trait;
use http::header::VIA;
use http::{HeaderValue, Version};
use protogate_core::{
    CallInfo, Flow, GatewayError, HeaderMap, Hooks, Plugin, RequestCx, RequestHeader,
    ResponseHeader,
};

use crate::config::HeaderMapConfig;
use crate::request_id;
use crate::rules::{Headers, Name, Rules, Values};
use crate::template::Sources;

/// The header rules of one route.
#[derive(Debug, Clone)]
pub struct HeaderMapper {
    config: HeaderMapConfig,
    hooks: Hooks,
    /// A template names a transcoder path variable: values are evaluated
    /// when the rules apply (the transcoder has matched its binding by then),
    /// from a copy of the caller's request kept for that.
    late: bool,
    /// A request rule writes `host`: the upstream's `:authority` follows it.
    writes_host: bool,
    /// The request id's header (`request_id`), ready to write.
    request_id: Option<Name>,
    /// `via`, ready to write (`gateway_headers.via`).
    via: Option<Name>,
}

impl HeaderMapper {
    /// Builds the plugin from its decoded configuration. Only the hooks its
    /// sections need are declared, so an empty section costs nothing.
    pub fn new(config: HeaderMapConfig) -> Self {
        let mut hooks = Hooks::NONE;
        let gateway = config.gateway_headers;
        let id = config.request_id.is_some();
        if config.request.needs_values()
            || config.response.needs_values()
            || config.trailers.needs_values()
            || id
            || gateway.via
        {
            hooks = hooks | Hooks::REQUEST;
        }
        if !config.request.is_empty() || id || gateway.via {
            hooks = hooks | Hooks::UPSTREAM_REQUEST;
        }
        if !config.response.is_empty() || !config.trailers.is_empty() || id || gateway.any() {
            hooks = hooks | Hooks::RESPONSE;
        }
        if !config.trailers.is_empty() {
            hooks = hooks | Hooks::RESPONSE_TRAILERS;
        }
        let writes_host = config.request.writes("host");
        let late = !config.path_variables().is_empty();
        let request_id = config.request_id.clone().map(Name::new);
        let via = gateway.via.then(|| Name::new(VIA));
        Self {
            config,
            hooks,
            late,
            writes_host,
            request_id,
            via,
        }
    }
}

impl HeaderMapper {
    /// The call's request id and `via` entry, on the upstream request and on
    /// the answer alike.
    fn stamp(&self, state: &CallValues, headers: &mut impl Headers) {
        if let (Some(name), Some(id)) = (&self.request_id, &state.request_id) {
            headers.set(name, id.clone());
        }
        if let (Some(name), Some(via)) = (&self.via, &state.via) {
            headers.add(name, via.clone());
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
    /// The call's request id as a header value, when on.
    request_id: Option<HeaderValue>,
    /// The `via` entry for this call (`1.1 protogate`), when on.
    via: Option<HeaderValue>,
    /// The caller's request, kept when values are evaluated late.
    caller: Option<RequestHeader>,
}

/// Evaluates one section's values late (see [`HeaderMapper`]), once.
fn late_values(rules: &Rules, slot: &mut Values, caller: Option<&RequestHeader>, call: &CallInfo) {
    if !slot.is_empty() || !rules.needs_values() {
        return;
    }
    if let Some(request) = caller {
        *slot = rules.evaluate(&Sources { call, request });
    }
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
        let config = &self.config;
        if let Some(header) = &config.request_id {
            let incoming = cx.downstream.req_header().headers.get(header);
            let id = request_id::accept_or_make(incoming);
            // Visible ASCII by construction: always a valid value.
            state.request_id = HeaderValue::from_str(&id).ok();
            cx.call.request_id = Some(Arc::from(id));
        }
        if config.gateway_headers.via {
            let version = match cx.downstream.req_header().version {
                Version::HTTP_2 => "2",
                Version::HTTP_10 => "1.0",
                _ => "1.1",
            };
            state.via = HeaderValue::from_str(&format!("{version} protogate")).ok();
        }
        if self.late {
            state.caller = Some(cx.downstream.req_header().clone());
            return Ok(Flow::Continue);
        }
        let sources = Sources {
            call: cx.call,
            request: cx.downstream.req_header(),
        };
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
        call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        self.stamp(state, request);
        if self.late {
            let caller = state.caller.as_ref();
            late_values(&self.config.request, &mut state.request, caller, call);
        }
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
        call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        self.stamp(state, response);
        if self.config.gateway_headers.latency {
            add_latency(call, response);
        }
        if self.late {
            let caller = state.caller.as_ref();
            late_values(&self.config.response, &mut state.response, caller, call);
            late_values(&self.config.trailers, &mut state.trailers, caller, call);
        }
        self.config.response.apply(response, &state.response);
        if response.headers.contains_key("grpc-status") {
            self.config.trailers.apply(response, &state.trailers);
        }
        Ok(())
    }

    fn response_trailers(
        &self,
        state: &mut CallValues,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        if self.late {
            let caller = state.caller.as_ref();
            late_values(&self.config.trailers, &mut state.trailers, caller, call);
        }
        self.config.trailers.apply(trailers, &state.trailers);
        Ok(())
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(header) = &self.config.request_id {
            lines.push(format!(
                "request id in `{header}` (the caller's, or a new one)"
            ));
        }
        let gateway = self.config.gateway_headers;
        if gateway.any() {
            let mut on = Vec::new();
            if gateway.via {
                on.push("via");
            }
            if gateway.latency {
                on.push("x-protogate-upstream-latency, x-protogate-gateway-latency");
            }
            lines.push(format!("gateway headers: {}", on.join(", ")));
        }
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

/// Kong-style timing headers, in milliseconds with microsecond precision:
/// the upstream's share (request sent to response header) and the
/// gateway's (everything else so far). Without an upstream exchange (a
/// refusal, a streamed REST call) only the gateway's share is given.
fn add_latency(call: &CallInfo, response: &mut ResponseHeader) {
    let total = call.started.elapsed();
    let upstream = call.upstream_latency();
    let millis = |d: std::time::Duration| format!("{:.3}", d.as_secs_f64() * 1000.0);
    if let Some(upstream) = upstream {
        if let Ok(value) = HeaderValue::from_str(&millis(upstream)) {
            let _ = response.insert_header("x-protogate-upstream-latency", value);
        }
    }
    let gateway = total.saturating_sub(upstream.unwrap_or_default());
    if let Ok(value) = HeaderValue::from_str(&millis(gateway)) {
        let _ = response.insert_header("x-protogate-gateway-latency", value);
    }
}
