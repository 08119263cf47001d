//! The `grpc_proxy` configuration block.

use std::borrow::Cow;

use protogate_core::cors::CorsPolicy;
use protogate_core::schema::{self, json_schema, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{ByteSize, Decode, Decoder, Node, YamlPath};

/// gRPC's own default receive limit: 4 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 4 * 1024 * 1024;

/// Response headers a gRPC-Web page must always be able to read: the
/// call's status lives there in a trailers-only answer.
pub const GRPC_WEB_EXPOSED: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// `grpc_proxy: { max_message_size: 4MiB, grpc_web: {...} }`. Unknown keys
/// are errors, so a typo is caught at load rather than silently ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcProxyConfig {
    /// The largest message accepted in either direction, read from each
    /// message's 5-byte prefix before the message arrives. A larger one ends
    /// the call with RESOURCE_EXHAUSTED.
    pub max_message_size: u64,
    /// gRPC-Web for browsers; `None` when the route turns it off
    /// (`grpc_web: false`).
    pub grpc_web: Option<GrpcWebConfig>,
}

impl Default for GrpcProxyConfig {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            grpc_web: Some(GrpcWebConfig::default()),
        }
    }
}

/// `grpc_web:`: on by default, with a permissive CORS policy.
///
/// ```yaml
/// grpc_web: false                 # gRPC-Web callers get UNIMPLEMENTED
/// grpc_web: { cors: false }       # same-origin pages only: no CORS headers
/// grpc_web:
///   cors: { allow_origins: ["https://app.example.com"] }   # narrowed
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcWebConfig {
    /// The policy for cross-origin pages; `None` with `cors: false`. The
    /// status headers are always exposed, and without an `expose_headers`
    /// list every response header is (the call's metadata).
    pub cors: Option<CorsPolicy>,
}

impl Default for GrpcWebConfig {
    fn default() -> Self {
        Self {
            cors: Some(grpc_web_cors(CorsPolicy::permissive(&[]))),
        }
    }
}

/// What gRPC-Web adds to a route's CORS policy.
fn grpc_web_cors(policy: CorsPolicy) -> CorsPolicy {
    let policy = if policy.lists_exposed_headers() {
        policy
    } else {
        policy.expose_response_metadata()
    };
    policy.also_expose(GRPC_WEB_EXPOSED)
}

impl Decode for GrpcWebConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the grpc_web settings")?;
        let cors = match fields.node("cors") {
            None => Some(Self::default().cors),
            Some(node) if node.value == protogate_core::Value::Bool(false) => Some(None),
            Some(node) => {
                CorsPolicy::decode(node, &path.key("cors"), d).map(|p| Some(grpc_web_cors(p)))
            }
        };
        fields.finish(d);
        Some(Self { cors: cors? })
    }
}

/// `grpc_web: true | false | {...}`.
fn decode_grpc_web(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Option<GrpcWebConfig>> {
    match node.value {
        protogate_core::Value::Bool(false) => Some(None),
        protogate_core::Value::Bool(true) => Some(Some(GrpcWebConfig::default())),
        _ => GrpcWebConfig::decode(node, path, d).map(Some),
    }
}

impl JsonSchema for GrpcWebConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("GrpcProxyGrpcWeb")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "gRPC-Web for browsers, on by default.",
            &[],
            vec![(
                "cors",
                schema::any_of(
                    "CORS for cross-origin pages; default permissive (any origin, every response header exposed)",
                    vec![
                        json_schema!({
                            "const": false,
                            "description": "no CORS headers: same-origin pages only",
                        }),
                        g.subschema_for::<CorsPolicy>(),
                    ],
                ),
            )],
        )
    }
}

impl Decode for GrpcProxyConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the grpc_proxy plugin")?;
        let size = fields.optional::<ByteSize>(d, "max_message_size");
        let grpc_web = match fields.node("grpc_web") {
            None => Some(Some(GrpcWebConfig::default())),
            Some(node) => decode_grpc_web(node, &path.key("grpc_web"), d),
        };
        let span = fields.span();
        fields.finish(d);
        let max_message_size = size.map_or(DEFAULT_MAX_MESSAGE_SIZE, |s| s.0);
        if max_message_size == 0 || max_message_size > u64::from(u32::MAX) {
            d.error(
                span,
                &path.key("max_message_size"),
                "max_message_size must be between 1B and 4GiB (the gRPC frame length is 32 bits)",
            );
            return None;
        }
        Some(Self {
            max_message_size,
            grpc_web: grpc_web?,
        })
    }
}

impl JsonSchema for GrpcProxyConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("GrpcProxy")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "Transparent gRPC pass-through (every grpc_service or grpc_method route runs it with its defaults).",
            &[],
            vec![
                (
                    "max_message_size",
                    schema::byte_size(
                        "the largest message accepted in either direction, 1B to 4GiB; default 4MiB",
                    ),
                ),
                (
                    "grpc_web",
                    schema::any_of(
                        "gRPC-Web for browsers; default on",
                        vec![
                            schema::boolean(
                                "true: on with the defaults; false: off (gRPC-Web callers get UNIMPLEMENTED)",
                            ),
                            json_schema!({ "type": "null", "description": "on with the defaults" }),
                            g.subschema_for::<GrpcWebConfig>(),
                        ],
                    ),
                ),
            ],
        )
    }
}
