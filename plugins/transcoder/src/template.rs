//! `google.api.http` path templates: parsing and matching.
//!
//! The grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! `{id}` is short for `{id=*}`: one segment. `**` matches any number of
//! segments (zero included) and may only come last. A request path is split
//! on `/` *before* percent-decoding, so an encoded `%2F` never separates
//! segments: a single-segment variable receives it decoded (`a%2Fb` gives
//! `a/b`), a multi-segment variable keeps it encoded so its own `/`s stay
//! apart from the data's (as the `google.api.http` documentation requires).

use std::fmt;

/// One piece of a template, after variables are flattened: each variable
/// covers a run of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// Must equal this text (already percent-decoded in the template).
    Literal(String),
    /// `*`: any one segment.
    Any,
    /// `**`: the rest of the path, any number of segments.
    Rest,
}

/// A variable: the field it fills and the segments it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// The field path, e.g. `["product", "id"]`.
    pub field_path: Vec<String>,
    /// Index of the first segment it covers.
    pub start: usize,
    /// One past the last segment it covers.
    pub end: usize,
}

impl Variable {
    /// The field path as written (`product.id`).
    pub fn field_path_text(&self) -> String {
        self.field_path.join(".")
    }
}

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template as written.
    pub text: String,
    /// The segments, variables flattened.
    pub segments: Vec<Segment>,
    /// The variables, in order.
    pub variables: Vec<Variable>,
    /// The custom verb (`:cancel`), without its colon.
    pub verb: Option<String>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// What a successful match captured: each variable's value, in template order.
pub type Captures = Vec<(usize, String)>;

impl PathTemplate {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let err = |m: &str| TemplateError(format!("path template `{text}`: {m}"));
        let Some(body) = text.strip_prefix('/') else {
            return Err(err("must start with `/`"));
        };
        let (body, verb) = split_verb(body).map_err(|m| err(&m))?;
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        let mut rest = body;
        loop {
            if let Some(inner) = rest.strip_prefix('{') {
                let close = inner
                    .find('}')
                    .ok_or_else(|| err("a `{` has no matching `}`"))?;
                let (field, sub) = match inner[..close].split_once('=') {
                    Some((field, sub)) => (field, Some(sub)),
                    None => (&inner[..close], None),
                };
                let field_path = parse_field_path(field).map_err(|m| err(&m))?;
                if variables
                    .iter()
                    .any(|v: &Variable| v.field_path == field_path)
                {
                    return Err(err(&format!("variable `{field}` appears twice")));
                }
                let start = segments.len();
                match sub {
                    None => segments.push(Segment::Any),
                    Some(sub) => {
                        if sub.contains('{') {
                            return Err(err("variables cannot nest"));
                        }
                        for part in sub.split('/') {
                            segments.push(parse_plain_segment(part).map_err(|m| err(&m))?);
                        }
                    }
                }
                variables.push(Variable {
                    field_path,
                    start,
                    end: segments.len(),
                });
                rest = &inner[close + 1..];
            } else {
                let end = rest.find('/').unwrap_or(rest.len());
                let part = &rest[..end];
                if part.contains('{') || part.contains('}') {
                    return Err(err("a variable must fill a whole segment"));
                }
                segments.push(parse_plain_segment(part).map_err(|m| err(&m))?);
                rest = &rest[end..];
            }
            if rest.is_empty() {
                break;
            }
            match rest.strip_prefix('/') {
                Some(next) => rest = next,
                None => return Err(err("a variable must fill a whole segment")),
            }
        }
        if let Some(position) = segments.iter().position(|s| *s == Segment::Rest) {
            if position + 1 != segments.len() {
                return Err(err("`**` may only be the last segment"));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
            variables,
            verb,
        })
    }

    /// How specific the template is, to order overlapping matches: more
    /// literal segments first, then fewer `**`, then a verb.
    pub fn specificity(&self) -> (usize, usize, bool) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let fixed = self
            .segments
            .iter()
            .filter(|s| !matches!(s, Segment::Rest))
            .count();
        (literals, fixed, self.verb.is_some())
    }

    /// The template's shape: two templates with the same shape match
    /// exactly the same paths (variable names aside).
    pub fn shape(&self) -> String {
        let mut shape = String::new();
        for segment in &self.segments {
            shape.push('/');
            match segment {
                Segment::Literal(l) => shape.push_str(l),
                Segment::Any => shape.push('*'),
                Segment::Rest => shape.push_str("**"),
            }
        }
        if let Some(verb) = &self.verb {
            shape.push(':');
            shape.push_str(verb);
        }
        shape
    }

    /// Matches the raw (still percent-encoded) request path, without its
    /// query. Returns each variable's decoded value.
    pub fn matches(&self, path: &RequestPath<'_>) -> Option<Captures> {
        let segments = match (&self.verb, path.verb) {
            (Some(verb), Some(given)) if verb == given => &path.with_verb,
            (None, _) => &path.plain,
            _ => return None,
        };
        let count = segments.len();
        let rest_at = self.segments.iter().position(|s| *s == Segment::Rest);
        match rest_at {
            Some(at) if count < at => return None,
            None if count != self.segments.len() => return None,
            _ => {}
        }
        for (template, raw) in self.segments.iter().zip(segments.iter()) {
            match template {
                Segment::Literal(literal) => {
                    if !literal_matches(literal, raw) {
                        return None;
                    }
                }
                Segment::Any => {
                    if raw.is_empty() {
                        return None;
                    }
                }
                Segment::Rest => break,
            }
        }
        let mut captures = Vec::with_capacity(self.variables.len());
        for (index, variable) in self.variables.iter().enumerate() {
            let end = if self.segments.get(variable.end - 1) == Some(&Segment::Rest) {
                count
            } else {
                variable.end
            };
            let covered = segments.get(variable.start..end)?;
            let value = if covered.len() == 1
                && variable.end - variable.start == 1
                && self.segments[variable.start] == Segment::Any
            {
                percent_decode(covered[0], false)?
            } else {
                let mut joined = String::new();
                for (i, raw) in covered.iter().enumerate() {
                    if i > 0 {
                        joined.push('/');
                    }
                    joined.push_str(&percent_decode(raw, true)?);
                }
                joined
            };
            captures.push((index, value));
        }
        Some(captures)
    }
}

/// A request path split once for every template it is matched against.
#[derive(Debug)]
pub struct RequestPath<'a> {
    /// The segments of the whole path.
    plain: Vec<&'a str>,
    /// The segments with the custom verb cut off the last one.
    with_verb: Vec<&'a str>,
    /// The custom verb, when the last segment has a `:`.
    verb: Option<&'a str>,
}

impl<'a> RequestPath<'a> {
    /// Splits `path` (which starts with `/` and has no query).
    pub fn new(path: &'a str) -> Self {
        let body = path.strip_prefix('/').unwrap_or(path);
        let plain: Vec<&str> = body.split('/').collect();
        let mut with_verb = plain.clone();
        let mut verb = None;
        if let Some(last) = with_verb.last_mut() {
            if let Some((head, tail)) = last.rsplit_once(':') {
                *last = head;
                verb = Some(tail);
            }
        }
        Self {
            plain,
            with_verb,
            verb,
        }
    }
}

fn split_verb(body: &str) -> Result<(&str, Option<String>), String> {
    // The verb follows the last segment; a `:` inside a variable's braces
    // is not a verb.
    let last_slash = body.rfind('/').map_or(0, |i| i + 1);
    let last = &body[last_slash..];
    if last.contains('}') {
        let close = body.rfind('}').unwrap_or(0);
        return match body[close..].split_once(':') {
            Some((_, verb)) => check_verb(verb).map(|v| (&body[..close + 1], Some(v))),
            None => Ok((body, None)),
        };
    }
    match last.split_once(':') {
        Some((_, verb)) => {
            let cut = last_slash + last.find(':').unwrap_or(0);
            check_verb(verb).map(|v| (&body[..cut], Some(v)))
        }
        None => Ok((body, None)),
    }
}

fn check_verb(verb: &str) -> Result<String, String> {
    if verb.is_empty() || verb.contains([':', '/', '{', '}', '*']) {
        return Err(format!("`:{verb}` is not a valid custom verb"));
    }
    Ok(verb.to_owned())
}

fn parse_plain_segment(part: &str) -> Result<Segment, String> {
    match part {
        "" => Err("empty segment (`//` or a trailing `/`)".to_owned()),
        "*" => Ok(Segment::Any),
        "**" => Ok(Segment::Rest),
        literal if literal.contains('*') => {
            Err(format!("`{literal}`: `*` must be a whole segment"))
        }
        literal => percent_decode(literal, false)
            .map(Segment::Literal)
            .ok_or_else(|| format!("`{literal}` has a bad percent-encoding")),
    }
}

fn parse_field_path(field: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = field.split('.').map(str::to_owned).collect();
    for part in &parts {
        let valid = part
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("`{field}` is not a field path"));
        }
    }
    Ok(parts)
}

/// A literal matches a raw segment when the decoded segment equals it.
fn literal_matches(literal: &str, raw: &str) -> bool {
    if !raw.contains('%') {
        return literal == raw;
    }
    percent_decode(raw, false).is_some_and(|d| d == literal)
}

/// Percent-decodes a segment. With `keep_slash`, `%2F` stays encoded (for
/// multi-segment variables). `None` for a bad escape or invalid UTF-8.
pub fn percent_decode(raw: &str, keep_slash: bool) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            if keep_slash && value == b'/' {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(value);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(template: &str, path: &str) -> Option<Vec<String>> {
        let t = PathTemplate::parse(template).expect("template");
        t.matches(&RequestPath::new(path))
            .map(|c| c.into_iter().map(|(_, v)| v).collect())
    }

    #[test]
    fn simple_variables_take_one_segment() {
        assert_eq!(
            captures("/v1/products/{id}", "/v1/products/p1"),
            Some(vec!["p1".into()])
        );
        assert_eq!(captures("/v1/products/{id}", "/v1/products/p1/x"), None);
        assert_eq!(captures("/v1/products/{id}", "/v1/products/"), None);
        assert_eq!(captures("/v1/products/{id}", "/v1/products"), None);
    }

    #[test]
    fn encoded_slash_stays_inside_one_segment() {
        assert_eq!(
            captures("/v1/products/{id}", "/v1/products/a%2Fb"),
            Some(vec!["a/b".into()])
        );
        assert_eq!(
            captures("/v1/products/{id}", "/v1/products/a%20b%C3%A9"),
            Some(vec!["a bé".into()])
        );
        assert_eq!(
            captures("/v1/{name=shelves/*/books/*}", "/v1/shelves/s%2F1/books/b1"),
            Some(vec!["shelves/s%2F1/books/b1".into()])
        );
        assert_eq!(captures("/v1/products/{id}", "/v1/products/%zz"), None);
    }

    #[test]
    fn multi_segment_variables_and_double_wildcards() {
        assert_eq!(
            captures("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b2"),
            Some(vec!["shelves/s1/books/b2".into()])
        );
        assert_eq!(
            captures("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/tapes/b2"),
            None
        );
        assert_eq!(
            captures("/v1/files/{path=**}", "/v1/files/a/b/c.txt"),
            Some(vec!["a/b/c.txt".into()])
        );
        assert_eq!(
            captures("/v1/files/{path=**}", "/v1/files"),
            Some(vec!["".into()])
        );
        assert_eq!(captures("/v1/**", "/v1/x/y"), Some(vec![]));
    }

    #[test]
    fn custom_verbs_are_cut_from_the_last_segment() {
        assert_eq!(
            captures("/v1/products/{id}:archive", "/v1/products/p1:archive"),
            Some(vec!["p1".into()])
        );
        assert_eq!(
            captures("/v1/products/{id}:archive", "/v1/products/p1:other"),
            None
        );
        assert_eq!(
            captures("/v1/products/{id}:archive", "/v1/products/p1"),
            None
        );
        assert_eq!(
            captures("/v1/products:bulkCreate", "/v1/products:bulkCreate"),
            Some(vec![])
        );
        // A colon in an id is data when the template has no verb.
        assert_eq!(
            captures("/v1/products/{id}", "/v1/products/urn:x"),
            Some(vec!["urn:x".into()])
        );
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        for (bad, why) in [
            ("v1/x", "start with"),
            ("/v1/{id", "no matching"),
            ("/v1/**/x", "last segment"),
            ("/v1/{a.b-c}", "not a field path"),
            ("/v1//x", "empty segment"),
            ("/v1/x:", "custom verb"),
            ("/v1/a*", "whole segment"),
            ("/v1/{id}/{id}", "twice"),
            ("/v1/pre{id}", "whole segment"),
        ] {
            let e = PathTemplate::parse(bad).expect_err(bad);
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn shapes_ignore_variable_names_and_specificity_prefers_literals() {
        let a = PathTemplate::parse("/v1/{id}").expect("a");
        let b = PathTemplate::parse("/v1/{name}").expect("b");
        let c = PathTemplate::parse("/v1/special").expect("c");
        assert_eq!(a.shape(), b.shape());
        assert!(c.specificity() > a.specificity());
    }
}
