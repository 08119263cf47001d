//! The owned, spanned YAML tree that every decoder reads.
//!
//! The tree is ours rather than saphyr's so that decoders do not depend on a
//! parser's types, mappings keep every entry in file order (a hash map would
//! lose duplicates and order), and every node carries the 1-based position
//! that diagnostics print.

use std::fmt;

/// A position in the config file: 1-based line and column (in characters).
///
/// `Span::default()` (line 0) means "no position", used for errors about the
/// file as a whole, such as a file that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Span {
    /// A span at `line`, `column` (both 1-based).
    pub fn new(line: u32, column: u32) -> Self {
        Span { line, column }
    }

    /// Whether this span points somewhere in the file (line 0 does not).
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where the node starts (for a block mapping: its first key).
    pub span: Span,
}

/// The value of a node, resolved with the YAML 1.2 core schema.
///
/// Plain scalars become `Null`, `Bool`, `Int` or `Float` when they spell one
/// (`~`, `true`, `0x1f`, `1.5`, ...); quoted scalars are always `String`, so
/// `"8080"` stays text. Mappings keep their entries in file order; a key
/// repeated in one mapping is reported when the file is parsed and only its
/// first entry is kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing at all.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Any other scalar.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, entries in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node holding `value` at `span`.
    pub fn new(value: Value, span: Span) -> Self {
        Node { value, span }
    }

    /// Whether the node is null (an absent value, `~` or `null`).
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The text of a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a sequence node.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a mapping node, in file order.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under the string key `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The scalar as the user would write it (`30`, `true`, `abc`); `None`
    /// for sequences and mappings. Used to quote a value in a message.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some("null".to_owned()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// What the node is, for "expected X, found Y" messages:
    /// ``an integer `30` ``, ``the string `abc` ``, `a sequence`, ...
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(b) => format!("a boolean `{b}`"),
            Value::Int(i) => format!("an integer `{i}`"),
            Value::Float(x) => format!("a number `{x}`"),
            Value::String(s) => format!("the string `{s}`"),
            Value::Seq(_) => "a sequence".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}
