//! Value templates: `"${client_ip}"`, `"tenant-${header.x-tenant}"`.
//!
//! A template is parsed once, when the config loads; an unknown variable is
//! a config error there, never a surprise at request time. Evaluating it is
//! a walk over literal and variable parts.

use http::HeaderValue;
use percent_encoding::percent_decode_str;
use protogate_core::{CallInfo, RequestHeader};

/// The variables a template may name.
pub const VARIABLES: &str =
    "client_ip, route, grpc_method, request_id, header.NAME, query.NAME, path.NAME";

/// One variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Variable {
    /// The caller's address (the TCP peer).
    ClientIp,
    /// The route's name.
    Route,
    /// `package.Service/Method` of a gRPC call.
    GrpcMethod,
    /// The call's request id (`header_map`'s `request_id` must be on).
    RequestId,
    /// A request header of the caller.
    Header(http::HeaderName),
    /// A query parameter of the caller's URL (percent-decoded).
    Query(String),
    /// A path variable of the transcoder binding that matched (`id`,
    /// `product.id`).
    Path(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(Variable),
}

/// A parsed value template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    /// The value when the template has no variable (checked at load).
    constant: Option<HeaderValue>,
}

/// Where the value of a template comes from: the caller's request and the
/// call's facts.
pub struct Sources<'a> {
    /// The call.
    pub call: &'a CallInfo,
    /// The caller's request, as it arrived.
    pub request: &'a RequestHeader,
}

impl Template {
    /// Parses `text`. The error says what is wrong, for the config error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("`${{` without a closing `}}` in `{text}`"));
            };
            parts.push(Part::Variable(variable(&after[..end])?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let constant = match parts.as_slice() {
            [] => Some(HeaderValue::from_static("")),
            [Part::Literal(text)] => Some(check_value(text)?),
            _ => None,
        };
        for part in &parts {
            if let Part::Literal(text) = part {
                check_value(text)?;
            }
        }
        Ok(Self { parts, constant })
    }

    /// The value when the template is a constant.
    pub fn constant(&self) -> Option<&HeaderValue> {
        self.constant.as_ref()
    }

    /// Whether the template names any variable.
    pub fn has_variables(&self) -> bool {
        self.constant.is_none()
    }

    /// The path variables the template names (`${path.NAME}`).
    pub fn path_variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(Variable::Path(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Whether the template names `${request_id}`.
    pub fn uses_request_id(&self) -> bool {
        self.parts.contains(&Part::Variable(Variable::RequestId))
    }

    /// The value for this call. `None` when a variable has no value (the
    /// header or query parameter is absent, no client address) or the
    /// result is not visible ASCII: the rule is then skipped.
    pub fn evaluate(&self, sources: &Sources<'_>) -> Option<HeaderValue> {
        if let Some(constant) = &self.constant {
            return Some(constant.clone());
        }
        if let [Part::Variable(Variable::Header(name))] = self.parts.as_slice() {
            // The caller's value as it is (a shared-bytes clone), when it
            // passes the same check as a built value.
            let value = sources.request.headers.get(name)?;
            let visible = value.as_bytes().iter().all(|b| (0x20..=0x7e).contains(b));
            return visible.then(|| value.clone());
        }
        let mut out = String::with_capacity(64);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(variable) => write_value(variable, sources, &mut out)?,
            }
        }
        // gRPC text metadata is visible ASCII and spaces; anything else
        // (UTF-8 from a decoded query, say) would be mangled downstream.
        if out.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
            return None;
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(text)?,
                Part::Variable(Variable::ClientIp) => f.write_str("${client_ip}")?,
                Part::Variable(Variable::Route) => f.write_str("${route}")?,
                Part::Variable(Variable::GrpcMethod) => f.write_str("${grpc_method}")?,
                Part::Variable(Variable::RequestId) => f.write_str("${request_id}")?,
                Part::Variable(Variable::Header(name)) => write!(f, "${{header.{name}}}")?,
                Part::Variable(Variable::Query(name)) => write!(f, "${{query.{name}}}")?,
                Part::Variable(Variable::Path(name)) => write!(f, "${{path.{name}}}")?,
            }
        }
        Ok(())
    }
}

fn variable(name: &str) -> Result<Variable, String> {
    let named = |prefix: &str| name.strip_prefix(prefix).filter(|n| !n.is_empty());
    match name {
        "client_ip" => Ok(Variable::ClientIp),
        "route" => Ok(Variable::Route),
        "grpc_method" => Ok(Variable::GrpcMethod),
        "request_id" => Ok(Variable::RequestId),
        _ => {
            if let Some(header) = named("header.") {
                let header = http::HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| format!("`{header}` in `${{{name}}}` is not a header name"))?;
                Ok(Variable::Header(header))
            } else if let Some(query) = named("query.") {
                Ok(Variable::Query(query.to_owned()))
            } else if let Some(path) = named("path.") {
                Ok(Variable::Path(path.to_owned()))
            } else {
                Err(format!(
                    "unknown template variable `${{{name}}}`; expected one of: {VARIABLES}"
                ))
            }
        }
    }
}

/// A literal part must be a valid header value on its own: visible ASCII
/// and spaces (gRPC metadata allows nothing else in text values).
fn check_value(text: &str) -> Result<HeaderValue, String> {
    if text.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return Err(format!(
            "`{text}` is not a valid header value (visible ASCII and spaces only)"
        ));
    }
    HeaderValue::from_str(text).map_err(|e| format!("`{text}`: {e}"))
}

/// Appends the variable's value to `out`; `None` when it has none.
fn write_value(variable: &Variable, sources: &Sources<'_>, out: &mut String) -> Option<()> {
    use std::fmt::Write;
    let call = sources.call;
    match variable {
        Variable::ClientIp => protogate_core::ip::push_ip(out, call.client_addr?),
        Variable::Route => out.push_str(call.route.as_deref()?),
        Variable::GrpcMethod => {
            if &*call.grpc_service == "unknown" {
                return None;
            }
            write!(out, "{}/{}", call.grpc_service, call.grpc_method).ok()?;
        }
        Variable::RequestId => out.push_str(call.request_id.as_deref()?),
        Variable::Header(name) => {
            let value = sources.request.headers.get(name)?;
            out.push_str(value.to_str().ok()?);
        }
        Variable::Query(name) => out.push_str(&query_value(sources.request.uri.query()?, name)?),
        Variable::Path(name) => {
            let (_, value) = call.path_params.iter().find(|(n, _)| n == name)?;
            out.push_str(value);
        }
    }
    Some(())
}

/// The first value of `name` in a query string, percent-decoded (`+` is a
/// space, as HTML forms send it).
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode_str(key).decode_utf8().ok()?;
        if key != name {
            return None;
        }
        let value = value.replace('+', " ");
        percent_decode_str(&value)
            .decode_utf8()
            .ok()
            .map(|v| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> RequestHeader {
        let mut request =
            RequestHeader::build(http::Method::GET, uri.as_bytes(), None).expect("request");
        for (name, value) in headers {
            request
                .insert_header(name.to_string(), *value)
                .expect("header");
        }
        request
    }

    #[test]
    fn a_lone_header_template_passes_the_value_or_skips_it() {
        let template = Template::parse("${header.x-tenant}").expect("valid");
        let call = CallInfo::default();
        let plain = request("/", &[("x-tenant", "acme corp")]);
        let value = template.evaluate(&Sources {
            call: &call,
            request: &plain,
        });
        assert_eq!(value.expect("a value"), "acme corp");
        let mut tab = request("/", &[]);
        tab.insert_header("x-tenant", HeaderValue::from_static("a\tb"))
            .expect("header");
        let skipped = template.evaluate(&Sources {
            call: &call,
            request: &tab,
        });
        assert_eq!(skipped, None, "a tab is not gRPC text metadata");
        let absent = request("/", &[]);
        let none = template.evaluate(&Sources {
            call: &call,
            request: &absent,
        });
        assert_eq!(none, None);
    }

    #[test]
    fn templates_fill_in_every_variable() {
        let template =
            Template::parse("${client_ip}|${route}|${grpc_method}|${header.X-Tenant}|${query.q}")
                .expect("valid");
        let call = CallInfo {
            client_addr: Some("10.1.2.3".parse().expect("ip")),
            route: Some("orders".into()),
            grpc_service: "shop.v1.Orders".into(),
            grpc_method: "Get".into(),
            ..Default::default()
        };
        let request = request("/x?a=1&q=cafe+au+lait%21", &[("x-tenant", "acme")]);
        let value = template
            .evaluate(&Sources {
                call: &call,
                request: &request,
            })
            .expect("a value");
        assert_eq!(
            value,
            "10.1.2.3|orders|shop.v1.Orders/Get|acme|cafe au lait!".as_bytes()
        );
        assert_eq!(
            template.to_string(),
            "${client_ip}|${route}|${grpc_method}|${header.x-tenant}|${query.q}"
        );
    }

    #[test]
    fn a_missing_source_skips_the_rule() {
        let template = Template::parse("t-${header.x-tenant}").expect("valid");
        let call = CallInfo::default();
        let request = request("/", &[]);
        assert_eq!(
            template.evaluate(&Sources {
                call: &call,
                request: &request
            }),
            None
        );
    }

    #[test]
    fn bad_templates_say_why() {
        let error = Template::parse("${client_address}").expect_err("unknown");
        assert!(
            error.contains("unknown template variable `${client_address}`"),
            "{error}"
        );
        assert!(error.contains("client_ip"), "{error}");
        assert!(Template::parse("${route").is_err());
        assert!(Template::parse("${header.}").is_err());
        assert!(Template::parse("caf\u{e9}").is_err());
        let path = Template::parse("x-${path.product.id}").expect("a path variable");
        assert_eq!(path.path_variables().collect::<Vec<_>>(), ["product.id"]);
        assert!(Template::parse("${request_id}")
            .expect("known")
            .uses_request_id());
        assert_eq!(
            Template::parse("plain").expect("valid").constant(),
            Some(&HeaderValue::from_static("plain"))
        );
    }
}
