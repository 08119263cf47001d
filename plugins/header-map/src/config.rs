//! The `header_map` configuration block.

use std::borrow::Cow;

use http::HeaderName;
use protogate_core::schema::{self, json_schema, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{Decode, Decoder, Node, Value, YamlPath};

use crate::names::{check, Use};
use crate::rules::{Rules, NAME_PATTERN};

/// The header a request id travels in unless `request_id` names another.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `header_map: { request: {...}, response: {...}, trailers: {...},
/// request_id: ..., gateway_headers: ... }`. Every section is optional;
/// each applies `remove`, `rename`, `set`, `add` in that order. Every rule
/// is checked here, when the config loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMapConfig {
    /// On the request the upstream receives (for the transcoder: the gRPC
    /// metadata it sends).
    pub request: Rules,
    /// On the response header the caller gets (for the transcoder: the
    /// REST answer's headers).
    pub response: Rules,
    /// On the response trailers (gRPC and gRPC-Web), including the status
    /// header of a trailers-only answer.
    pub trailers: Rules,
    /// The header carrying the call's request id; `None` when off.
    pub request_id: Option<HeaderName>,
    /// Kong-style headers the gateway adds about itself.
    pub gateway_headers: GatewayHeaders,
}

impl HeaderMapConfig {
    /// The transcoder path variables (`${path.NAME}`) any rule names: they
    /// are only known once the transcoder matched a binding, so the rules
    /// that use them are evaluated then, and the route must have one.
    pub fn path_variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = [&self.request, &self.response, &self.trailers]
            .into_iter()
            .flat_map(Rules::path_variables)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// `gateway_headers: true | { via: true, latency: true }`: off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayHeaders {
    /// `via: 1.1 protogate` (or `2 protogate`) on the upstream request and
    /// on the answer.
    pub via: bool,
    /// `x-protogate-upstream-latency` and `x-protogate-gateway-latency` on
    /// the answer, in milliseconds.
    pub latency: bool,
}

impl GatewayHeaders {
    /// Whether any header is on.
    pub fn any(self) -> bool {
        self.via || self.latency
    }
}

impl Decode for HeaderMapConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the header_map plugin")?;
        let span = fields.span();
        let mut section = |key: &str, d: &mut Decoder| match fields.node(key) {
            None => Some(Rules::default()),
            Some(node) if node.is_null() => Some(Rules::default()),
            Some(node) => Rules::decode(node, &path.key(key), d),
        };
        let request = section("request", d);
        let response = section("response", d);
        let trailers = section("trailers", d);
        let request_id = match fields.node("request_id") {
            None => Some(None),
            Some(node) => decode_request_id(node, &path.key("request_id"), d),
        };
        let gateway_headers = match fields.node("gateway_headers") {
            None => Some(GatewayHeaders::default()),
            Some(node) => decode_gateway_headers(node, &path.key("gateway_headers"), d),
        };
        fields.finish(d);
        let config = Self {
            request: request?,
            response: response?,
            trailers: trailers?,
            request_id: request_id?,
            gateway_headers: gateway_headers?,
        };
        let uses_id = [&config.request, &config.response, &config.trailers]
            .iter()
            .any(|rules| rules.uses_request_id());
        if uses_id && config.request_id.is_none() {
            d.error(
                span,
                path,
                "a rule uses `${request_id}`: turn on `request_id` in this header_map",
            );
            return None;
        }
        Some(config)
    }
}

/// `request_id: true | false | { header: NAME }`.
fn decode_request_id(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Option<HeaderName>> {
    let default = || HeaderName::from_static(REQUEST_ID_HEADER);
    match node.value {
        Value::Bool(false) => return Some(None),
        Value::Bool(true) => return Some(Some(default())),
        _ => {}
    }
    let mut fields = d.fields(node, path, "the request_id settings")?;
    let header = fields.entry("header");
    fields.finish(d);
    let Some((_, header)) = header else {
        return Some(Some(default()));
    };
    let Some(name) = header.as_str() else {
        d.expected(header, &path.key("header"), "a header name");
        return None;
    };
    match check(name, Use::Write, &[]) {
        Ok(checked) if checked.renamed_from.is_none() => Some(Some(checked.name)),
        Ok(_) => {
            d.error(
                header.span,
                &path.key("header"),
                format!("`{name}` is reserved for gRPC"),
            );
            None
        }
        Err(message) => {
            d.error(header.span, &path.key("header"), message);
            None
        }
    }
}

/// `gateway_headers: true | false | { via: bool, latency: bool }`.
fn decode_gateway_headers(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<GatewayHeaders> {
    if let Value::Bool(on) = node.value {
        return Some(GatewayHeaders {
            via: on,
            latency: on,
        });
    }
    let mut fields = d.fields(node, path, "the gateway_headers settings")?;
    let via = fields.optional::<bool>(d, "via").unwrap_or(false);
    let latency = fields.optional::<bool>(d, "latency").unwrap_or(false);
    fields.finish(d);
    Some(GatewayHeaders { via, latency })
}

impl JsonSchema for HeaderMapConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HeaderMap")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut section = |description: &str| {
            schema::any_of(
                description,
                vec![
                    g.subschema_for::<Rules>(),
                    json_schema!({ "type": "null", "description": "no rules" }),
                ],
            )
        };
        let request =
            section("rules for the request the upstream receives (a transcoder's gRPC metadata)");
        let response =
            section("rules for the response header the caller gets (a transcoder's REST headers)");
        let trailers = section(
            "rules for gRPC and gRPC-Web trailers, and the status header of a trailers-only answer",
        );
        schema::object(
            "Header and gRPC metadata rules, both directions; each section applies remove, rename, set, add in that order.",
            &[],
            vec![
                ("request", request),
                ("response", response),
                ("trailers", trailers),
                (
                    "request_id",
                    schema::any_of(
                        "a request id for every call (the caller's, or a new UUID v4), sent upstream and back, as ${request_id}; default off",
                        vec![
                            schema::boolean("true: on, in x-request-id; false: off"),
                            schema::object(
                                "on, in another header",
                                &[],
                                vec![(
                                    "header",
                                    schema::pattern(
                                        "the header carrying the id (not a grpc-* name); default x-request-id",
                                        NAME_PATTERN,
                                    ),
                                )],
                            ),
                        ],
                    ),
                ),
                ("gateway_headers", g.subschema_for::<GatewayHeaders>()),
            ],
        )
    }
}

impl JsonSchema for GatewayHeaders {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HeaderMapGatewayHeaders")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::any_of(
            "headers the gateway adds about itself; default off",
            vec![
                schema::boolean("true: all of them; false: none"),
                schema::object(
                    "each one on or off",
                    &[],
                    vec![
                        (
                            "via",
                            schema::boolean(
                                "`via: 1.1 protogate` on the upstream request and the answer; default false",
                            ),
                        ),
                        (
                            "latency",
                            schema::boolean(
                                "x-protogate-upstream-latency and x-protogate-gateway-latency (ms) on the answer; default false",
                            ),
                        ),
                    ],
                ),
            ],
        )
    }
}
