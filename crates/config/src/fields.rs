//! Reading one mapping key by key, then reporting the keys nobody asked for.

use crate::decode::Decode;
use crate::decoder::Decoder;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::suggest::did_you_mean;

/// One mapping being decoded into a struct.
///
/// Ask for each key the struct knows ([`required`](Self::required),
/// [`optional`](Self::optional), [`node`](Self::node)), then call
/// [`finish`](Self::finish): every key that was not asked for is reported as
/// unknown, with the list of known keys and a suggestion when one is close.
/// This is how unknown keys become errors without serde's
/// `deny_unknown_fields`, and without stopping at the first one.
#[derive(Debug)]
pub struct Fields<'n> {
    /// (key text, key node, value node) in file order.
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
    /// Whether entry i was asked for.
    used: Vec<bool>,
    /// Every key asked for, in the order asked: the "expected one of" list.
    known: Vec<String>,
    span: Span,
    path: YamlPath,
}

impl<'n> Fields<'n> {
    pub(crate) fn new(
        entries: Vec<(&'n str, &'n Node, &'n Node)>,
        span: Span,
        path: YamlPath,
    ) -> Self {
        let used = vec![false; entries.len()];
        Fields {
            entries,
            used,
            known: Vec::new(),
            span,
            path,
        }
    }

    /// Where the mapping starts.
    pub fn span(&self) -> Span {
        self.span
    }

    /// The YAML path of the mapping.
    pub fn path(&self) -> &YamlPath {
        &self.path
    }

    /// Whether the mapping has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key's value node, marking `key` as known. `None` when absent.
    pub fn node(&mut self, key: &str) -> Option<&'n Node> {
        if !self.known.iter().any(|k| k == key) {
            self.known.push(key.to_owned());
        }
        let i = self.entries.iter().position(|(k, _, _)| *k == key)?;
        self.used[i] = true;
        Some(self.entries[i].2)
    }

    /// The key's value node and its key node's span (for errors that point
    /// at the key rather than the value), marking `key` as known.
    pub fn entry(&mut self, key: &str) -> Option<(Span, &'n Node)> {
        let value = self.node(key)?;
        let i = self.entries.iter().position(|(k, _, _)| *k == key)?;
        Some((self.entries[i].1.span, value))
    }

    /// Decodes `key`, recording "missing required key `key`" at the mapping
    /// when it is absent.
    pub fn required<T: Decode>(&mut self, d: &mut Decoder, key: &str) -> Option<T> {
        match self.node(key) {
            Some(node) => T::decode(node, &self.path.key(key), d),
            None => {
                d.error(
                    self.span,
                    &self.path,
                    format!("missing required key `{key}`"),
                );
                None
            }
        }
    }

    /// Decodes `key` when present; absent or null gives `None` without error.
    pub fn optional<T: Decode>(&mut self, d: &mut Decoder, key: &str) -> Option<T> {
        let node = self.node(key)?;
        if node.is_null() {
            return None;
        }
        T::decode(node, &self.path.key(key), d)
    }

    /// Reports every key that was never asked for:
    /// "unknown key `burts`; expected one of: requests, per, burst; did you mean `burst`?"
    pub fn finish(self, d: &mut Decoder) {
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        for (i, (key, key_node, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let mut message = if known.is_empty() {
                format!("unknown key `{key}`; this mapping takes no keys")
            } else {
                format!("unknown key `{key}`; expected one of: {}", known.join(", "))
            };
            if let Some(close) = did_you_mean(key, &known) {
                message.push_str(&format!("; did you mean `{close}`?"));
            }
            d.error(key_node.span, &self.path.key(key), message);
        }
    }
}
