//! One section's rules (`request`, `response` or `trailers`), decoded and
//! checked when the config loads, then applied per call in a fixed order:
//! `remove`, `rename`, `set`, `add`.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use protogate_core::schema::{self, json_schema, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{Decode, Decoder, Node, OrderedMap, Spanned, YamlPath};

use crate::names::{check, Use};
use crate::template::{Sources, Template};

/// The rules of one section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    remove: Vec<HeaderName>,
    /// `(from, to)`: the values of `from` move to `to`, replacing it.
    rename: Vec<(HeaderName, Name)>,
    /// Replace the header's values with one.
    set: Vec<(Name, Template)>,
    /// Append a value.
    add: Vec<(Name, Template)>,
    /// What `protogate routes` prints: rules after parsing, with notes.
    described: Vec<String>,
}

/// A name a rule writes, in both forms the header types take: Pingora's
/// headers parse a name from bytes on every write (a cheap `Bytes` clone
/// here, instead of title-casing a `HeaderName` first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    header: HeaderName,
    wire: Bytes,
}

impl Name {
    /// The name in both forms, built once (at load).
    pub fn new(header: HeaderName) -> Self {
        let wire = Bytes::copy_from_slice(header.as_str().as_bytes());
        Self { header, wire }
    }
}

/// Values of a section's templated rules for one call, by position in
/// `set` then `add`; `None` for a constant rule or a skipped one.
pub type Values = Vec<Option<HeaderValue>>;

/// What a section's rules act on: Pingora's request and response headers
/// (which keep header-name case for HTTP/1) and plain trailer maps.
pub trait Headers {
    /// Every value under `name`, in order.
    fn values(&self, name: &HeaderName) -> Vec<HeaderValue>;
    /// Removes every value under `name`.
    fn remove(&mut self, name: &HeaderName);
    /// Replaces every value under `name` with `value`.
    fn set(&mut self, name: &Name, value: HeaderValue);
    /// Appends `value` under `name`.
    fn add(&mut self, name: &Name, value: HeaderValue);
    /// Moves every value of `from` to `to`, replacing `to`'s values; does
    /// nothing when `from` is absent.
    fn rename(&mut self, from: &HeaderName, to: &Name) {
        let moved = self.values(from);
        if moved.is_empty() {
            return;
        }
        self.remove(from);
        self.remove(&to.header);
        for value in moved {
            self.add(to, value);
        }
    }
    /// Makes room for `additional` more names, so applying the rules grows
    /// the map at most once (Pingora's headers offer no way to).
    fn reserve(&mut self, _additional: usize) {}
    /// Runs `rules` over these headers, one write at a time. Pingora's
    /// headers edit their inner `HeaderMap` instead when they can
    /// ([`protogate_core::parts`]).
    fn apply_rules(&mut self, rules: &Rules, values: &[Option<HeaderValue>])
    where
        Self: Sized,
    {
        rules.apply_each(self, values);
    }
}

impl Rules {
    /// Whether the section has no rule.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.set.is_empty()
            && self.add.is_empty()
    }

    /// Whether a rule's value needs the call (a template with variables).
    pub fn needs_values(&self) -> bool {
        self.set
            .iter()
            .chain(&self.add)
            .any(|(_, t)| t.has_variables())
    }

    /// Evaluates the templated rules for one call (see [`Values`]).
    pub fn evaluate(&self, sources: &Sources<'_>) -> Values {
        self.set
            .iter()
            .chain(&self.add)
            .map(|(name, template)| {
                if !template.has_variables() {
                    return None;
                }
                let value = template.evaluate(sources)?;
                binary_ok(&name.header, &value).then_some(value)
            })
            .collect()
    }

    /// Applies the rules to `headers`. `values` are the call's evaluated
    /// templates; a templated rule without a value is skipped.
    pub fn apply(&self, headers: &mut impl Headers, values: &[Option<HeaderValue>]) {
        if !self.is_empty() {
            headers.apply_rules(self, values);
        }
    }

    /// [`Self::apply`], through the [`Headers`] operations.
    fn apply_each(&self, headers: &mut impl Headers, values: &[Option<HeaderValue>]) {
        headers.reserve(self.rename.len() + self.set.len() + self.add.len());
        for name in &self.remove {
            headers.remove(name);
        }
        for (from, to) in &self.rename {
            headers.rename(from, to);
        }
        let value_of = |index: usize, template: &Template| {
            template
                .constant()
                .cloned()
                .or_else(|| values.get(index).cloned().flatten())
        };
        for (index, (name, template)) in self.set.iter().enumerate() {
            if let Some(value) = value_of(index, template) {
                headers.set(name, value);
            }
        }
        let offset = self.set.len();
        for (index, (name, template)) in self.add.iter().enumerate() {
            if let Some(value) = value_of(offset + index, template) {
                headers.add(name, value);
            }
        }
    }

    /// The path variables the rules' values name.
    pub fn path_variables(&self) -> impl Iterator<Item = &str> {
        self.set
            .iter()
            .chain(&self.add)
            .flat_map(|(_, t)| t.path_variables())
    }

    /// Whether a rule's value names `${request_id}`.
    pub fn uses_request_id(&self) -> bool {
        self.set
            .iter()
            .chain(&self.add)
            .any(|(_, t)| t.uses_request_id())
    }

    /// Whether a rule may write `name` (`set`, `add`, a `rename` target).
    pub fn writes(&self, name: &str) -> bool {
        self.set
            .iter()
            .chain(&self.add)
            .any(|(n, _)| n.header == name)
            || self.rename.iter().any(|(_, to)| to.header == name)
    }

    /// The rules as `protogate routes` prints them, one per line.
    pub fn describe(&self) -> &[String] {
        &self.described
    }
}

/// A `-bin` value must be base64 (padded or not): it stays binary end to end.
fn binary_ok(name: &HeaderName, value: &HeaderValue) -> bool {
    if !name.as_str().ends_with("-bin") {
        return true;
    }
    value.as_bytes().split(|&b| b == b',').all(|part| {
        let part = part.trim_ascii();
        let unpadded = part
            .strip_suffix(b"==")
            .or_else(|| part.strip_suffix(b"="))
            .unwrap_or(part);
        STANDARD_NO_PAD.decode(unpadded).is_ok()
    })
}

impl Decode for Rules {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "a header_map section")?;
        let remove = fields.optional::<Vec<Spanned<String>>>(d, "remove");
        let rename = fields.optional::<OrderedMap<Spanned<String>>>(d, "rename");
        let set = fields.optional::<OrderedMap<Spanned<String>>>(d, "set");
        let add = fields.optional::<OrderedMap<Spanned<String>>>(d, "add");
        let allowed = fields
            .optional::<Vec<String>>(d, "allow_reserved")
            .unwrap_or_default();
        fields.finish(d);

        let mut rules = Rules::default();
        let mut ok = true;
        let name = |text: &str, span, at: &YamlPath, use_, rules: &mut Rules, d: &mut Decoder| {
            match check(text, use_, &allowed) {
                Ok(checked) => {
                    if let Some(from) = &checked.renamed_from {
                        rules.described.push(format!(
                            "note: `{from}` is reserved for gRPC and is written as `{}`",
                            checked.name
                        ));
                    }
                    Some(checked.name)
                }
                Err(message) => {
                    d.error(span, at, message);
                    None
                }
            }
        };
        for entry in remove.unwrap_or_default() {
            let at = path.key("remove");
            match name(&entry.value, entry.span, &at, Use::Remove, &mut rules, d) {
                Some(n) => {
                    rules.described.push(format!("remove {n}"));
                    rules.remove.push(n);
                }
                None => ok = false,
            }
        }
        for (from, to) in rename.unwrap_or_default() {
            let at = path.key("rename");
            let source = name(&from.value, from.span, &at, Use::Remove, &mut rules, d);
            let target = name(
                &to.value,
                to.span,
                &at.key(&from.value),
                Use::Write,
                &mut rules,
                d,
            );
            match (source, target) {
                (Some(f), Some(t)) => {
                    rules.described.push(format!("rename {f} -> {t}"));
                    rules.rename.push((f, Name::new(t)));
                }
                _ => ok = false,
            }
        }
        for (op, entries) in [("set", set), ("add", add)] {
            for (key, value) in entries.unwrap_or_default() {
                let at = path.key(op);
                let entry_path = at.key(&key.value);
                let target = name(&key.value, key.span, &at, Use::Write, &mut rules, d);
                let template = match Template::parse(&value.value) {
                    Ok(t) => Some(t),
                    Err(message) => {
                        d.error(value.span, &entry_path, message);
                        None
                    }
                };
                let (Some(target), Some(template)) = (target, template) else {
                    ok = false;
                    continue;
                };
                if let Some(constant) = template.constant() {
                    if !binary_ok(&target, constant) {
                        d.error(
                            value.span,
                            &entry_path,
                            format!("`{target}` is binary metadata: its value must be base64"),
                        );
                        ok = false;
                        continue;
                    }
                }
                rules
                    .described
                    .push(format!("{op} {target}: \"{template}\""));
                if op == "set" {
                    rules.set.push((Name::new(target), template));
                } else {
                    rules.add.push((Name::new(target), template));
                }
            }
        }
        ok.then_some(rules)
    }
}

/// A name a rule may give, as [`check`] reads it: a gRPC metadata name
/// (lower case letters, digits, `_`, `.`, `-`). The protected names and the
/// `grpc-*` rules are left to the decoder.
pub(crate) const NAME_PATTERN: &str = "^[0-9a-z_.-]+$";

/// A mapping from rule names to `values`, its keys held to [`NAME_PATTERN`].
fn by_name(description: &str, values: Schema) -> Schema {
    let mut schema = schema::map_of(description, values);
    schema.insert(
        "propertyNames".to_owned(),
        json_schema!({ "pattern": NAME_PATTERN }).to_value(),
    );
    schema
}

impl JsonSchema for Rules {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HeaderMapRules")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let name = |description: &str| schema::pattern(description, NAME_PATTERN);
        let value = || {
            schema::string(
                "text, or a template: ${client_ip}, ${route}, ${grpc_method}, ${request_id}, ${header.NAME}, ${query.NAME}, ${path.NAME}",
            )
        };
        schema::object(
            "One section's rules, applied in this order: remove, rename, set, add.",
            &[],
            vec![
                (
                    "remove",
                    schema::array(
                        "names whose every value is dropped",
                        name("a lower-case metadata name"),
                    ),
                ),
                (
                    "rename",
                    by_name(
                        "from: to; the values of `from` replace those of `to`",
                        name("the new name (a grpc-* name is written as in-grpc-*)"),
                    ),
                ),
                (
                    "set",
                    by_name(
                        "name: value; replaces every value (a grpc-* name is written as in-grpc-*)",
                        value(),
                    ),
                ),
                (
                    "add",
                    by_name(
                        "name: value; appends a value (a grpc-* name is written as in-grpc-*)",
                        value(),
                    ),
                ),
                (
                    "allow_reserved",
                    schema::array(
                        "grpc-* names this section may remove, rename or write as they are",
                        schema::string("a grpc-* name, like grpc-message"),
                    ),
                ),
            ],
        )
    }
}

impl Headers for HeaderMap {
    fn values(&self, name: &HeaderName) -> Vec<HeaderValue> {
        self.get_all(name).iter().cloned().collect()
    }
    fn remove(&mut self, name: &HeaderName) {
        HeaderMap::remove(self, name);
    }
    fn set(&mut self, name: &Name, value: HeaderValue) {
        self.insert(name.header.clone(), value);
    }
    fn add(&mut self, name: &Name, value: HeaderValue) {
        self.append(name.header.clone(), value);
    }
    /// Through the entry API: one lookup per name instead of four.
    fn rename(&mut self, from: &HeaderName, to: &Name) {
        let http::header::Entry::Occupied(entry) = self.entry(from) else {
            return;
        };
        let (_, mut moved) = entry.remove_entry_mult();
        let Some(first) = moved.next() else {
            return;
        };
        // The drain holds the map: collect the rest before writing.
        let rest: Vec<HeaderValue> = moved.collect();
        match self.entry(to.header.clone()) {
            http::header::Entry::Occupied(mut entry) => {
                entry.insert(first);
                rest.into_iter().for_each(|v| entry.append(v));
            }
            http::header::Entry::Vacant(entry) => {
                let mut entry = entry.insert_entry(first);
                rest.into_iter().for_each(|v| entry.append(v));
            }
        }
    }
    fn reserve(&mut self, additional: usize) {
        HeaderMap::reserve(self, additional);
    }
}

/// Pingora's headers keep a case map for HTTP/1 beside the `HeaderMap`:
/// single writes go through their own methods so both stay in step; a
/// whole section edits the inner map when there is no case map to keep.
macro_rules! pingora_headers {
    ($type:ty, $edit:path) => {
        impl Headers for $type {
            fn values(&self, name: &HeaderName) -> Vec<HeaderValue> {
                self.headers.get_all(name).iter().cloned().collect()
            }
            fn remove(&mut self, name: &HeaderName) {
                self.remove_header(name);
            }
            fn set(&mut self, name: &Name, value: HeaderValue) {
                // A checked name and a valid value: inserting cannot fail.
                let _ = self.insert_header(name.wire.clone(), value);
            }
            fn add(&mut self, name: &Name, value: HeaderValue) {
                let _ = self.append_header(name.wire.clone(), value);
            }
            fn apply_rules(&mut self, rules: &Rules, values: &[Option<HeaderValue>]) {
                if let Err(_slow) = $edit(self, |map| rules.apply_each(map, values)) {
                    rules.apply_each(self, values);
                }
            }
        }
    };
}

pingora_headers!(
    protogate_core::RequestHeader,
    protogate_core::parts::edit_request
);
pingora_headers!(
    protogate_core::ResponseHeader,
    protogate_core::parts::edit_response
);
