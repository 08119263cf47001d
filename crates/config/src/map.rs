//! A mapping decoded in file order, keys kept with their positions.

use crate::decode::{Decode, Spanned};
use crate::decoder::Decoder;
use crate::node::Node;
use crate::path::YamlPath;

/// A string-keyed mapping whose entries stay in the order they were written,
/// each key with its position: for name -> settings sections (`upstreams`)
/// and for maps whose order means something (`set: { a: 1, b: 2 }`).
///
/// Keys are unique: a key written twice is reported when the file is parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderedMap<T> {
    /// Entries in file order.
    pub entries: Vec<(Spanned<String>, T)>,
}

impl<T> Default for OrderedMap<T> {
    fn default() -> Self {
        OrderedMap {
            entries: Vec::new(),
        }
    }
}

impl<T> OrderedMap<T> {
    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    /// The entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &T)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.value.as_str())
    }
}

impl<T> IntoIterator for OrderedMap<T> {
    type Item = (Spanned<String>, T);
    type IntoIter = std::vec::IntoIter<(Spanned<String>, T)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Every value is decoded (all problems reported); `None` when any key is
/// not a string or any value failed.
impl<T: Decode> Decode for OrderedMap<T> {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let Some(pairs) = node.as_map() else {
            d.expected(node, path, "a mapping");
            return None;
        };
        let mut entries = Vec::with_capacity(pairs.len());
        let mut failed = false;
        for (key, value) in pairs {
            let Some(name) = key.as_str() else {
                d.expected(key, path, "a string key");
                failed = true;
                continue;
            };
            match T::decode(value, &path.key(name), d) {
                Some(v) => entries.push((
                    Spanned {
                        value: name.to_owned(),
                        span: key.span,
                    },
                    v,
                )),
                None => failed = true,
            }
        }
        (!failed).then_some(OrderedMap { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Span;
    use crate::parse::parse_document;
    use std::path::PathBuf;

    #[test]
    fn keeps_file_order_and_key_positions() {
        let mut d = Decoder::new(PathBuf::from("t.yaml"));
        let node = parse_document("zeta: 1\nalpha: 2\n", &mut d).expect("valid YAML");
        let map = OrderedMap::<u32>::decode(&node, &YamlPath::root(), &mut d).expect("a map");
        assert_eq!(map.keys().collect::<Vec<_>>(), ["zeta", "alpha"]);
        assert_eq!(map.get("alpha"), Some(&2));
        assert_eq!(map.entries[1].0.span, Span::new(2, 1));
        assert!(!d.has_errors());
    }

    #[test]
    fn reports_bad_values_under_their_key() {
        let mut d = Decoder::new(PathBuf::from("t.yaml"));
        let node = parse_document("a: 1\nb: x\n", &mut d).expect("valid YAML");
        let map = OrderedMap::<u32>::decode(&node, &YamlPath::root().key("m"), &mut d);
        assert!(map.is_none());
        assert_eq!(
            d.into_diagnostics().to_string(),
            "t.yaml:2:4: m.b: expected a whole number, found the string `x`"
        );
    }
}
