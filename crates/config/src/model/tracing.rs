//! `tracing`: the OpenTelemetry exporter shared by every route.

use std::borrow::Cow;

use crate::decode::{Decode, Spanned};
use crate::decoder::Decoder;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};

/// The `tracing` section.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingConfig {
    /// `otlp.endpoint`: `http://host:port[/path]` for OTLP/HTTP
    /// (protobuf; `/v1/traces` is appended when there is no path), or
    /// `grpc://host:port` for OTLP/gRPC.
    pub otlp_endpoint: String,
    /// The `service.name` resource attribute; default `protogate`.
    pub service_name: String,
    /// `batch: { size, delay, queue }`: how spans are batched for export.
    pub batch: BatchConfig,
    /// Where the section starts.
    pub span: Span,
}

/// `batch: { size: 512, delay: 200ms, queue: 4096 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans per export at most.
    pub size: usize,
    /// How long a batch waits to fill before it is sent.
    pub delay: std::time::Duration,
    /// Spans waiting for export at most; more are dropped and counted.
    pub queue: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            size: 512,
            delay: std::time::Duration::from_millis(200),
            queue: 4096,
        }
    }
}

impl Decode for BatchConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let defaults = Self::default();
        let mut f = d.fields(node, path, "`batch` (`size`, `delay`, `queue`)")?;
        let size = f.optional::<usize>(d, "size").unwrap_or(defaults.size);
        let delay = f
            .optional::<std::time::Duration>(d, "delay")
            .unwrap_or(defaults.delay);
        let queue = f.optional::<usize>(d, "queue").unwrap_or(defaults.queue);
        f.finish(d);
        if size == 0 || queue < size {
            d.error(
                node.span,
                path,
                "batch.size must be at least 1 and batch.queue at least batch.size",
            );
            return None;
        }
        Some(Self { size, delay, queue })
    }
}

/// The default `service.name`.
pub const DEFAULT_SERVICE_NAME: &str = "protogate";

impl Decode for TracingConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "`tracing` (`otlp`, `service_name`, `batch`)")?;
        let endpoint = f
            .node("otlp")
            .map(|otlp| decode_otlp(otlp, &path.key("otlp"), d));
        if endpoint.is_none() {
            d.error(f.span(), path, "missing required key `otlp`");
        }
        let service_name = f.optional::<Spanned<String>>(d, "service_name");
        let batch = match f.node("batch") {
            None => Some(BatchConfig::default()),
            Some(node) => BatchConfig::decode(node, &path.key("batch"), d),
        };
        f.finish(d);
        let service_name = match service_name {
            Some(s) if s.value.is_empty() => {
                d.error(s.span, &path.key("service_name"), "must not be empty");
                None
            }
            other => other.map(|s| s.value),
        };
        Some(TracingConfig {
            otlp_endpoint: endpoint??,
            service_name: service_name.unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
            batch: batch?,
            span: node.span,
        })
    }
}

/// `otlp: { endpoint }`, the endpoint checked for a known scheme and a host.
fn decode_otlp(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<String> {
    let mut f = d.fields(node, path, "`otlp` (`endpoint`)")?;
    let endpoint = f.required::<Spanned<String>>(d, "endpoint");
    f.finish(d);
    let endpoint = endpoint?;
    match check_endpoint(&endpoint.value) {
        Ok(()) => Some(endpoint.value),
        Err(message) => {
            d.error(endpoint.span, &path.key("endpoint"), message);
            None
        }
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint.parse().map_err(|_| {
        format!("`{endpoint}` is not a URL; write it like `http://127.0.0.1:4318` or `grpc://127.0.0.1:4317`")
    })?;
    match uri.scheme_str() {
        Some("http" | "grpc") => {}
        Some("https") => {
            return Err(format!(
                "`{endpoint}`: TLS to the collector is not supported yet; use http:// or grpc:// (a local collector or sidecar)"
            ))
        }
        Some(other) => {
            return Err(format!(
                "unsupported scheme `{other}` in `{endpoint}`; use http (OTLP/HTTP) or grpc (OTLP/gRPC)"
            ))
        }
        None => {
            return Err(format!(
                "`{endpoint}` has no scheme; write `http://{endpoint}` (OTLP/HTTP) or `grpc://{endpoint}` (OTLP/gRPC)"
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{endpoint}` has no host"));
    }
    Ok(())
}

impl JsonSchema for TracingConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Tracing")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "The OpenTelemetry span exporter (routes trace with the `tracing` plugin).",
            &["otlp"],
            vec![
                (
                    "otlp",
                    schema::object(
                        "the collector",
                        &["endpoint"],
                        vec![(
                            "endpoint",
                            schema::pattern(
                                "http://host:port[/path] for OTLP/HTTP, grpc://host:port for OTLP/gRPC",
                                "^(http|grpc)://",
                            ),
                        )],
                    ),
                ),
                (
                    "service_name",
                    schema::string("the service.name resource attribute; default protogate"),
                ),
                ("batch", g.subschema_for::<BatchConfig>()),
            ],
        )
    }
}

impl JsonSchema for BatchConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("TracingBatch")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "How spans are batched for export.",
            &[],
            vec![
                (
                    "size",
                    schema::integer("spans per export at most; default 512", 1),
                ),
                (
                    "delay",
                    schema::duration("how long a batch waits to fill; default 200ms"),
                ),
                (
                    "queue",
                    schema::integer(
                        "spans waiting for export at most (at least `size`); more are dropped and counted; default 4096",
                        1,
                    ),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints_need_a_known_scheme_and_a_host() {
        assert_eq!(check_endpoint("http://127.0.0.1:4318"), Ok(()));
        assert_eq!(check_endpoint("http://otel.example.com/custom"), Ok(()));
        assert!(check_endpoint("https://otel.example.com")
            .is_err_and(|e| e.contains("TLS to the collector is not supported yet")));
        assert_eq!(check_endpoint("grpc://collector:4317"), Ok(()));
        assert!(check_endpoint("127.0.0.1:4318").is_err());
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("not a url").is_err());
    }
}
