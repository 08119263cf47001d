//! Host matching: exact names and `*.` wildcards, case-insensitive, port ignored.
//!
//! The pattern is lowercased once when the table is built; the request host is
//! compared with ASCII case folding in place, so matching allocates nothing.

/// A compiled `host` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// `example.com`: the whole host, lowercased.
    Exact(Box<str>),
    /// `*.example.com`: the suffix `.example.com`, lowercased. Matches a host
    /// that ends with it after one or more non-empty labels; never the apex.
    AnySubdomain(Box<str>),
}

impl HostPattern {
    /// Compiles a pattern as written in the config.
    ///
    /// Only a leading `*.` makes a wildcard; a `*` anywhere else is taken
    /// literally, and so can only match a host spelled the same way.
    pub(crate) fn new(pattern: &str) -> Self {
        let lower = pattern.to_ascii_lowercase();
        match lower.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => Self::AnySubdomain(suffix.into()),
            _ => Self::Exact(lower.into()),
        }
    }

    /// Whether the request's `Host` (or `:authority`) matches.
    pub(crate) fn matches(&self, host: &str) -> bool {
        let host = strip_port(host).as_bytes();
        match self {
            Self::Exact(want) => host.eq_ignore_ascii_case(want.as_bytes()),
            Self::AnySubdomain(suffix) => {
                let suffix = suffix.as_bytes();
                let Some(split) = host.len().checked_sub(suffix.len()) else {
                    return false;
                };
                let (labels, tail) = host.split_at(split);
                !labels.is_empty()
                    && tail.eq_ignore_ascii_case(suffix)
                    && labels.split(|&b| b == b'.').all(|label| !label.is_empty())
            }
        }
    }
}

/// The host without its `:port`, if it has one.
///
/// `example.com:8080` gives `example.com` and `[::1]:443` gives `[::1]`. A
/// bare IPv6 address (several colons, no brackets) is left whole, since its
/// last colon is not a port separator.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com:"), "example.com");
        assert_eq!(strip_port("[::1]:443"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("::1"), "::1");
        assert_eq!(strip_port("example.com:http"), "example.com:http");
        assert_eq!(strip_port("[broken"), "[broken");
    }

    #[test]
    fn exact_is_case_insensitive_and_ignores_port() {
        let p = HostPattern::new("API.Example.com");
        assert!(p.matches("api.example.com"));
        assert!(p.matches("API.EXAMPLE.COM:443"));
        assert!(!p.matches("www.example.com"));
        assert!(!p.matches("api.example.com.evil"));
    }

    #[test]
    fn wildcard_needs_at_least_one_label() {
        let p = HostPattern::new("*.example.com");
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(p.matches("A.Example.COM:8443"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches(".example.com"));
        assert!(!p.matches("a..example.com"));
        assert!(!p.matches("badexample.com"));
        assert!(!p.matches("a.example.org"));
    }

    #[test]
    fn odd_patterns_do_not_panic() {
        for pattern in ["", "*", "*.", "**.a", "a.*", "é.*", "*.é"] {
            let p = HostPattern::new(pattern);
            for host in ["", ":", "é", "x.é", "[", "]", "a.", "*.a"] {
                let _ = p.matches(host);
            }
        }
        assert!(HostPattern::new("*").matches("*"));
        assert!(!HostPattern::new("*").matches("a"));
    }
}
