//! Cross-origin resource sharing, for plugins that answer browsers.
//!
//! The transcoder (REST from a web page) and gRPC-Web both need the same
//! policy: answer the preflight `OPTIONS` themselves (it must never reach a
//! gRPC upstream) and add the `access-control-*` headers to every answer,
//! errors included, so the page can read them. The policy is decoded from
//! the route's `cors:` block:
//!
//! ```yaml
//! cors:
//!   allow_origins: ["https://app.example.com", "*.example.org"]   # or ["*"]
//!   allow_methods: [GET, POST]        # default: GET, HEAD, POST, PUT, PATCH, DELETE
//!   allow_headers: [authorization]    # default: whatever the preflight asks for
//!   expose_headers: [x-request-id]    # response headers the page may read
//!   max_age: 10m                      # how long the browser caches the preflight
//!   allow_credentials: false          # cookies and HTTP auth
//! ```
//!
//! A request from an origin the policy does not allow gets no
//! `access-control-allow-origin`, so the browser blocks it; its preflight
//! is answered 403 with the usual JSON error, which says why.

use std::borrow::Cow;
use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderName, HeaderValue, Method};
use pingora_http::{RequestHeader, ResponseHeader};
use protogate_config::{Decode, Decoder, Node, YamlPath};

use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};
use crate::GatewayError;

/// Methods allowed when the policy does not list them.
const DEFAULT_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

/// How long a browser may cache a preflight answer by default.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// Which origins may call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origins {
    /// `["*"]`: every origin.
    Any,
    /// Exact origins (`https://app.example.com`) and suffix patterns
    /// (`*.example.com` matches any scheme and port on a subdomain).
    List(Vec<String>),
}

/// A decoded `cors:` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Origins,
    methods: HeaderValue,
    allowed_methods: Vec<Method>,
    headers: Option<HeaderValue>,
    expose: Option<HeaderValue>,
    max_age: HeaderValue,
    credentials: bool,
    /// Expose every header of each answer, not only `expose` (gRPC-Web's
    /// default: the page can read the call's response metadata).
    expose_metadata: bool,
}

/// Response headers a page can always read (CORS-safelisted), or that say
/// nothing about the call: never listed in `access-control-expose-headers`.
const NEVER_EXPOSED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "connection",
    "date",
    "keep-alive",
    "server",
    "transfer-encoding",
    "vary",
];

impl CorsPolicy {
    /// A permissive policy: any origin, the default methods, any requested
    /// header, and `expose` readable by the page (gRPC-Web's default).
    pub fn permissive(expose: &[&str]) -> Self {
        Self {
            origins: Origins::Any,
            methods: HeaderValue::from_static(DEFAULT_METHODS),
            allowed_methods: default_methods(),
            headers: None,
            expose: join(expose.iter().copied()),
            max_age: HeaderValue::from(DEFAULT_MAX_AGE.as_secs()),
            credentials: false,
            expose_metadata: false,
        }
    }

    /// True when the policy names the headers it exposes (`expose_headers`).
    pub fn lists_exposed_headers(&self) -> bool {
        self.expose.is_some()
    }

    /// Makes every header of each answer readable by the page, on top of
    /// the listed ones: see [`CorsPolicy::exposed_for`].
    pub fn expose_response_metadata(mut self) -> Self {
        self.expose_metadata = true;
        self
    }

    /// When the policy exposes response metadata, the
    /// `access-control-expose-headers` value for `response`: the listed
    /// names plus every header the answer carries (safelisted ones aside).
    /// `None` when the static list of [`CorsPolicy::response_headers`]
    /// already says it all.
    pub fn exposed_for(&self, response: &ResponseHeader) -> Option<HeaderValue> {
        if !self.expose_metadata {
            return None;
        }
        let listed = self.expose.as_ref().and_then(|v| v.to_str().ok());
        let mut names: Vec<&str> = listed.map(|l| l.split(", ").collect()).unwrap_or_default();
        for name in response.headers.keys() {
            let name = name.as_str();
            let quiet = NEVER_EXPOSED.contains(&name) || name.starts_with("access-control-");
            if !quiet && !names.contains(&name) {
                names.push(name);
            }
        }
        join(names.into_iter())
    }

    /// Adds response headers the page may read to those the policy lists
    /// (gRPC-Web always exposes `grpc-status` and `grpc-message`).
    pub fn also_expose(mut self, names: &[&str]) -> Self {
        let mut all: Vec<String> = self
            .expose
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(", ").map(str::to_owned).collect())
            .unwrap_or_default();
        for name in names {
            if !all.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                all.push((*name).to_owned());
            }
        }
        self.expose = join(all.iter().map(String::as_str));
        self
    }

    /// True for a CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`.
    pub fn is_preflight(request: &RequestHeader) -> bool {
        request.method == Method::OPTIONS
            && request.headers.contains_key(ORIGIN)
            && request.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight: 204 with the allowed methods and headers,
    /// or a 403 error when the origin or the method is not allowed.
    pub fn preflight(&self, request: &RequestHeader) -> Result<ResponseHeader, GatewayError> {
        let origin = request.headers.get(ORIGIN);
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else {
            return Err(forbidden(format!(
                "CORS: origin {} is not allowed on this route",
                origin.and_then(|o| o.to_str().ok()).unwrap_or("(none)")
            )));
        };
        let asked = request
            .headers
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        if !asked
            .as_ref()
            .is_some_and(|m| self.allowed_methods.contains(m))
        {
            return Err(forbidden(format!(
                "CORS: method {} is not allowed on this route",
                asked.as_ref().map_or("(invalid)", Method::as_str)
            )));
        }
        let mut header = ResponseHeader::build(204, Some(8))
            .map_err(|e| GatewayError::internal(e.to_string()))?;
        let allowed_headers = match &self.headers {
            Some(list) => Some(list.clone()),
            None => request.headers.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        };
        let mut pairs = vec![
            (ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin),
            (ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone()),
            (ACCESS_CONTROL_MAX_AGE, self.max_age.clone()),
            (VARY, HeaderValue::from_static("origin")),
            (http::header::CONTENT_LENGTH, HeaderValue::from_static("0")),
        ];
        if let Some(list) = allowed_headers {
            pairs.push((ACCESS_CONTROL_ALLOW_HEADERS, list));
        }
        if self.credentials {
            pairs.push((
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        for (name, value) in pairs {
            header
                .insert_header(name, value)
                .map_err(|e| GatewayError::internal(e.to_string()))?;
        }
        Ok(header)
    }

    /// The headers an actual (non-preflight) answer carries for a request
    /// from `request`'s origin; empty when there is no origin or it is not
    /// allowed.
    pub fn response_headers(&self, request: &RequestHeader) -> Vec<(HeaderName, HeaderValue)> {
        let Some(allow_origin) = request
            .headers
            .get(ORIGIN)
            .and_then(|o| self.allow_origin(o))
        else {
            return Vec::new();
        };
        let mut headers = vec![
            (ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin),
            (VARY, HeaderValue::from_static("origin")),
        ];
        if let Some(expose) = &self.expose {
            headers.push((ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone()));
        }
        if self.credentials {
            headers.push((
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ));
        }
        headers
    }

    /// The `access-control-allow-origin` value for `origin`, if allowed.
    /// With credentials the origin itself is echoed, never `*`.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let text = origin.to_str().ok()?;
        match &self.origins {
            Origins::Any if !self.credentials => Some(HeaderValue::from_static("*")),
            Origins::Any => Some(origin.clone()),
            Origins::List(list) => list
                .iter()
                .any(|allowed| origin_matches(allowed, text))
                .then(|| origin.clone()),
        }
    }
}

/// `https://a.example.com` matches itself; `*.example.com` matches any
/// origin whose host ends in `.example.com`, whatever the scheme and port.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        return host.len() > suffix.len()
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
    }
    pattern.eq_ignore_ascii_case(origin)
}

fn forbidden(message: String) -> GatewayError {
    GatewayError::new(protogate_grpc::status::Code::PermissionDenied, message)
}

fn default_methods() -> Vec<Method> {
    DEFAULT_METHODS
        .split(", ")
        .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
        .collect()
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> Option<HeaderValue> {
    let joined = names.collect::<Vec<_>>().join(", ");
    if joined.is_empty() {
        return None;
    }
    HeaderValue::from_str(&joined).ok()
}

impl Decode for CorsPolicy {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "the cors policy")?;
        let origins = fields.optional::<Vec<String>>(d, "allow_origins");
        let methods = fields.optional::<Vec<String>>(d, "allow_methods");
        let headers = fields.optional::<Vec<String>>(d, "allow_headers");
        let expose = fields.optional::<Vec<String>>(d, "expose_headers");
        let max_age = fields.optional::<Duration>(d, "max_age");
        let credentials = fields.optional::<bool>(d, "allow_credentials");
        let span = fields.span();
        fields.finish(d);

        let mut ok = true;
        let origins = match origins {
            None => Origins::Any,
            Some(list) if list.iter().any(|o| o == "*") => Origins::Any,
            Some(list) => {
                for origin in &list {
                    if origin.trim().is_empty() || origin.ends_with('/') {
                        d.error(
                            span,
                            &path.key("allow_origins"),
                            format!(
                                "`{origin}` is not an origin (scheme://host[:port], no path, or *.domain)"
                            ),
                        );
                        ok = false;
                    }
                }
                Origins::List(list)
            }
        };
        let allowed_methods = match &methods {
            None => default_methods(),
            Some(list) => {
                let mut parsed = Vec::with_capacity(list.len());
                for name in list {
                    match Method::from_bytes(name.to_ascii_uppercase().as_bytes()) {
                        Ok(m) => parsed.push(m),
                        Err(_) => {
                            d.error(
                                span,
                                &path.key("allow_methods"),
                                format!("`{name}` is not an HTTP method"),
                            );
                            ok = false;
                        }
                    }
                }
                parsed
            }
        };
        let methods_value = join(allowed_methods.iter().map(Method::as_str))
            .unwrap_or_else(|| HeaderValue::from_static(DEFAULT_METHODS));
        let mut header_list = |list: Option<Vec<String>>, key: &str| -> Option<HeaderValue> {
            let list = list?;
            for name in &list {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    d.error(
                        span,
                        &path.key(key),
                        format!("`{name}` is not a header name"),
                    );
                    ok = false;
                }
            }
            join(list.iter().map(String::as_str))
        };
        let headers = header_list(headers, "allow_headers");
        let expose = header_list(expose, "expose_headers");
        let credentials = credentials.unwrap_or(false);
        if !ok {
            return None;
        }
        Some(Self {
            origins,
            methods: methods_value,
            allowed_methods,
            headers,
            expose,
            max_age: HeaderValue::from(max_age.unwrap_or(DEFAULT_MAX_AGE).as_secs()),
            credentials,
            expose_metadata: false,
        })
    }
}

/// An HTTP token (RFC 9110): the characters a method or a header name may
/// have (header names are lower-cased as they are read).
const TOKEN_PATTERN: &str = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

impl JsonSchema for CorsPolicy {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("CorsPolicy")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let origins = schema::array(
            "origins that may call: `https://app.example.com`, `*.example.org` (any subdomain, scheme and port) or `*`; default any",
            // Not blank and no trailing `/`, as the decoder checks.
            schema::pattern(
                "an origin: scheme://host[:port] with no path, *.domain, or *",
                r"(?:[^\s/]|\S[\s\S]*\s)$",
            ),
        );
        schema::object(
            "CORS for browser pages: the gateway answers the preflight itself and adds the access-control headers to every answer.",
            &[],
            vec![
                ("allow_origins", origins),
                (
                    "allow_methods",
                    schema::array(
                        "methods a page may use; default GET, HEAD, POST, PUT, PATCH, DELETE",
                        schema::pattern("an HTTP method, like GET", TOKEN_PATTERN),
                    ),
                ),
                (
                    "allow_headers",
                    schema::array(
                        "request headers a page may send; default: whatever the preflight asks for",
                        schema::pattern("a header name", TOKEN_PATTERN),
                    ),
                ),
                (
                    "expose_headers",
                    schema::array(
                        "response headers a page may read, like x-request-id",
                        schema::pattern("a header name", TOKEN_PATTERN),
                    ),
                ),
                (
                    "max_age",
                    schema::duration("how long a browser caches the preflight answer; default 10m"),
                ),
                (
                    "allow_credentials",
                    schema::boolean(
                        "let pages send cookies and HTTP auth (the origin is echoed instead of *); default false",
                    ),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> CorsPolicy {
        protogate_config::decode_str::<CorsPolicy>(yaml, std::path::Path::new("t.yaml"))
            .expect("a policy")
    }

    fn request(method: &str, origin: Option<&str>, asked: Option<&str>) -> RequestHeader {
        let mut req = RequestHeader::build(
            Method::from_bytes(method.as_bytes()).expect("method"),
            b"/v1/x",
            None,
        )
        .expect("request");
        if let Some(origin) = origin {
            req.insert_header(ORIGIN, origin).expect("origin");
        }
        if let Some(asked) = asked {
            req.insert_header(ACCESS_CONTROL_REQUEST_METHOD, asked)
                .expect("method");
            req.insert_header(ACCESS_CONTROL_REQUEST_HEADERS, "content-type, x-a")
                .expect("headers");
        }
        req
    }

    #[test]
    fn a_listed_origin_gets_its_preflight_answered_and_others_are_refused() {
        let cors =
            policy("allow_origins: [\"https://app.example.com\", \"*.example.org\"]\nmax_age: 1m");
        let ok = cors
            .preflight(&request(
                "OPTIONS",
                Some("https://app.example.com"),
                Some("POST"),
            ))
            .expect("allowed");
        assert_eq!(ok.status, 204);
        assert_eq!(
            ok.headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(
            ok.headers[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, x-a"
        );
        assert_eq!(ok.headers[ACCESS_CONTROL_MAX_AGE], "60");
        assert!(cors
            .preflight(&request(
                "OPTIONS",
                Some("http://shop.example.org:8080"),
                Some("GET")
            ))
            .is_ok());
        let refused = cors
            .preflight(&request("OPTIONS", Some("https://evil.test"), Some("POST")))
            .expect_err("refused");
        assert_eq!(refused.http_status(), 403);
        assert!(refused.message.contains("https://evil.test"));
        assert!(cors
            .preflight(&request(
                "OPTIONS",
                Some("https://app.example.com"),
                Some("TRACE")
            ))
            .is_err());
    }

    #[test]
    fn suffix_patterns_need_a_dot_boundary() {
        assert!(origin_matches("*.example.org", "https://a.example.org"));
        assert!(!origin_matches("*.example.org", "https://badexample.org"));
        assert!(!origin_matches("*.example.org", "https://example.org"));
    }

    #[test]
    fn actual_responses_carry_origin_and_exposed_headers() {
        let cors = CorsPolicy::permissive(&["grpc-status"]).also_expose(&["grpc-message"]);
        let headers = cors.response_headers(&request("POST", Some("https://x.test"), None));
        assert!(headers.contains(&(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"))));
        assert!(headers.contains(&(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("grpc-status, grpc-message")
        )));
        assert!(cors
            .response_headers(&request("POST", None, None))
            .is_empty());
    }

    #[test]
    fn metadata_exposure_lists_what_the_answer_carries() {
        let cors = CorsPolicy::permissive(&["grpc-status"]).expose_response_metadata();
        let mut response = ResponseHeader::build(200, None).expect("header");
        for (name, value) in [
            ("content-type", "application/grpc-web+proto"),
            ("x-request-id", "abc"),
            ("grpc-status", "0"),
            ("access-control-allow-origin", "*"),
            ("date", "today"),
        ] {
            response.insert_header(name, value).expect("insert");
        }
        assert_eq!(
            cors.exposed_for(&response).expect("a list"),
            "grpc-status, x-request-id"
        );
        assert!(CorsPolicy::permissive(&[]).exposed_for(&response).is_none());
    }

    #[test]
    fn credentials_echo_the_origin_instead_of_a_star() {
        let cors = policy("allow_credentials: true");
        let headers = cors.response_headers(&request("GET", Some("https://x.test"), None));
        assert!(headers.contains(&(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("https://x.test")
        )));
    }

    #[test]
    fn bad_entries_are_config_errors() {
        let errors = protogate_config::decode_str::<CorsPolicy>(
            "allow_origins: [\"https://a.test/\"]\nallow_methods: [\"GE T\"]\nexpose_headers: [\"bad header\"]",
            std::path::Path::new("t.yaml"),
        )
        .expect_err("three errors");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
