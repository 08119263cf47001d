//! Query strings: `a=1&b.c=x&tags=a&tags=b`, with `+` as a space and
//! percent-escapes decoded (a bad escape is the caller's error, not
//! silently kept).

/// One decoded `name=value` pair; a bare `name` has an empty value.
pub type Pair = (String, String);

/// Splits and decodes a raw query string (without the `?`).
pub fn parse_query(raw: &str) -> Result<Vec<Pair>, String> {
    let mut pairs = Vec::new();
    for part in raw.split('&') {
        if part.is_empty() {
            continue;
        }
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let name = decode_component(name)
            .ok_or_else(|| format!("query parameter `{name}` has a bad percent-encoding"))?;
        if name.is_empty() {
            return Err(format!("query parameter `{part}` has no name"));
        }
        let value = decode_component(value).ok_or_else(|| {
            format!("the value of query parameter `{name}` has a bad percent-encoding")
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn decode_component(raw: &str) -> Option<String> {
    if !raw.contains(['%', '+']) {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_split_and_decoded() {
        let pairs = parse_query("a=1&b.c=x+y&tags=a%26b&tags=&flag&&e=%C3%A9").expect("valid");
        let expected: Vec<Pair> = [
            ("a", "1"),
            ("b.c", "x y"),
            ("tags", "a&b"),
            ("tags", ""),
            ("flag", ""),
            ("e", "é"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn bad_escapes_and_nameless_pairs_are_errors() {
        assert!(parse_query("a=%zz").expect_err("bad").contains("`a`"));
        assert!(parse_query("a=%").is_err());
        assert!(parse_query("%ff=1").is_err(), "invalid UTF-8");
        assert!(parse_query("=1").is_err());
    }
}
