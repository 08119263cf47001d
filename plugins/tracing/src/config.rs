//! The `tracing` plugin's settings. The exporter (where spans go) is the
//! top-level `tracing` section, shared by every route.

use std::borrow::Cow;

use protogate_core::schema::{self, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{Decode, Decoder, Node, Spanned, YamlPath};

/// `tracing: { sample_ratio: 1.0 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingPluginConfig {
    /// The share of new traces recorded, 0 to 1. A caller's sampled flag
    /// decides for the traces it continues; a failed call is recorded
    /// anyway unless its caller said "not sampled".
    pub sample_ratio: f64,
    /// The trace-context formats read from callers (the first one present
    /// wins) and all written to the upstream. Default: `[w3c]`.
    pub propagation: Vec<Format>,
}

/// A trace-context format on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// W3C `traceparent` and `tracestate`.
    W3c,
    /// Zipkin's single `b3` header.
    B3,
    /// Zipkin's `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
    B3Multi,
}

impl Default for TracingPluginConfig {
    fn default() -> Self {
        Self {
            sample_ratio: 1.0,
            propagation: vec![Format::W3c],
        }
    }
}

impl Decode for TracingPluginConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the tracing plugin")?;
        let ratio = fields.optional::<Spanned<f64>>(d, "sample_ratio");
        let propagation = match fields.node("propagation") {
            None => Some(vec![Format::W3c]),
            Some(node) => decode_formats(node, &path.key("propagation"), d),
        };
        fields.finish(d);
        let propagation = propagation?;
        let sample_ratio = match ratio {
            None => 1.0,
            Some(r) if (0.0..=1.0).contains(&r.value) => r.value,
            Some(r) => {
                d.error(
                    r.span,
                    &path.key("sample_ratio"),
                    "sample_ratio is a share from 0 to 1",
                );
                return None;
            }
        };
        Some(Self {
            sample_ratio,
            propagation,
        })
    }
}

/// The `propagation` keywords: what the decoder accepts and the schema lists.
const FORMATS: &[(&str, Format)] = &[
    ("w3c", Format::W3c),
    ("b3", Format::B3),
    ("b3multi", Format::B3Multi),
];

/// `propagation: [w3c, b3, b3multi]`: at least one, each once.
fn decode_formats(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Vec<Format>> {
    let Some(items) = node.as_seq() else {
        d.expected(node, path, "a list of formats: w3c, b3, b3multi");
        return None;
    };
    let mut formats = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        let format = d.keyword(item, &at, "format", FORMATS)?;
        if formats.contains(&format) {
            d.error(item.span, &at, "this format is named twice");
            return None;
        }
        formats.push(format);
    }
    if formats.is_empty() {
        d.error(
            node.span,
            path,
            "name at least one format: w3c, b3, b3multi",
        );
        return None;
    }
    Some(formats)
}

impl JsonSchema for TracingPluginConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TracingPlugin")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut propagation = schema::non_empty_array(
            "trace-context formats read from callers (the first present wins) and all written upstream; default [w3c]",
            schema::keyword_of(
                "w3c (traceparent, tracestate), b3 (one b3 header) or b3multi (X-B3-TraceId, ...)",
                FORMATS,
            ),
        );
        propagation.insert("uniqueItems".to_owned(), true.into());
        schema::object(
            "OpenTelemetry spans for every call (the exporter is the top-level `tracing` section).",
            &[],
            vec![
                (
                    "sample_ratio",
                    schema::number(
                        "the share of new traces recorded, 0 to 1 (failed calls are recorded anyway); default 1",
                        0.0,
                        1.0,
                    ),
                ),
                ("propagation", propagation),
            ],
        )
    }
}
