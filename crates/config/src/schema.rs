//! The JSON Schema of the config file, for editors (completion, hover,
//! checks as you type) and CI linters.
//!
//! Each config type describes its YAML shape next to its [`Decode`] impl
//! (a hand-written [`JsonSchema`] impl, since the YAML shape is not the
//! Rust struct's: durations are text, targets are `host:port` strings,
//! upstreams are a mapping by name). Keyword lists and unit names come from
//! the same constants the decoders use. The gateway adds the plugins'
//! schemas and writes the whole document with `protogate schema`; the
//! committed `conf/protogate.schema.json` is checked against it by a test,
//! which also checks every mapping's keys against the decoder's.
//!
//! The schema is looser than `protogate check` where JSON Schema cannot
//! follow (a key that must name a declared upstream, a key belonging to the
//! certificate): `check` stays the authority; the schema catches typos and
//! shapes early.
//!
//! [`Decode`]: crate::Decode

use std::borrow::Cow;

pub use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

use crate::units::{DURATION_UNITS, SIZE_UNITS};

/// Where the published schema lives, as `$id`.
pub const SCHEMA_ID: &str =
    "https://github.com/protogate/protogate/blob/main/conf/protogate.schema.json";

/// A closed mapping: `properties` and no other key; `required` must appear.
pub fn object(description: &str, required: &[&str], properties: Vec<(&str, Schema)>) -> Schema {
    let mut props = Map::new();
    for (key, schema) in properties {
        props.insert(key.to_owned(), schema.to_value());
    }
    let mut schema = json_schema!({
        "type": "object",
        "description": description,
        "properties": props,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema.insert("required".to_owned(), required.into());
    }
    schema
}

/// `schema` with a description (for editors' hover text).
pub fn described(mut schema: Schema, description: &str) -> Schema {
    schema.insert("description".to_owned(), description.into());
    schema
}

/// A string.
pub fn string(description: &str) -> Schema {
    json_schema!({ "type": "string", "description": description })
}

/// A string matching `pattern` (ECMA-262, as JSON Schema uses).
pub fn pattern(description: &str, pattern: &str) -> Schema {
    json_schema!({ "type": "string", "description": description, "pattern": pattern })
}

/// One of these keywords.
pub fn keyword(description: &str, words: &[&str]) -> Schema {
    json_schema!({ "type": "string", "description": description, "enum": words })
}

/// One of the words of a decoder's keyword table (`&[("word", value)]`),
/// so the schema lists exactly what the decoder accepts.
pub fn keyword_of<T>(description: &str, table: &[(&str, T)]) -> Schema {
    let words: Vec<&str> = table.iter().map(|(word, _)| *word).collect();
    keyword(description, &words)
}

/// A boolean.
pub fn boolean(description: &str) -> Schema {
    json_schema!({ "type": "boolean", "description": description })
}

/// An integer of at least `min`.
pub fn integer(description: &str, min: u64) -> Schema {
    json_schema!({ "type": "integer", "description": description, "minimum": min })
}

/// A number between `min` and `max`.
pub fn number(description: &str, min: f64, max: f64) -> Schema {
    json_schema!({ "type": "number", "description": description, "minimum": min, "maximum": max })
}

/// A list of `items`.
pub fn array(description: &str, items: Schema) -> Schema {
    json_schema!({ "type": "array", "description": description, "items": items })
}

/// A list of at least one of `items`.
pub fn non_empty_array(description: &str, items: Schema) -> Schema {
    json_schema!({ "type": "array", "description": description, "items": items, "minItems": 1 })
}

/// A mapping from names the user picks to `values`.
pub fn map_of(description: &str, values: Schema) -> Schema {
    json_schema!({ "type": "object", "description": description, "additionalProperties": values })
}

/// Any one of `choices`.
pub fn any_of(description: &str, choices: Vec<Schema>) -> Schema {
    let choices: Vec<Value> = choices.into_iter().map(Schema::to_value).collect();
    json_schema!({ "description": description, "anyOf": choices })
}

/// A file path, relative to the config file's directory unless absolute.
pub fn file_path(description: &str) -> Schema {
    json_schema!({ "type": "string", "description": description, "minLength": 1 })
}

/// A duration as the decoder reads it: `250ms`, `30s`, `1h30m`, `1.5s`.
pub fn duration(description: &str) -> Schema {
    let units = alternatives(DURATION_UNITS.iter().map(|(unit, _)| *unit));
    pattern(description, &format!(r"^\s*(\d+(\.\d+)?\s*({units})\s*)+$"))
}

/// A duration, or `off` for no limit.
pub fn timeout(description: &str) -> Schema {
    any_of(
        description,
        vec![
            duration("a limit, like `30s`"),
            keyword("no limit", &["off"]),
        ],
    )
}

/// A size: bytes as an integer, or `64KiB`, `4MiB`, `10kB`.
pub fn byte_size(description: &str) -> Schema {
    let units = alternatives(SIZE_UNITS.iter().map(|(unit, _)| *unit));
    any_of(
        description,
        vec![
            integer("bytes", 0),
            pattern(
                "a size with a unit",
                &format!(r"^\s*\d+(\.\d+)?\s*({units})?\s*$"),
            ),
        ],
    )
}

/// `host:port`, `[v6]:port`.
pub fn host_port(description: &str) -> Schema {
    pattern(
        description,
        r"^(\[[0-9A-Fa-f:.]+\]|[^:\s\[\]]+):[0-9]{1,5}$",
    )
}

/// Regex alternatives, longest first so a prefix never wins (`ms` before `m`).
fn alternatives<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let mut words: Vec<&str> = words.collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.join("|")
}

/// The whole document: the core config's schema, with each plugin list
/// item a choice among `plugins`: the name, settings schema and whether
/// settings may be left out, of every plugin the gateway knows (made with
/// the generator it is given, so their definitions land in the same
/// `$defs`).
pub fn document(
    plugins: impl FnOnce(&mut SchemaGenerator) -> Vec<(&'static str, Schema, bool)>,
) -> Schema {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut root = generator.root_schema_for::<crate::GatewayConfig>();
    root.insert("$id".to_owned(), SCHEMA_ID.into());
    root.insert("title".to_owned(), "protogate configuration".into());
    let entries: Vec<Value> = plugins(&mut generator)
        .into_iter()
        .map(|(name, settings, takes_null)| plugin_entry(name, settings, takes_null).to_value())
        .collect();
    let entry = json_schema!({
        "description": "one plugin: `- name: { settings }`",
        "oneOf": entries,
    });
    let mut defs = generator.definitions().clone();
    if let Some(Value::Object(core)) = root.get("$defs") {
        defs.extend(core.clone());
    }
    defs.insert(PluginEntryName::NAME.to_owned(), entry.to_value());
    root.insert("$defs".to_owned(), Value::Object(defs));
    root
}

/// `{ name: settings }`; with `takes_null`, `- name:` alone (the plugin's
/// defaults) too.
fn plugin_entry(name: &str, settings: Schema, takes_null: bool) -> Schema {
    let settings = if takes_null {
        any_of(
            &format!("the `{name}` plugin's settings (none: its defaults)"),
            vec![settings, json_schema!({ "type": "null" })],
        )
    } else {
        described(settings, &format!("the `{name}` plugin's settings"))
    };
    let mut props = Map::new();
    props.insert(name.to_owned(), settings.to_value());
    json_schema!({
        "type": "object",
        "properties": props,
        "required": [name],
        "additionalProperties": false,
    })
}

/// The `$defs` name of a plugin list item, which [`document`] fills in.
pub struct PluginEntryName;

impl PluginEntryName {
    pub const NAME: &'static str = "PluginEntry";
}

impl JsonSchema for PluginEntryName {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(Self::NAME)
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "one plugin: `- name: { settings }`",
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_units_come_first() {
        assert_eq!(alternatives(["m", "ms", "h"].into_iter()), "ms|m|h");
    }
}
