//! Plugin lists (global `plugins` and each route's `plugins`).
//!
//! Only the list's shape is checked here: one single-key mapping per item,
//! no name twice. Which names exist and what their settings mean belong to
//! the gateway, which decodes each `body` with [`Fields`](crate::Fields) into
//! the same [`Decoder`], so its errors print with the rest.

use crate::decoder::Decoder;
use crate::node::{Node, Span};
use crate::path::YamlPath;

/// One `- name: { settings }` item of a plugin list.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginEntry {
    /// The plugin's name as written (not checked here).
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// The settings' YAML path, e.g. `routes[2].plugins[0].rate_limit`:
    /// decode `body` with this path so errors name the right key.
    pub path: YamlPath,
    /// The settings, raw (null when the plugin is named without settings).
    pub body: Node,
}

/// Reads a plugin list, keeping every well-formed item even when others are
/// reported.
pub(crate) fn decode_plugins(node: &Node, path: &YamlPath, d: &mut Decoder) -> Vec<PluginEntry> {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            d.expected(node, path, "a list of plugins like `- rate_limit: { ... }`");
        }
        return Vec::new();
    };
    let mut out: Vec<PluginEntry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let Some(entries) = item.as_map() else {
            let hint = match item.as_str() {
                Some(name) => format!("; write `- {name}: {{}}` to use its defaults"),
                None => String::new(),
            };
            let found = item.describe();
            d.error(
                item.span,
                &item_path,
                format!("expected a plugin as a single-key mapping like `- rate_limit: {{ ... }}`, found {found}{hint}"),
            );
            continue;
        };
        let [(key, body)] = entries else {
            let names: Vec<String> = entries
                .iter()
                .filter_map(|(k, _)| k.scalar_text())
                .map(|k| format!("`{k}`"))
                .collect();
            let message = if entries.is_empty() {
                "a plugin entry names one plugin; this one is empty".to_owned()
            } else {
                format!(
                    "a plugin entry names exactly one plugin, found {} ({}); start each plugin with its own `-`",
                    entries.len(),
                    names.join(", ")
                )
            };
            d.error(item.span, &item_path, message);
            continue;
        };
        let Some(name) = key.as_str() else {
            d.expected(key, &item_path, "a plugin name");
            continue;
        };
        if let Some(first) = out.iter().find(|p| p.name == name) {
            d.error(
                key.span,
                &item_path.key(name),
                format!(
                    "plugin `{name}` is named twice in this list (also at line {})",
                    first.span.line
                ),
            );
            continue;
        }
        out.push(PluginEntry {
            name: name.to_owned(),
            span: key.span,
            path: item_path.key(name),
            body: body.clone(),
        });
    }
    out
}
