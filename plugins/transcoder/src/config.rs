//! The `transcoder` configuration block, decoded with line and column for
//! every error. Names that need the descriptor catalog (services, methods,
//! fields) are checked when the route is built, see [`crate::bindings`].

use std::borrow::Cow;

use http::Method;
use protogate_core::cors::CorsPolicy;
use protogate_core::schema::{self, json_schema, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{ByteSize, Decode, Decoder, Node, OrderedMap, Span, Spanned, YamlPath};

use crate::template::PathTemplate;

/// The default limit on a request body, and on the upstream's answer.
pub const DEFAULT_MAX_BODY: u64 = 4 * 1024 * 1024;

/// How JSON field names are written in answers (input accepts both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldNames {
    /// `priceCents`: the proto3 JSON default.
    LowerCamel,
    /// `price_cents`: the name in the .proto file.
    Proto,
}

/// How enum values are written in answers (input accepts both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumStyle {
    /// `"CATEGORY_BOOKS"`.
    Name,
    /// `2`.
    Number,
}

/// What happens to a query parameter or JSON field the message lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownFields {
    /// 400 naming the field: nothing is silently dropped.
    Reject,
    /// Dropped, for clients that send more than the contract has.
    Ignore,
}

/// `json: {...}`: the proto3 JSON printing options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonSettings {
    /// Field names in answers.
    pub field_names: FieldNames,
    /// Print fields that hold their default value (`0`, `""`, `[]`), as
    /// grpc-gateway does; REST clients then see every field.
    pub emit_defaults: bool,
    /// Enum values in answers.
    pub enums: EnumStyle,
}

impl JsonSettings {
    /// prost-reflect's printing options for these settings (64-bit integers
    /// as strings, as proto3 JSON requires).
    pub fn serialize_options(&self) -> prost_reflect::SerializeOptions {
        prost_reflect::SerializeOptions::new()
            .stringify_64_bit_integers(true)
            .use_enum_numbers(self.enums == EnumStyle::Number)
            .use_proto_field_name(self.field_names == FieldNames::Proto)
            .skip_default_fields(!self.emit_defaults)
    }
}

impl Default for JsonSettings {
    fn default() -> Self {
        Self {
            field_names: FieldNames::LowerCamel,
            emit_defaults: true,
            enums: EnumStyle::Name,
        }
    }
}

impl Decode for JsonSettings {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "the json settings")?;
        let mut settings = Self::default();
        if let Some(node) = fields.node("field_names") {
            if let Some(v) = d.keyword(
                node,
                &path.key("field_names"),
                "field name style",
                FIELD_NAMES,
            ) {
                settings.field_names = v;
            }
        }
        if let Some(emit) = fields.optional::<bool>(d, "emit_defaults") {
            settings.emit_defaults = emit;
        }
        if let Some(node) = fields.node("enums") {
            if let Some(v) = d.keyword(node, &path.key("enums"), "enum style", ENUM_STYLES) {
                settings.enums = v;
            }
        }
        fields.finish(d);
        Some(settings)
    }
}

/// The `field_names` keywords: what the decoder accepts and the schema lists.
const FIELD_NAMES: &[(&str, FieldNames)] = &[
    ("lower_camel", FieldNames::LowerCamel),
    ("proto", FieldNames::Proto),
];

/// The `enums` keywords: what the decoder accepts and the schema lists.
const ENUM_STYLES: &[(&str, EnumStyle)] =
    &[("name", EnumStyle::Name), ("number", EnumStyle::Number)];

impl JsonSchema for JsonSettings {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TranscoderJson")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "How answers are printed as proto3 JSON (input accepts every form).",
            &[],
            vec![
                (
                    "field_names",
                    schema::keyword_of(
                        "field names in answers: lower_camel (priceCents) or proto (price_cents); default lower_camel",
                        FIELD_NAMES,
                    ),
                ),
                (
                    "emit_defaults",
                    schema::boolean(
                        "print fields holding their default value (0, \"\", []); default true",
                    ),
                ),
                (
                    "enums",
                    schema::keyword_of(
                        "enum values in answers: name or number; default name",
                        ENUM_STYLES,
                    ),
                ),
            ],
        )
    }
}

/// One explicit binding: `{ rpc: pkg.Service/Method, get: "/v1/x/{id}" }`.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingConfig {
    /// `pkg.Service/Method`.
    pub rpc: Spanned<String>,
    /// The HTTP method (`custom: { kind: SEARCH, path: ... }` included).
    pub http_method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// `body`: `"*"`, a field name, or absent for no body.
    pub body: Option<String>,
    /// `response_body`: the response field sent as the whole answer.
    pub response_body: Option<String>,
    /// `query_params: false` refuses every query parameter.
    pub query_params: bool,
    /// `input_mapping`: query or path parameter name -> field path.
    pub input_mapping: OrderedMap<String>,
    /// Where the binding is written, for errors found later.
    pub path: YamlPath,
    /// Its position.
    pub span: Span,
}

const HTTP_VERBS: [(&str, Method); 5] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("patch", Method::PATCH),
];

impl Decode for BindingConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "a binding")?;
        let rpc = fields.required::<Spanned<String>>(d, "rpc");
        let mut verbs: Vec<(Method, Spanned<String>, YamlPath)> = Vec::new();
        for (key, method) in HTTP_VERBS {
            if let Some(template) = fields.optional::<Spanned<String>>(d, key) {
                verbs.push((method, template, path.key(key)));
            }
        }
        if let Some(custom) = fields.node("custom") {
            let custom_path = path.key("custom");
            if let Some(mut c) = d.fields(custom, &custom_path, "a custom binding (kind, path)") {
                let kind = c.required::<String>(d, "kind");
                let template = c.required::<Spanned<String>>(d, "path");
                c.finish(d);
                if let (Some(kind), Some(template)) = (kind, template) {
                    match Method::from_bytes(kind.as_bytes()) {
                        Ok(method) => verbs.push((method, template, custom_path.key("path"))),
                        Err(_) => d.error(
                            custom.span,
                            &custom_path.key("kind"),
                            format!("`{kind}` is not an HTTP method"),
                        ),
                    }
                }
            }
        }
        let body = fields.optional::<String>(d, "body");
        let response_body = fields.optional::<String>(d, "response_body");
        let query_params = fields.optional::<bool>(d, "query_params").unwrap_or(true);
        let input_mapping = fields
            .optional::<OrderedMap<String>>(d, "input_mapping")
            .unwrap_or_default();
        let span = fields.span();
        fields.finish(d);
        let (http_method, template_text, template_path) = match verbs.len() {
            1 => verbs.pop()?,
            0 => {
                d.error(
                    span,
                    path,
                    "a binding needs one of: get, put, post, delete, patch, custom",
                );
                return None;
            }
            _ => {
                d.error(
                    span,
                    path,
                    "a binding has exactly one of get, put, post, delete, patch, custom; use another binding for the next one",
                );
                return None;
            }
        };
        let template = match PathTemplate::parse(&template_text) {
            Ok(t) => t,
            Err(e) => {
                d.error(template_text.span, &template_path, e.0);
                return None;
            }
        };
        Some(Self {
            rpc: rpc?,
            http_method,
            template,
            body: body.filter(|b| !b.is_empty()),
            response_body: response_body.filter(|b| !b.is_empty()),
            query_params,
            input_mapping,
            path: path.clone(),
            span,
        })
    }
}

/// An HTTP method as `custom.kind` takes it (`Method::from_bytes`: an
/// RFC 9110 token, case kept).
const METHOD_PATTERN: &str = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/// What the decoder reads as a path template before parsing it; the rest of
/// the template grammar is checked by the decoder.
const TEMPLATE_PATTERN: &str = "^/";

impl JsonSchema for BindingConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TranscoderBinding")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut properties = vec![(
            "rpc",
            schema::pattern("the method called, pkg.Service/Method", "^[^/]+/[^/]+$"),
        )];
        for (verb, _) in HTTP_VERBS {
            properties.push((
                verb,
                schema::pattern(
                    "the path template, like /v1/items/{id} or /v1/{name=shelves/*}:verb",
                    TEMPLATE_PATTERN,
                ),
            ));
        }
        properties.extend([
            (
                "custom",
                schema::object(
                    "another HTTP method",
                    &["kind", "path"],
                    vec![
                        (
                            "kind",
                            schema::pattern("the HTTP method, like SEARCH", METHOD_PATTERN),
                        ),
                        (
                            "path",
                            schema::pattern("the path template", TEMPLATE_PATTERN),
                        ),
                    ],
                ),
            ),
            (
                "body",
                schema::string(
                    "where the request body goes: \"*\" (the whole message) or a field name; default: no body accepted",
                ),
            ),
            (
                "response_body",
                schema::string("the response field sent as the whole answer; default the message"),
            ),
            (
                "query_params",
                schema::boolean("false refuses every query parameter; default true"),
            ),
            (
                "input_mapping",
                schema::map_of(
                    "query or path parameter name -> the (nested) field it fills",
                    schema::string("a field path, like page_size or filter.label"),
                ),
            ),
        ]);
        let mut schema = schema::object(
            "One explicit binding: `rpc` and exactly one of get, put, post, delete, patch, custom.",
            &["rpc"],
            properties,
        );
        // Exactly one method key, as the decoder requires.
        let methods: Vec<_> = HTTP_VERBS
            .iter()
            .map(|(verb, _)| *verb)
            .chain(["custom"])
            .map(|key| json_schema!({ "required": [key] }).to_value())
            .collect();
        schema.insert("oneOf".to_owned(), methods.into());
        schema
    }
}

/// `transcoder: {...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscoderConfig {
    /// Services whose `google.api.http` annotations become bindings.
    pub services: Vec<Spanned<String>>,
    /// Explicit bindings, added to the annotated ones.
    pub bindings: Vec<BindingConfig>,
    /// JSON printing.
    pub json: JsonSettings,
    /// Unknown query parameters and JSON fields.
    pub unknown_fields: UnknownFields,
    /// The largest request body accepted (413 above it), and the largest
    /// upstream answer read.
    pub max_body: u64,
    /// CORS for browsers; off when absent.
    pub cors: Option<CorsPolicy>,
    /// Where the route serves its generated OpenAPI document, if anywhere.
    pub openapi: Option<String>,
    /// Where the block is written, for errors found when the route is built.
    pub path: YamlPath,
    /// Its position.
    pub span: Span,
}

impl Decode for TranscoderConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "the transcoder plugin")?;
        let services = fields
            .optional::<Vec<Spanned<String>>>(d, "services")
            .unwrap_or_default();
        // Each binding on its own: a bad one is reported and the others
        // are still checked against the catalog, so `protogate check`
        // prints every problem in one run.
        let bindings = match fields.node("bindings") {
            None => Vec::new(),
            Some(node) => match node.as_seq() {
                Some(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        BindingConfig::decode(item, &path.key("bindings").index(i), d)
                    })
                    .collect(),
                None => {
                    d.expected(node, &path.key("bindings"), "a list of bindings");
                    Vec::new()
                }
            },
        };
        let json = fields
            .optional::<JsonSettings>(d, "json")
            .unwrap_or_default();
        let unknown_fields = match fields.node("unknown_fields") {
            Some(node) => d.keyword(
                node,
                &path.key("unknown_fields"),
                "unknown_fields policy",
                UNKNOWN_FIELDS,
            ),
            None => Some(UnknownFields::Reject),
        }
        // Reported already; go on with the default so the rest is checked.
        .unwrap_or(UnknownFields::Reject);
        let max_body = fields.optional::<ByteSize>(d, "max_body");
        let cors = fields.optional::<CorsPolicy>(d, "cors");
        let openapi = fields.optional::<Spanned<String>>(d, "openapi");
        if let Some(served_at) = &openapi {
            if !served_at.starts_with('/') || served_at.contains(['?', '#', ' ']) {
                d.error(
                    served_at.span,
                    &path.key("openapi"),
                    format!(
                        "openapi must be a path like /v1/openapi.json, not `{}`",
                        served_at.value
                    ),
                );
            }
        }
        let span = fields.span();
        fields.finish(d);
        if services.is_empty() && bindings.is_empty() {
            d.error(
                span,
                path,
                "the transcoder needs `services` (bindings from google.api.http annotations) or `bindings`",
            );
            return None;
        }
        let max_body = max_body.map_or(DEFAULT_MAX_BODY, |b| b.0);
        if max_body == 0 {
            d.error(span, &path.key("max_body"), "max_body must be at least 1B");
            return None;
        }
        Some(Self {
            services,
            bindings,
            json,
            unknown_fields,
            max_body,
            cors,
            openapi: openapi.map(|p| p.value),
            path: path.clone(),
            span,
        })
    }
}

/// The `unknown_fields` keywords: what the decoder accepts and the schema lists.
const UNKNOWN_FIELDS: &[(&str, UnknownFields)] = &[
    ("reject", UnknownFields::Reject),
    ("ignore", UnknownFields::Ignore),
];

impl JsonSchema for TranscoderConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Transcoder")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut schema = schema::object(
            "REST and JSON in, gRPC to the upstream, JSON back; needs `services`, `bindings`, or both.",
            &[],
            vec![
                (
                    "services",
                    schema::array(
                        "services whose google.api.http annotations become bindings",
                        schema::string("a full service name, like ecommerce.v1.ProductService"),
                    ),
                ),
                (
                    "bindings",
                    schema::array(
                        "explicit bindings, added to the annotated ones",
                        g.subschema_for::<BindingConfig>(),
                    ),
                ),
                ("json", g.subschema_for::<JsonSettings>()),
                (
                    "unknown_fields",
                    schema::keyword_of(
                        "query parameters and JSON fields the message lacks: reject (400 naming the field) or ignore; default reject",
                        UNKNOWN_FIELDS,
                    ),
                ),
                (
                    "max_body",
                    schema::byte_size(
                        "the largest request body (413 above it) and upstream answer, at least 1B; default 4MiB",
                    ),
                ),
                ("cors", g.subschema_for::<CorsPolicy>()),
                (
                    "openapi",
                    schema::pattern(
                        "serve the generated OpenAPI 3.1 document at this path, like /v1/openapi.json",
                        "^/[^?# ]*$",
                    ),
                ),
            ],
        );
        // The decoder's "needs `services` or `bindings`" (as keys: that
        // the lists are not empty is left to the decoder).
        schema.insert(
            "anyOf".to_owned(),
            vec![
                json_schema!({ "required": ["services"] }).to_value(),
                json_schema!({ "required": ["bindings"] }).to_value(),
            ]
            .into(),
        );
        schema
    }
}
