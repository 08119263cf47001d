//! `routes`: which calls go to which upstream, through which plugins.

use std::borrow::Cow;

use super::matcher::{decode_match, MatchConfig};
use super::plugins::{decode_plugins, PluginEntry};
use crate::decode::{Decode, Spanned};
use crate::decoder::Decoder;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, PluginEntryName, Schema, SchemaGenerator};
use crate::units::Timeout;

/// One route.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteConfig {
    /// Unique; used in metrics and logs.
    pub name: String,
    /// Where the route's entry starts.
    pub span: Span,
    /// The route's YAML path (`routes[2]`).
    pub path: YamlPath,
    /// Which calls the route takes.
    pub matcher: MatchConfig,
    /// The upstream's name; checked to be declared under `upstreams`.
    pub upstream: Spanned<String>,
    /// Overrides the upstream's `timeout`; `None`: the upstream's.
    pub timeout: Option<Timeout>,
    /// The route's own plugins, after the global ones.
    pub plugins: Vec<PluginEntry>,
}

impl Decode for RouteConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "a route (`name`, `match`, `upstream`, ...)")?;
        let name = f.required::<Spanned<String>>(d, "name");
        let matcher = match f.node("match") {
            Some(m) => decode_match(m, &path.key("match"), d),
            None => {
                d.error(f.span(), path, "missing required key `match`");
                None
            }
        };
        let upstream = f.required::<Spanned<String>>(d, "upstream");
        let timeout = f.optional(d, "timeout");
        let plugins = f
            .node("plugins")
            .map(|p| decode_plugins(p, &path.key("plugins"), d))
            .unwrap_or_default();
        f.finish(d);
        if let Some(n) = &name {
            if n.value.trim().is_empty() {
                d.error(n.span, &path.key("name"), "a route name must not be empty");
                return None;
            }
        }
        Some(RouteConfig {
            name: name?.value,
            span: node.span,
            path: path.clone(),
            matcher: matcher?,
            upstream: upstream?,
            timeout,
            plugins,
        })
    }
}

impl JsonSchema for RouteConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Route")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "One route: calls that `match` go to `upstream` through `plugins`; the most specific match wins.",
            &["name", "match", "upstream"],
            vec![
                (
                    "name",
                    schema::string("unique; the `route` label of metrics and logs"),
                ),
                ("match", g.subschema_for::<MatchConfig>()),
                (
                    "upstream",
                    schema::string("the name of an entry under `upstreams`"),
                ),
                (
                    "timeout",
                    schema::timeout(
                        "cap for a call without grpc-timeout; default: the upstream's",
                    ),
                ),
                (
                    "plugins",
                    schema::array(
                        "the route's plugins, run after the global ones",
                        g.subschema_for::<PluginEntryName>(),
                    ),
                ),
            ],
        )
    }
}
