//! YAML text to our spanned [`Node`] tree.
//!
//! The tree is built from saphyr's parser events rather than from saphyr's
//! own document types: its loader keeps mappings in a hash map, which drops
//! a repeated key or stops loading at it, while we want every duplicate
//! reported with both positions and the rest of the file still decoded.
//! Scalars are resolved with saphyr's YAML 1.2 core-schema rules.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr::{Scalar, ScalarStyle, Tag};
use saphyr_parser::{Event, Marker, Parser, ScanError};

use crate::decoder::Decoder;
use crate::node::{Node, Span, Value};
use crate::path::YamlPath;

/// How many nodes aliases may copy in one file, so that nested anchors
/// cannot expand into an exponential tree ("billion laughs").
const ALIAS_NODE_BUDGET: usize = 100_000;

/// Parses `text` as one YAML document.
///
/// A syntax error is recorded with its line and column and gives `None`
/// (nothing after it can be trusted). Duplicate keys, unsupported tags and
/// extra documents are recorded and parsing goes on. An empty file gives a
/// null node at 1:1.
pub fn parse_document(text: &str, d: &mut Decoder) -> Option<Node> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if !builder.on_event(event, span.start, d) {
                    break;
                }
            }
            Err(error) => {
                syntax_error(&error, d);
                return None;
            }
        }
    }
    Some(
        builder
            .root
            .unwrap_or_else(|| Node::new(Value::Null, Span::new(1, 1))),
    )
}

fn syntax_error(error: &ScanError, d: &mut Decoder) {
    let span = span_at(error.marker());
    d.error(
        span,
        &YamlPath::root(),
        format!("YAML syntax error: {}", error.info()),
    );
}

/// saphyr markers are 1-based lines and 0-based columns; ours are 1-based.
fn span_at(mark: &Marker) -> Span {
    let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(mark.col().saturating_add(1)).unwrap_or(u32::MAX);
    Span::new(line, column)
}

/// A collection being filled.
enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
        path: YamlPath,
    },
    Map {
        entries: Vec<(Node, Node)>,
        /// A key waiting for its value.
        key: Option<Node>,
        span: Span,
        anchor: usize,
        path: YamlPath,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    anchors: HashMap<usize, Node>,
    alias_budget_used: usize,
}

impl Builder {
    /// Handles one event; `false` stops the parse.
    fn on_event(&mut self, event: Event<'_>, mark: Marker, d: &mut Decoder) -> bool {
        let span = span_at(&mark);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    d.error(
                        span,
                        &YamlPath::root(),
                        "a config file holds a single YAML document; a second one starts here",
                    );
                    return false;
                }
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span, d);
                let path = self.child_path();
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    span,
                    anchor,
                    path,
                });
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span, d);
                let path = self.child_path();
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    span,
                    anchor,
                    path,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        span,
                        anchor,
                        ..
                    }) => (Node::new(Value::Seq(items), span), anchor),
                    Some(Frame::Map {
                        entries,
                        span,
                        anchor,
                        ..
                    }) => (Node::new(Value::Map(entries), span), anchor),
                    None => return true,
                };
                self.add(node, anchor, d);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = self.scalar(text, style, tag, span, d);
                self.add(node, anchor, d);
            }
            Event::Alias(id) => {
                let node = self.alias(id, span, d);
                self.add(node, 0, d);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        true
    }

    /// The path of the node that is about to start.
    fn child_path(&self) -> YamlPath {
        match self.stack.last() {
            None => YamlPath::root(),
            Some(Frame::Seq { items, path, .. }) => path.index(items.len()),
            Some(Frame::Map { key, path, .. }) => match key.as_ref().map(Node::scalar_text) {
                Some(Some(k)) => path.key(&k),
                _ => path.clone(),
            },
        }
    }

    /// Places a finished node in its parent (or as the document root).
    fn add(&mut self, node: Node, anchor: usize, d: &mut Decoder) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, path, ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let first = entries.iter().find(|(seen, _)| seen.value == k.value);
                    if let Some((seen, _)) = first {
                        let name = k
                            .scalar_text()
                            .unwrap_or_else(|| "(complex key)".to_owned());
                        d.error(
                            k.span,
                            &path.key(&name),
                            format!(
                                "duplicate key `{name}`; it is first defined at line {}",
                                seen.span.line
                            ),
                        );
                    } else {
                        entries.push((k, node));
                    }
                }
            },
        }
    }

    /// Resolves a scalar: quoted is text, plain follows the core schema,
    /// a core tag (`!!str 12`) forces its type.
    fn scalar(
        &self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<Cow<'_, Tag>>,
        span: Span,
        d: &mut Decoder,
    ) -> Node {
        let path = self.child_path();
        let tag = match tag {
            Some(t) if !t.is_yaml_core_schema() => {
                d.error_and_silence(
                    span,
                    &path,
                    format!(
                        "unsupported YAML tag `{}`; only core tags such as `!!str` are allowed",
                        tag_name(&t)
                    ),
                );
                None
            }
            other => other,
        };
        let resolved = Scalar::parse_from_cow_and_metadata(text.clone(), style, tag.as_ref());
        let value = match resolved {
            Some(Scalar::Null) => Value::Null,
            Some(Scalar::Boolean(b)) => Value::Bool(b),
            Some(Scalar::Integer(i)) => Value::Int(i),
            Some(Scalar::FloatingPoint(x)) => Value::Float(x.into_inner()),
            Some(Scalar::String(s)) => Value::String(s.into_owned()),
            None => {
                let name = tag.as_deref().map(tag_name).unwrap_or_default();
                d.error_and_silence(span, &path, format!("`{text}` cannot be read as `{name}`"));
                Value::String(text.into_owned())
            }
        };
        Node::new(value, span)
    }

    fn check_collection_tag(&self, tag: Option<&Tag>, expected: &str, span: Span, d: &mut Decoder) {
        if let Some(tag) = tag {
            if !(tag.is_yaml_core_schema() && tag.suffix == expected) {
                let path = self.child_path();
                d.error_and_silence(
                    span,
                    &path,
                    format!("unsupported YAML tag `{}` on a collection", tag_name(tag)),
                );
            }
        }
    }

    /// A copy of the anchored node, re-positioned at the alias, within the
    /// file's alias budget.
    fn alias(&mut self, id: usize, span: Span, d: &mut Decoder) -> Node {
        let path = self.child_path();
        let Some(target) = self.anchors.get(&id) else {
            d.error(span, &path, "alias to an unknown anchor");
            return Node::new(Value::Null, span);
        };
        self.alias_budget_used = self.alias_budget_used.saturating_add(count_nodes(target));
        if self.alias_budget_used > ALIAS_NODE_BUDGET {
            d.error(
                span,
                &path,
                format!("aliases expand to more than {ALIAS_NODE_BUDGET} nodes; refusing to expand further"),
            );
            return Node::new(Value::Null, span);
        }
        let mut copy = target.clone();
        copy.span = span;
        copy
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// `!!int` for core tags, the tag as written otherwise.
fn tag_name(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> (Option<Node>, String) {
        let mut d = Decoder::new(PathBuf::from("t.yaml"));
        let node = parse_document(text, &mut d);
        (node, d.into_diagnostics().to_string())
    }

    fn value(text: &str) -> Value {
        let (node, errors) = parse(text);
        assert_eq!(errors, "");
        node.expect("a document").value
    }

    #[test]
    fn resolves_plain_scalars_with_the_core_schema() {
        assert_eq!(value("~"), Value::Null);
        assert_eq!(value("true"), Value::Bool(true));
        assert_eq!(value("0x1f"), Value::Int(31));
        assert_eq!(value("1.5"), Value::Float(1.5));
        // YAML 1.1 booleans are text in 1.2.
        assert_eq!(value("off"), Value::String("off".into()));
        assert_eq!(value("yes"), Value::String("yes".into()));
        assert_eq!(value("30s"), Value::String("30s".into()));
    }

    #[test]
    fn quoted_scalars_are_always_strings() {
        assert_eq!(value("\"8080\""), Value::String("8080".into()));
        assert_eq!(value("'true'"), Value::String("true".into()));
        assert_eq!(value("!!str 12"), Value::String("12".into()));
    }

    #[test]
    fn spans_are_one_based() {
        let (node, _) = parse("a:\n  b: [1, 2]\n");
        let node = node.expect("a document");
        assert_eq!(node.span, Span::new(1, 1));
        let b = node.get("a").and_then(|a| a.get("b")).expect("a.b");
        assert_eq!(b.span, Span::new(2, 6));
        assert_eq!(b.as_seq().map(|s| s[1].span), Some(Span::new(2, 10)));
    }

    #[test]
    fn reports_every_duplicate_key_and_keeps_the_first() {
        let (node, errors) = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n");
        assert_eq!(
            errors,
            "t.yaml:4:3: b.c: duplicate key `c`; it is first defined at line 3\n\
             t.yaml:5:1: a: duplicate key `a`; it is first defined at line 1"
        );
        let node = node.expect("a document");
        assert_eq!(node.get("a").map(|a| &a.value), Some(&Value::Int(1)));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let (node, errors) = parse("server:\n  listen: [1, 2\nroutes: x\n");
        assert!(node.is_none());
        assert!(
            errors.starts_with("t.yaml:3:7: YAML syntax error: "),
            "{errors}"
        );
    }

    #[test]
    fn empty_input_is_a_null_document() {
        assert_eq!(value(""), Value::Null);
        assert_eq!(value("# only a comment\n"), Value::Null);
    }

    #[test]
    fn a_second_document_is_an_error() {
        let (_, errors) = parse("a: 1\n---\nb: 2\n");
        assert_eq!(
            errors,
            "t.yaml:2:1: a config file holds a single YAML document; a second one starts here"
        );
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let v = value("base: &b { x: 1 }\nother: *b\n");
        let Value::Map(entries) = v else {
            panic!("a mapping")
        };
        assert_eq!(
            entries[1].1.get("x").map(|x| &x.value),
            Some(&Value::Int(1))
        );
        assert_eq!(entries[1].1.span, Span::new(2, 8));
    }

    #[test]
    fn custom_tags_are_rejected() {
        let (_, errors) = parse("a: !secret x\n");
        assert_eq!(
            errors,
            "t.yaml:1:4: a: unsupported YAML tag `!secret`; only core tags such as `!!str` are allowed"
        );
    }
}
