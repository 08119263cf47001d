//! Which names a rule may touch, checked when the config loads.
//!
//! gRPC metadata names are lower case `[0-9a-z_.-]` (PROTOCOL-HTTP2.md);
//! protogate holds every header rule to that, so one rule works for gRPC,
//! gRPC-Web and REST routes alike. Pseudo-headers, `te`, `content-type`,
//! `content-length` and hop-by-hop headers belong to the protocol and cannot
//! be set or removed. Names starting with `grpc-` are gRPC's own: a rule that
//! maps a value onto one writes `in-grpc-*` instead (KrakenD's convention),
//! and a rule that removes or renames one is refused, unless the section
//! lists the name under `allow_reserved`.

use http::HeaderName;

/// Names no rule may set, rename or remove, and why.
const PROTECTED: &[(&str, &str)] = &[
    ("te", "gRPC needs `te: trailers` end to end"),
    ("content-type", "it names the protocol of the call"),
    ("content-length", "the gateway frames bodies itself"),
    ("connection", "it is hop-by-hop"),
    ("keep-alive", "it is hop-by-hop"),
    ("proxy-connection", "it is hop-by-hop"),
    ("transfer-encoding", "it is hop-by-hop"),
    ("upgrade", "it is hop-by-hop"),
];

/// What a rule does with a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// It writes a value under the name (`set`, `add`, a `rename` target).
    Write,
    /// It removes the name (`remove`, a `rename` source).
    Remove,
}

/// A checked name, and a note when it was changed (a reserved name written
/// as `in-grpc-*`).
#[derive(Debug)]
pub struct Checked {
    /// The name the rule acts on.
    pub name: HeaderName,
    /// Set when the written name differs from the configured one.
    pub renamed_from: Option<String>,
}

/// Checks `name` for `use_` in a section whose `allow_reserved` is
/// `allowed`. The error is the config error's message.
pub fn check(name: &str, use_: Use, allowed: &[String]) -> Result<Checked, String> {
    if name.starts_with(':') {
        return Err(format!(
            "`{name}` is a pseudo-header and cannot be changed (set `host` to change `:authority`)"
        ));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b"_.-".contains(&b))
    {
        return Err(format!(
            "`{name}` is not a valid metadata name: use lower case letters, digits, `_`, `.` and `-`"
        ));
    }
    if let Some((_, why)) = PROTECTED.iter().find(|(n, _)| *n == name) {
        return Err(format!("`{name}` cannot be set or removed: {why}"));
    }
    let header = |n: &str| {
        HeaderName::from_bytes(n.as_bytes()).map_err(|e| format!("`{n}` is not a header name: {e}"))
    };
    if name.starts_with("grpc-") && !allowed.iter().any(|a| a == name) {
        return match use_ {
            Use::Write => Ok(Checked {
                name: header(&format!("in-{name}"))?,
                renamed_from: Some(name.to_owned()),
            }),
            Use::Remove => Err(format!(
                "`{name}` is reserved for gRPC; list it under `allow_reserved` to change it"
            )),
        };
    }
    Ok(Checked {
        name: header(name)?,
        renamed_from: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_metadata_rules() {
        assert_eq!(
            check("x-tenant", Use::Write, &[]).expect("ok").name,
            "x-tenant"
        );
        for bad in ["X-Tenant", "x tenant", "", "x/y"] {
            assert!(check(bad, Use::Write, &[]).is_err(), "{bad}");
        }
        let pseudo = check(":authority", Use::Write, &[]).expect_err("pseudo");
        assert!(pseudo.contains("host"), "{pseudo}");
        for protected in ["te", "content-type", "connection", "transfer-encoding"] {
            assert!(check(protected, Use::Remove, &[]).is_err(), "{protected}");
        }
        assert_eq!(check("host", Use::Write, &[]).expect("host").name, "host");
    }

    #[test]
    fn reserved_names_are_moved_aside_unless_allowed() {
        let moved = check("grpc-tenant", Use::Write, &[]).expect("renamed");
        assert_eq!(moved.name, "in-grpc-tenant");
        assert_eq!(moved.renamed_from.as_deref(), Some("grpc-tenant"));
        let refused = check("grpc-timeout", Use::Remove, &[]).expect_err("reserved");
        assert!(refused.contains("allow_reserved"), "{refused}");
        let allowed = vec!["grpc-timeout".to_owned()];
        assert_eq!(
            check("grpc-timeout", Use::Remove, &allowed)
                .expect("allowed")
                .name,
            "grpc-timeout"
        );
    }
}
