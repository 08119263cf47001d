//! The [`Decode`] trait and its implementations for plain values.
//!
//! Units (durations, sizes), addresses and the ordered map have their own
//! modules; the model's structs implement `Decode` with [`Fields`](crate::Fields).

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::node::{Node, Span, Value};
use crate::path::YamlPath;

/// A type that can be read from a config node.
///
/// `decode` records every problem it finds in `d` (at `path`, pointing at
/// the offending node) and returns `None` when it could not build a value.
/// `None` therefore always means "already reported": callers never add a
/// second error for the same node, they just go on with the rest.
pub trait Decode: Sized {
    /// Reads `node`, found at `path`.
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self>;
}

/// A decoded value with the position it was read from, for checks that run
/// later (e.g. "route `a` names upstream `x`, which is not declared").
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value starts in the file.
    pub span: Span,
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Decode> Decode for Spanned<T> {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let value = T::decode(node, path, d)?;
        Some(Spanned {
            value,
            span: node.span,
        })
    }
}

/// The node itself, untouched: for bodies decoded later by their owner
/// (plugin settings).
impl Decode for Node {
    fn decode(node: &Node, _path: &YamlPath, _d: &mut Decoder) -> Option<Self> {
        Some(node.clone())
    }
}

/// Text. Only string scalars qualify: `2024` or `true` are reported with a
/// hint to quote them, rather than silently turned into text.
impl Decode for String {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let text = node.scalar_text().unwrap_or_default();
                let found = node.describe();
                d.error(
                    node.span,
                    path,
                    format!(
                        "expected a string, found {found}; quote it to use it as text: \"{text}\""
                    ),
                );
                None
            }
            _ => {
                d.expected(node, path, "a string");
                None
            }
        }
    }
}

impl Decode for bool {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                d.expected(node, path, "`true` or `false`");
                None
            }
        }
    }
}

/// Reads an integer node and checks it fits `T`.
fn decode_int<T: TryFrom<i64>>(
    node: &Node,
    path: &YamlPath,
    d: &mut Decoder,
    max: u64,
) -> Option<T> {
    let Value::Int(i) = node.value else {
        d.expected(node, path, "a whole number");
        return None;
    };
    if i < 0 {
        d.error(
            node.span,
            path,
            format!("must not be negative, found `{i}`"),
        );
        return None;
    }
    match T::try_from(i) {
        Ok(v) => Some(v),
        Err(_) => {
            d.error(
                node.span,
                path,
                format!("`{i}` is too large; the maximum is {max}"),
            );
            None
        }
    }
}

impl Decode for u16 {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        decode_int(node, path, d, u64::from(u16::MAX))
    }
}

impl Decode for u32 {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        decode_int(node, path, d, u64::from(u32::MAX))
    }
}

impl Decode for u64 {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        // Every non-negative i64 fits.
        decode_int(node, path, d, i64::MAX.unsigned_abs())
    }
}

impl Decode for usize {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
        decode_int(node, path, d, max)
    }
}

/// A finite number; integers are accepted (`1` for `1.0`).
impl Decode for f64 {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let x = match node.value {
            // Config numbers are small; the conversion is exact for them.
            Value::Int(i) => i as f64,
            Value::Float(x) => x,
            _ => {
                d.expected(node, path, "a number");
                return None;
            }
        };
        if !x.is_finite() {
            d.error(
                node.span,
                path,
                format!("expected a finite number, found `{x}`"),
            );
            return None;
        }
        Some(x)
    }
}

/// A file or directory path, resolved against the config file's directory.
/// The path is not checked for existence here: whoever opens it reports that.
impl Decode for PathBuf {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let text = String::decode(node, path, d)?;
        if text.is_empty() {
            d.error(node.span, path, "a path must not be empty");
            return None;
        }
        Some(d.resolve_path(&text))
    }
}

/// A sequence. Every element is decoded, so the problems of all of them are
/// reported; the result is `None` when any element failed.
impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let Some(items) = node.as_seq() else {
            d.expected(node, path, "a sequence");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut failed = false;
        for (i, item) in items.iter().enumerate() {
            match T::decode(item, &path.index(i), d) {
                Some(v) => out.push(v),
                None => failed = true,
            }
        }
        (!failed).then_some(out)
    }
}

/// A mapping with string keys, sorted by key. Use
/// [`OrderedMap`](crate::OrderedMap) when file order or key positions matter.
impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let map = crate::map::OrderedMap::<T>::decode(node, path, d)?;
        Some(
            map.into_iter()
                .map(|(key, value)| (key.value, value))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_document;

    fn decode<T: Decode>(yaml: &str) -> Result<T, String> {
        let mut d = Decoder::new(PathBuf::from("t.yaml"));
        let node = parse_document(yaml, &mut d).expect("valid YAML");
        let v = T::decode(&node, &YamlPath::root().key("v"), &mut d);
        d.finish(v).map_err(|e| e.to_string())
    }

    #[test]
    fn strings_must_be_strings() {
        assert_eq!(decode::<String>("abc"), Ok("abc".to_owned()));
        assert_eq!(decode::<String>("\"2024\""), Ok("2024".to_owned()));
        assert_eq!(
            decode::<String>("2024"),
            Err("t.yaml:1:1: v: expected a string, found an integer `2024`; quote it to use it as text: \"2024\"".to_owned())
        );
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(decode::<u16>("8080"), Ok(8080));
        assert_eq!(
            decode::<u16>("70000"),
            Err("t.yaml:1:1: v: `70000` is too large; the maximum is 65535".to_owned())
        );
        assert_eq!(
            decode::<u32>("-1"),
            Err("t.yaml:1:1: v: must not be negative, found `-1`".to_owned())
        );
        assert_eq!(
            decode::<usize>("\"4\""),
            Err("t.yaml:1:1: v: expected a whole number, found the string `4`".to_owned())
        );
    }

    #[test]
    fn floats_accept_integers() {
        assert_eq!(decode::<f64>("1"), Ok(1.0));
        assert_eq!(decode::<f64>("0.25"), Ok(0.25));
        assert!(decode::<f64>(".nan").is_err());
    }

    #[test]
    fn sequences_report_every_bad_element() {
        let err = decode::<Vec<u16>>("[1, x, 3, -4]").expect_err("two bad elements");
        assert_eq!(
            err,
            "t.yaml:1:5: v[1]: expected a whole number, found the string `x`\n\
             t.yaml:1:11: v[3]: must not be negative, found `-4`"
        );
    }

    #[test]
    fn spanned_keeps_the_position() {
        let v = decode::<Vec<Spanned<bool>>>("- true\n- false").expect("bools");
        assert_eq!(v[1].span, Span::new(2, 3));
        assert!(!*v[1]);
    }

    #[test]
    fn paths_resolve_against_the_config_directory() {
        let mut d = Decoder::new(PathBuf::from("/etc/gw/gw.yaml"));
        let node = Node::new(Value::String("certs/a.crt".into()), Span::new(1, 1));
        let p = PathBuf::decode(&node, &YamlPath::root(), &mut d);
        assert_eq!(p, Some(PathBuf::from("/etc/gw/certs/a.crt")));
    }
}
