//! The error sink every decoder writes into, with the file it is reading.

use std::path::{Path, PathBuf};

use crate::decode::Decode;
use crate::diag::{Diagnostic, Diagnostics};
use crate::fields::Fields;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::suggest::did_you_mean;

/// Collects every problem found while decoding one config file.
///
/// Decoders never stop at the first problem: they record it here and return
/// `None` for the value they could not build, and their callers go on with
/// the rest of the file. One `Decoder` lives for one load: the core model
/// and then the gateway (plugin bodies, descriptor files) add to it, and
/// [`Decoder::finish`] turns it into the final result with every error.
#[derive(Debug)]
pub struct Decoder {
    file: PathBuf,
    base_dir: PathBuf,
    diagnostics: Vec<Diagnostic>,
    /// Nodes (position and path) whose problem was reported while parsing
    /// (an unsupported tag): later errors about the same node would only
    /// repeat it, so they are dropped.
    silenced: Vec<(Span, String)>,
}

impl Decoder {
    /// A decoder for `file`; relative paths in it resolve against the
    /// file's directory.
    pub fn new(file: PathBuf) -> Self {
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Decoder {
            file,
            base_dir,
            diagnostics: Vec::new(),
            silenced: Vec::new(),
        }
    }

    /// The config file being decoded, as it was named.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Records a problem at `span` (the offending node) under `path`.
    pub fn error(&mut self, span: Span, path: &YamlPath, message: impl Into<String>) {
        if self
            .silenced
            .iter()
            .any(|(s, p)| *s == span && p == path.as_str())
        {
            return;
        }
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            span,
            path: path.as_str().to_owned(),
            message: message.into(),
        });
    }

    /// Records a problem with the node at `span` and `path`, and drops any
    /// later error about that same node (which could only repeat it).
    pub(crate) fn error_and_silence(
        &mut self,
        span: Span,
        path: &YamlPath,
        message: impl Into<String>,
    ) {
        self.error(span, path, message);
        self.silenced.push((span, path.as_str().to_owned()));
    }

    /// Records "expected {what}, found {what the node is}" at `node`.
    pub fn expected(&mut self, node: &Node, path: &YamlPath, what: &str) {
        let found = node.describe();
        self.error(node.span, path, format!("expected {what}, found {found}"));
    }

    /// Adds problems found elsewhere (another decoder, another file).
    pub fn extend(&mut self, diagnostics: Diagnostics) {
        self.diagnostics.extend(diagnostics);
    }

    /// `p` as written if absolute, otherwise joined to the config file's
    /// directory, so a config works from any working directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Whether any problem was recorded.
    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// How many problems were recorded.
    pub fn error_count(&self) -> usize {
        self.diagnostics.len()
    }

    /// The problems recorded so far, in the order they were found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Every problem recorded, ordered by position.
    pub fn into_diagnostics(self) -> Diagnostics {
        let mut all = self.diagnostics;
        all.sort_by_key(|d| (d.span.line, d.span.column));
        Diagnostics(all)
    }

    /// The end of a load: `value` when nothing went wrong, every problem
    /// otherwise. A best-effort value (see [`load_with`](crate::load_with))
    /// is dropped as soon as one problem was recorded.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Diagnostics> {
        match value {
            Some(v) if !self.has_errors() => Ok(v),
            Some(_) => Err(self.into_diagnostics()),
            None => {
                let mut d = self;
                if !d.has_errors() {
                    let path = YamlPath::root();
                    d.error(Span::default(), &path, "no configuration was produced");
                }
                Err(d.into_diagnostics())
            }
        }
    }

    /// Decodes `node` as a `T` (the same as `T::decode(node, path, self)`).
    pub fn decode<T: Decode>(&mut self, node: &Node, path: &YamlPath) -> Option<T> {
        T::decode(node, path, self)
    }

    /// Starts reading the mapping `node`, describing it as `what` in the error
    /// recorded when it is not a mapping. Keys that are not strings are
    /// reported here and skipped.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &YamlPath,
        what: &str,
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.expected(node, path, &format!("a mapping for {what}"));
            return None;
        };
        let mut keyed = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match key.as_str() {
                Some(name) => keyed.push((name, key, value)),
                None => self.expected(key, path, "a string key"),
            }
        }
        Some(Fields::new(keyed, node.span, path.clone()))
    }

    /// Reads a keyword from a closed set, e.g. `store: local | redis`:
    /// returns the value paired with the matching name, or records
    /// "unknown {what} `x`; expected one of: ..." with a did-you-mean.
    pub fn keyword<T: Copy>(
        &mut self,
        node: &Node,
        path: &YamlPath,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let Some(text) = node.as_str() else {
            self.expected(node, path, &format!("one of: {}", names.join(", ")));
            return None;
        };
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let mut message = format!(
            "unknown {what} `{text}`; expected one of: {}",
            names.join(", ")
        );
        if let Some(close) = did_you_mean(text, &names) {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        self.error(node.span, path, message);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Value;

    #[test]
    fn resolves_relative_paths_against_the_file_directory() {
        let d = Decoder::new(PathBuf::from("/etc/protogate/gw.yaml"));
        assert_eq!(
            d.resolve_path("certs/a.crt"),
            PathBuf::from("/etc/protogate/certs/a.crt")
        );
        assert_eq!(d.resolve_path("/abs/a.crt"), PathBuf::from("/abs/a.crt"));
        let bare = Decoder::new(PathBuf::from("gw.yaml"));
        assert_eq!(bare.resolve_path("a.pb"), PathBuf::from("a.pb"));
    }

    #[test]
    fn finish_returns_every_error() {
        let mut d = Decoder::new(PathBuf::from("gw.yaml"));
        d.error(Span::new(2, 1), &YamlPath::root().key("b"), "two");
        d.error(Span::new(1, 1), &YamlPath::root().key("a"), "one");
        let errors = d.finish(Some(1)).err().unwrap_or_default();
        assert_eq!(
            errors.to_string(),
            "gw.yaml:1:1: a: one\ngw.yaml:2:1: b: two"
        );
        let ok = Decoder::new(PathBuf::from("gw.yaml")).finish(Some(7));
        assert_eq!(ok.ok(), Some(7));
    }

    #[test]
    fn keyword_suggests_the_closest_choice() {
        let mut d = Decoder::new(PathBuf::from("gw.yaml"));
        let node = Node::new(Value::String("redsi".into()), Span::new(4, 10));
        let path = YamlPath::root().key("store");
        let got = d.keyword(&node, &path, "store", &[("local", 1), ("redis", 2)]);
        assert_eq!(got, None);
        assert_eq!(
            d.into_diagnostics().to_string(),
            "gw.yaml:4:10: store: unknown store `redsi`; expected one of: local, redis; did you mean `redis`?"
        );
    }
}
