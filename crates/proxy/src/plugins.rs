//! The closed set of plugins: one variant per plugin, one decode arm, one
//! build arm. Adding a plugin means a folder under plugins/ and three lines
//! here; nothing registers itself by side effect.

use std::sync::Arc;

use protogate_config::schema::Schema;
use protogate_config::{Decode, Decoder, Node, PluginEntry, Span, Value, YamlPath};
use protogate_core::DynPlugin;
use protogate_grpc::catalog::Catalog;
use protogate_metrics::Metrics;
use protogate_plugin_grpc_proxy::{GrpcProxy, GrpcProxyConfig};
use protogate_plugin_header_map::{HeaderMapConfig, HeaderMapper};
use protogate_plugin_rate_limit::{RateLimitConfig, RateLimiter};
use protogate_plugin_tracing::{Destination, Exporter, Tracer, TracingPluginConfig};
use protogate_plugin_transcoder::TranscoderConfig;

/// Plugins a later release adds; naming one is a clear error, not an
/// "unknown plugin".
const PLANNED: &[&str] = &[];

/// A decoded plugin configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum PluginConfig {
    /// `grpc_proxy`: transparent gRPC pass-through.
    GrpcProxy(Box<GrpcProxyConfig>),
    /// `transcoder`: REST and JSON to gRPC and back.
    Transcoder(Box<TranscoderConfig>),
    /// `header_map`: header and metadata rules, both directions.
    HeaderMap(Box<HeaderMapConfig>),
    /// `rate_limit`: rate and concurrency limits.
    RateLimit(Box<RateLimitConfig>),
    /// `tracing`: OpenTelemetry spans.
    Tracing(Box<TracingPluginConfig>),
}

/// What building a route's plugins needs besides their settings.
pub struct BuildCx<'a> {
    /// The descriptor catalog.
    pub catalog: &'a Catalog,
    /// The route's name (a metric label).
    pub route: &'a str,
    /// Where the route is written, for errors found while building.
    pub route_span: Span,
    /// The route's path in the file.
    pub route_path: &'a YamlPath,
    /// Whether the plugin comes from the global list (its budgets, say,
    /// are then shared by every route).
    pub global: bool,
    /// The gateway's metrics.
    pub metrics: &'a Metrics,
    /// The top-level `tracing` section: where spans go.
    pub tracing: Option<&'a protogate_config::TracingConfig>,
}

impl PluginConfig {
    /// Every plugin name this build knows.
    pub const NAMES: &'static [&'static str] = &[
        protogate_plugin_grpc_proxy::NAME,
        protogate_plugin_transcoder::NAME,
        protogate_plugin_header_map::NAME,
        protogate_plugin_rate_limit::NAME,
        protogate_plugin_tracing::NAME,
    ];

    /// The config file's JSON Schema (`protogate schema`), with every
    /// plugin's settings as the choices of a plugin list item. Whether a
    /// plugin may be named without settings (`- grpc_proxy:`) is asked of
    /// its decoder, so the schema cannot disagree with it.
    pub fn config_schema() -> Schema {
        protogate_config::schema::document(|g| {
            let settings = [
                (
                    protogate_plugin_grpc_proxy::NAME,
                    protogate_plugin_grpc_proxy::settings_schema(g),
                ),
                (
                    protogate_plugin_transcoder::NAME,
                    protogate_plugin_transcoder::settings_schema(g),
                ),
                (
                    protogate_plugin_header_map::NAME,
                    protogate_plugin_header_map::settings_schema(g),
                ),
                (
                    protogate_plugin_rate_limit::NAME,
                    protogate_plugin_rate_limit::settings_schema(g),
                ),
                (
                    protogate_plugin_tracing::NAME,
                    protogate_plugin_tracing::settings_schema(g),
                ),
            ];
            settings
                .into_iter()
                .map(|(name, schema)| (name, schema, Self::takes_no_settings(name)))
                .collect()
        })
    }

    /// Whether `- name:` with no settings decodes without an error.
    fn takes_no_settings(name: &str) -> bool {
        let entry = PluginEntry {
            name: name.to_owned(),
            span: Span::default(),
            path: YamlPath::root().key(name),
            body: Node::new(Value::Null, Span::default()),
        };
        let mut d = Decoder::new(std::path::PathBuf::from("schema.yaml"));
        Self::decode(&entry, &mut d).is_some() && !d.has_errors()
    }

    /// Decodes one `- name: {...}` list entry, recording any error.
    pub fn decode(entry: &PluginEntry, d: &mut Decoder) -> Option<Self> {
        match entry.name.as_str() {
            protogate_plugin_grpc_proxy::NAME => {
                GrpcProxyConfig::decode(&entry.body, &entry.path, d)
                    .map(|c| Self::GrpcProxy(Box::new(c)))
            }
            protogate_plugin_transcoder::NAME => {
                TranscoderConfig::decode(&entry.body, &entry.path, d)
                    .map(|c| Self::Transcoder(Box::new(c)))
            }
            protogate_plugin_header_map::NAME => {
                HeaderMapConfig::decode(&entry.body, &entry.path, d)
                    .map(|c| Self::HeaderMap(Box::new(c)))
            }
            protogate_plugin_rate_limit::NAME => {
                RateLimitConfig::decode(&entry.body, &entry.path, d)
                    .map(|c| Self::RateLimit(Box::new(c)))
            }
            protogate_plugin_tracing::NAME => {
                TracingPluginConfig::decode(&entry.body, &entry.path, d)
                    .map(|c| Self::Tracing(Box::new(c)))
            }
            name if PLANNED.contains(&name) => {
                d.error(
                    entry.span,
                    &entry.path,
                    format!("plugin `{name}` is not available in this version of protogate yet"),
                );
                None
            }
            name => {
                d.error(
                    entry.span,
                    &entry.path,
                    format!(
                        "unknown plugin `{name}`; expected one of: {}",
                        Self::NAMES.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// The name used in the config file.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GrpcProxy(_) => protogate_plugin_grpc_proxy::NAME,
            Self::Transcoder(_) => protogate_plugin_transcoder::NAME,
            Self::HeaderMap(_) => protogate_plugin_header_map::NAME,
            Self::RateLimit(_) => protogate_plugin_rate_limit::NAME,
            Self::Tracing(_) => protogate_plugin_tracing::NAME,
        }
    }

    /// The `grpc_proxy` settings, if this is that plugin: the proxy's own
    /// gRPC forwarding applies them.
    pub fn as_grpc_proxy(&self) -> Option<&GrpcProxyConfig> {
        match self {
            Self::GrpcProxy(settings) => Some(settings),
            _ => None,
        }
    }

    /// The `header_map` settings, if this is that plugin.
    pub fn as_header_map(&self) -> Option<&HeaderMapConfig> {
        match self {
            Self::HeaderMap(settings) => Some(settings),
            _ => None,
        }
    }

    /// The `transcoder` settings, if this is that plugin.
    pub fn as_transcoder(&self) -> Option<&TranscoderConfig> {
        match self {
            Self::Transcoder(settings) => Some(settings),
            _ => None,
        }
    }

    /// The default configuration of `grpc_proxy`, given to every route that
    /// matches gRPC callers and does not name it.
    pub fn default_grpc_proxy() -> Self {
        Self::GrpcProxy(Box::default())
    }

    /// Builds the plugin for one route's chain. Plugins that refer to the
    /// descriptor catalog check those names here, recording errors in `d`;
    /// `None` when that failed.
    pub fn build(&self, cx: &BuildCx<'_>, d: &mut Decoder) -> Option<Arc<dyn DynPlugin>> {
        match self {
            Self::GrpcProxy(config) => Some(Arc::new(GrpcProxy::new((**config).clone()))),
            Self::Transcoder(config) => protogate_plugin_transcoder::build(config, cx.catalog, d)
                .map(|t| Arc::new(t) as Arc<dyn DynPlugin>),
            Self::HeaderMap(config) => Some(Arc::new(HeaderMapper::new((**config).clone()))),
            Self::RateLimit(config) => {
                let scope = if cx.global { "global" } else { cx.route };
                match RateLimiter::new((**config).clone(), scope, cx.route, cx.metrics) {
                    Ok(limiter) => Some(Arc::new(limiter)),
                    Err(message) => {
                        d.error(
                            cx.route_span,
                            cx.route_path,
                            format!("rate_limit: {message}"),
                        );
                        None
                    }
                }
            }
            Self::Tracing(config) => {
                let Some(section) = cx.tracing else {
                    d.error(
                        cx.route_span,
                        cx.route_path,
                        "the tracing plugin needs the top-level `tracing` section (where spans go)",
                    );
                    return None;
                };
                let destination = Destination {
                    endpoint: section.otlp_endpoint.clone(),
                    service_name: section.service_name.clone(),
                    batch: section.batch,
                };
                let exporter = Exporter::shared(destination, cx.metrics.tracing());
                Some(Arc::new(Tracer::new((**config).clone(), exporter)))
            }
        }
    }
}
