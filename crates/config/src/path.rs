//! The YAML path printed with every diagnostic (`routes[2].plugins[0].rate_limit.burst`).

use std::fmt;

/// Where a node sits in the document, as a dotted path.
///
/// Built while decoding by extending the parent's path, never parsed back.
/// Keys made of letters, digits, `_` and `-` print bare (`upstreams.legacy-http`);
/// any other key prints quoted in brackets (`upstreams["my.svc"]`) so the
/// path stays unambiguous. The root is the empty path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(String);

impl YamlPath {
    /// The document root (the empty path).
    pub fn root() -> Self {
        YamlPath(String::new())
    }

    /// The path of `key` inside the mapping at `self`.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut out = self.0.clone();
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if bare {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        } else {
            out.push_str("[\"");
            for c in key.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("\"]");
        }
        YamlPath(out)
    }

    /// The path of element `index` of the sequence at `self`.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        YamlPath(format!("{}[{index}]", self.0))
    }

    /// The path as text; empty for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::YamlPath;

    #[test]
    fn builds_dotted_paths() {
        let p = YamlPath::root()
            .key("routes")
            .index(2)
            .key("plugins")
            .index(0)
            .key("rate_limit")
            .key("burst");
        assert_eq!(p.as_str(), "routes[2].plugins[0].rate_limit.burst");
        assert_eq!(p.to_string(), p.as_str());
    }

    #[test]
    fn quotes_keys_that_would_be_ambiguous() {
        let p = YamlPath::root().key("upstreams").key("my.svc");
        assert_eq!(p.as_str(), "upstreams[\"my.svc\"]");
        assert_eq!(YamlPath::root().key("legacy-http").as_str(), "legacy-http");
        assert_eq!(YamlPath::root().key("").as_str(), "[\"\"]");
    }

    #[test]
    fn root_is_empty() {
        assert!(YamlPath::root().is_root());
        assert!(YamlPath::default().is_root());
        assert_eq!(YamlPath::root().index(1).as_str(), "[1]");
    }
}
