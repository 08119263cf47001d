//! The closed set of plugins: one variant per plugin, one decode arm, one
//! build arm. Adding a plugin means a folder under plugins/ and three lines
//! here; nothing registers itself by side effect.

use std::sync::Arc;

use protogate_config::{Decode, Decoder, PluginEntry};
use protogate_core::DynPlugin;
use protogate_plugin_grpc_proxy::{GrpcProxy, GrpcProxyConfig};

/// Plugins a later release adds; naming one is a clear error, not an
/// "unknown plugin".
const PLANNED: &[&str] = &["transcoder", "rate_limit", "header_map", "tracing"];

/// A decoded plugin configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum PluginConfig {
    /// `grpc_proxy`: transparent gRPC pass-through.
    GrpcProxy(GrpcProxyConfig),
}

impl PluginConfig {
    /// Every plugin name this build knows.
    pub const NAMES: &'static [&'static str] = &[protogate_plugin_grpc_proxy::NAME];

    /// Decodes one `- name: {...}` list entry, recording any error.
    pub fn decode(entry: &PluginEntry, d: &mut Decoder) -> Option<Self> {
        match entry.name.as_str() {
            protogate_plugin_grpc_proxy::NAME => {
                GrpcProxyConfig::decode(&entry.body, &entry.path, d).map(Self::GrpcProxy)
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
        }
    }

    /// The `grpc_proxy` settings, if this is that plugin: the proxy's own
    /// gRPC forwarding applies them.
    pub fn as_grpc_proxy(&self) -> Option<&GrpcProxyConfig> {
        match self {
            Self::GrpcProxy(settings) => Some(settings),
        }
    }

    /// The default configuration of `grpc_proxy`, given to every route that
    /// matches gRPC callers and does not name it.
    pub fn default_grpc_proxy() -> Self {
        Self::GrpcProxy(GrpcProxyConfig::default())
    }

    /// Builds the plugin for one route's chain.
    pub fn build(&self) -> Arc<dyn DynPlugin> {
        match self {
            Self::GrpcProxy(config) => Arc::new(GrpcProxy::new(config.clone())),
        }
    }
}
