//! The configuration model: what the gateway runs from.
//!
//! Decoding is best effort: each section reads as much as it can and
//! records what it cannot, so one load reports every problem. The model is
//! complete and trustworthy only when no error was recorded.

mod descriptors;
mod matcher;
mod plugins;
mod route;
mod server;
mod tracing;
mod upstream;

pub use descriptors::{DescriptorEntry, DescriptorSourceConfig};
pub use matcher::MatchConfig;
pub use plugins::PluginEntry;
pub use route::RouteConfig;
pub use server::{
    default_threads, ListenConfig, ListenerTls, ServerConfig, DEFAULT_ADMIN, DEFAULT_GRACE_PERIOD,
    DEFAULT_MAX_CONCURRENT_STREAMS,
};
pub use tracing::{BatchConfig, TracingConfig, DEFAULT_SERVICE_NAME};
pub use upstream::{
    HealthCheckConfig, Target, UpstreamConfig, UpstreamProtocol, UpstreamTls,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT,
};

use std::borrow::Cow;

use crate::check;
use crate::decode::Decode;
use crate::decoder::Decoder;
use crate::node::{Node, Value};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, PluginEntryName, Schema, SchemaGenerator};

/// A whole config file.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayConfig {
    /// Listeners and process settings (need a restart to change).
    pub server: ServerConfig,
    /// Where the protobuf catalog comes from, in file order.
    pub descriptors: Vec<DescriptorEntry>,
    /// The backends, in file order.
    pub upstreams: Vec<UpstreamConfig>,
    /// The trace exporter, if any.
    pub tracing: Option<TracingConfig>,
    /// The global plugin chain, run on every route before the route's own.
    pub plugins: Vec<PluginEntry>,
    /// The routes, in file order (the first declared wins ties).
    pub routes: Vec<RouteConfig>,
}

impl GatewayConfig {
    /// The upstream named `name`.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamConfig> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    /// The route named `name`.
    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name == name)
    }
}

/// Reads the document root and runs the cross-section checks.
///
/// `None` only when the root is not a mapping; otherwise a best-effort
/// model (a missing `server` becomes a placeholder, unreadable items are
/// left out) so the gateway can still check plugin bodies and descriptors.
pub(crate) fn decode_config(root: &Node, d: &mut Decoder) -> Option<GatewayConfig> {
    let path = YamlPath::root();
    if root.is_null() {
        d.error(
            root.span,
            &path,
            "the file is empty; a config needs at least a `server` section with `listen`",
        );
        return None;
    }
    let mut f = d.fields(
        root,
        &path,
        "the config (`server`, `descriptors`, `upstreams`, `tracing`, `plugins`, `routes`)",
    )?;
    let server = f
        .required::<ServerConfig>(d, "server")
        .unwrap_or_else(ServerConfig::placeholder);
    let descriptors = f
        .node("descriptors")
        .map(|n| each::<DescriptorEntry>(n, &path.key("descriptors"), d))
        .unwrap_or_default();
    let (upstreams, declared) = f
        .node("upstreams")
        .map(|n| decode_upstreams(n, &path.key("upstreams"), d))
        .unwrap_or_default();
    let tracing = f.optional(d, "tracing");
    let plugins = f
        .node("plugins")
        .map(|n| plugins::decode_plugins(n, &path.key("plugins"), d))
        .unwrap_or_default();
    let routes = f
        .node("routes")
        .map(|n| each::<RouteConfig>(n, &path.key("routes"), d))
        .unwrap_or_default();
    let refs = f
        .node("routes")
        .map(|n| check::route_refs(n, &path.key("routes")))
        .unwrap_or_default();
    f.finish(d);
    let config = GatewayConfig {
        server,
        descriptors,
        upstreams,
        tracing,
        plugins,
        routes,
    };
    check::run(&config, &refs, &declared, d);
    Some(config)
}

/// Reads `upstreams`, returning the upstreams that decoded and the name of
/// every declared one (decoded or not), so a route naming a broken upstream
/// is not also told the upstream is missing.
fn decode_upstreams(
    node: &Node,
    path: &YamlPath,
    d: &mut Decoder,
) -> (Vec<UpstreamConfig>, Vec<String>) {
    let Some(entries) = node.as_map() else {
        if !node.is_null() {
            d.expected(node, path, "a mapping of upstream names to settings");
        }
        return (Vec::new(), Vec::new());
    };
    let mut upstreams = Vec::with_capacity(entries.len());
    let mut declared = Vec::with_capacity(entries.len());
    for (key, body) in entries {
        let Some(name) = key.as_str() else {
            d.expected(key, path, "an upstream name (a string)");
            continue;
        };
        declared.push(name.to_owned());
        if let Some(u) = upstream::decode_upstream(name, key.span, body, &path.key(name), d) {
            upstreams.push(u);
        }
    }
    (upstreams, declared)
}

/// Decodes each element of a sequence, keeping those that decode (the
/// others are reported): for lists whose good items later checks still need.
/// A null node is an empty list.
pub(crate) fn each<T: Decode>(node: &Node, path: &YamlPath, d: &mut Decoder) -> Vec<T> {
    match &node.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| T::decode(item, &path.index(i), d))
            .collect(),
        _ => {
            d.expected(node, path, "a sequence");
            Vec::new()
        }
    }
}

impl JsonSchema for GatewayConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Config")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut upstreams = schema::map_of(
            "the backends, by the name routes give in `upstream`",
            g.subschema_for::<upstream::UpstreamSchema>(),
        );
        upstreams.insert(
            "propertyNames".to_owned(),
            serde_json::json!({ "pattern": "^[A-Za-z0-9_.-]+$" }),
        );
        schema::object(
            "A protogate config file.",
            &["server"],
            vec![
                ("server", g.subschema_for::<ServerConfig>()),
                (
                    "descriptors",
                    schema::array(
                        "the protobuf catalog: per-method metric labels, transcoding, `protogate routes`",
                        g.subschema_for::<DescriptorEntry>(),
                    ),
                ),
                ("upstreams", upstreams),
                ("tracing", g.subschema_for::<TracingConfig>()),
                (
                    "plugins",
                    schema::array(
                        "plugins run on every route, before the route's own",
                        g.subschema_for::<PluginEntryName>(),
                    ),
                ),
                (
                    "routes",
                    schema::array(
                        "the routes; the most specific match wins, the first declared breaks ties",
                        g.subschema_for::<RouteConfig>(),
                    ),
                ),
            ],
        )
    }
}
