//! A route's `match`: which calls the route takes.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, Method};

use crate::decode::Spanned;
use crate::decoder::Decoder;
use crate::map::OrderedMap;
use crate::names::{check_grpc_method, check_grpc_service, check_hostname};
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};

/// The conditions of a route; all given ones must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchConfig {
    /// gRPC callers of this service (`ecommerce.v1.ProductService`).
    pub grpc_service: Option<String>,
    /// gRPC callers of this method (`ecommerce.v1.ProductService/GetProduct`).
    pub grpc_method: Option<String>,
    /// Exactly this path (starts with `/`).
    pub path: Option<String>,
    /// Paths starting with this (starts with `/`).
    pub path_prefix: Option<String>,
    /// Only these methods; empty: any.
    pub methods: Vec<Method>,
    /// Exactly this host, or any subdomain for `*.example.com`; lower-cased.
    pub host: Option<String>,
    /// Headers that must be present with exactly these values; names
    /// lower-cased, in file order.
    pub headers: Vec<(HeaderName, String)>,
    /// Where the `match` mapping starts.
    pub span: Span,
}

/// The keys `match` takes, in the order they are listed in messages.
const MATCH_KEYS: &str = "grpc_service, grpc_method, path, path_prefix, methods, host, headers";

/// Reads `match`. Every key is checked even when an earlier one is wrong;
/// the result is `None` when any was.
pub(crate) fn decode_match(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<MatchConfig> {
    let errors_before = d.error_count();
    let mut f = d.fields(node, path, "`match`")?;
    let empty = f.is_empty();
    let grpc_service = checked(&mut f, d, "grpc_service", check_grpc_service);
    let grpc_method = checked(&mut f, d, "grpc_method", check_grpc_method);
    let exact = checked(&mut f, d, "path", check_http_path);
    let path_prefix = checked(&mut f, d, "path_prefix", check_http_path);
    let methods = f
        .optional::<Vec<Spanned<String>>>(d, "methods")
        .map(|m| decode_methods(&m, &path.key("methods"), d))
        .unwrap_or_default();
    let host = checked(&mut f, d, "host", check_host_pattern).map(|h| h.to_ascii_lowercase());
    let headers = f
        .optional::<OrderedMap<Spanned<String>>>(d, "headers")
        .map(|h| decode_headers(h, &path.key("headers"), d))
        .unwrap_or_default();
    f.finish(d);
    if empty {
        d.error(
            node.span,
            path,
            format!("`match` needs at least one of: {MATCH_KEYS}"),
        );
    }
    if d.error_count() > errors_before {
        return None;
    }
    Some(MatchConfig {
        grpc_service,
        grpc_method,
        path: exact,
        path_prefix,
        methods,
        host,
        headers,
        span: node.span,
    })
}

/// Reads an optional string and checks its shape, reporting at the value.
fn checked(
    f: &mut crate::fields::Fields<'_>,
    d: &mut Decoder,
    key: &str,
    check: fn(&str) -> Result<(), String>,
) -> Option<String> {
    let value = f.optional::<Spanned<String>>(d, key)?;
    match check(&value.value) {
        Ok(()) => Some(value.value),
        Err(message) => {
            d.error(value.span, &f.path().key(key), message);
            None
        }
    }
}

fn check_http_path(p: &str) -> Result<(), String> {
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(format!("a path starts with `/`, found `{p}`"))
    }
}

/// `example.com` or `*.example.com`.
fn check_host_pattern(host: &str) -> Result<(), String> {
    if host.contains(':') {
        return Err(format!("`{host}` has a port; match the host name only"));
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.contains('*') {
        return Err(format!(
            "`{host}`: a wildcard is allowed only as a whole first label, like `*.example.com`"
        ));
    }
    check_hostname(name)
}

/// Uppercase method tokens (`GET`, `POST`, or an extension like `PURGE`), each once.
fn decode_methods(methods: &[Spanned<String>], path: &YamlPath, d: &mut Decoder) -> Vec<Method> {
    let mut out: Vec<Method> = Vec::with_capacity(methods.len());
    for (i, m) in methods.iter().enumerate() {
        let p = path.index(i);
        let upper = m.value.to_ascii_uppercase();
        if m.value != upper {
            d.error(
                m.span,
                &p,
                format!("HTTP methods are upper case; write `{upper}`"),
            );
            continue;
        }
        match Method::from_bytes(m.value.as_bytes()) {
            Ok(method) if out.contains(&method) => {
                d.error(m.span, &p, format!("`{}` is listed twice", m.value));
            }
            Ok(method) => out.push(method),
            Err(_) => d.error(m.span, &p, format!("`{}` is not an HTTP method", m.value)),
        }
    }
    out
}

/// Header names must be valid (they are lower-cased); values must be
/// visible ASCII or spaces.
fn decode_headers(
    headers: OrderedMap<Spanned<String>>,
    path: &YamlPath,
    d: &mut Decoder,
) -> Vec<(HeaderName, String)> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let p = path.key(&name.value);
        let Ok(header) = HeaderName::from_bytes(name.value.to_ascii_lowercase().as_bytes()) else {
            d.error(
                name.span,
                &p,
                format!("`{}` is not a valid header name", name.value),
            );
            continue;
        };
        if HeaderValue::from_str(&value.value).is_err() {
            d.error(
                value.span,
                &p,
                "a header value must be visible ASCII characters or spaces",
            );
            continue;
        }
        out.push((header, value.value));
    }
    out
}

impl JsonSchema for MatchConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Match")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut schema = schema::object(
            "The conditions of a route; every one given must hold.",
            &[],
            vec![
                (
                    "grpc_service",
                    schema::string("gRPC calls to this service, like ecommerce.v1.ProductService"),
                ),
                (
                    "grpc_method",
                    schema::pattern(
                        "gRPC calls to this method, like ecommerce.v1.ProductService/GetProduct",
                        "^[^/]+/[^/]+$",
                    ),
                ),
                ("path", schema::pattern("exactly this path", "^/")),
                (
                    "path_prefix",
                    schema::pattern("paths starting with this", "^/"),
                ),
                (
                    "methods",
                    schema::array(
                        "only these HTTP methods; default any",
                        schema::pattern("an uppercase method like GET", "^[A-Z]+$"),
                    ),
                ),
                (
                    "host",
                    schema::pattern(
                        "exactly this host, or any subdomain for *.example.com (no port)",
                        "^[^:]+$",
                    ),
                ),
                (
                    "headers",
                    schema::map_of(
                        "headers that must be present with exactly these values",
                        schema::string("the exact value"),
                    ),
                ),
            ],
        );
        schema.insert("minProperties".to_owned(), 1.into());
        schema
    }
}
