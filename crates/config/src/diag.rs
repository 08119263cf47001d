//! Diagnostics: what `protogate check` prints, one line per problem.

use std::fmt;
use std::path::PathBuf;

use crate::node::Span;

/// One problem in a config file.
///
/// Displays as `{file}:{line}:{column}: {path}: {message}`; the `{path}: `
/// part is left out when the problem is not inside any key (a syntax error,
/// an empty file), and `:{line}:{column}` when the problem has no position
/// (a file that cannot be read).
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The config file, as it was named to the loader.
    pub file: PathBuf,
    /// Where the problem is.
    pub span: Span,
    /// The YAML path of the offending node, e.g. `routes[2].upstream`.
    pub path: String,
    /// What is wrong, and when possible how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.span.is_known() {
            write!(f, ":{}:{}", self.span.line, self.span.column)?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a config file.
///
/// Displays one diagnostic per line, ordered by position (problems at the
/// same position keep the order they were found in). This is the error type
/// of [`load`](crate::load) and [`parse_str`](crate::parse_str).
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether there is no problem at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in the order they were recorded.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// The problems ordered by (line, column), stable for equal positions.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut all: Vec<&Diagnostic> = self.0.iter().collect();
        all.sort_by_key(|d| (d.span.line, d.span.column));
        all
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.sorted().into_iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: u32, column: u32, path: &str, message: &str) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("conf/gw.yaml"),
            span: Span::new(line, column),
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn displays_file_position_path_and_message() {
        assert_eq!(
            diag(3, 5, "server.admin", "bad").to_string(),
            "conf/gw.yaml:3:5: server.admin: bad"
        );
        assert_eq!(
            diag(1, 1, "", "empty").to_string(),
            "conf/gw.yaml:1:1: empty"
        );
        assert_eq!(
            diag(0, 0, "", "cannot read").to_string(),
            "conf/gw.yaml: cannot read"
        );
    }

    #[test]
    fn displays_sorted_by_position() {
        let all = Diagnostics(vec![
            diag(9, 1, "b", "second"),
            diag(2, 7, "a", "first"),
            diag(9, 1, "c", "third"),
        ]);
        assert_eq!(
            all.to_string(),
            "conf/gw.yaml:2:7: a: first\nconf/gw.yaml:9:1: b: second\nconf/gw.yaml:9:1: c: third"
        );
    }
}
