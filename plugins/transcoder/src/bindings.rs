//! The route's REST bindings: collected from `google.api.http` annotations
//! and the explicit `bindings` list, checked against the descriptor
//! catalog, and matched against requests.
//!
//! Checks at load (each a config error with line and column): the service
//! and method exist, every path variable, `body`, `response_body` and
//! `input_mapping` names a field of the right kind, and no two bindings
//! match the same requests (the error names both). Overlapping but
//! different templates are allowed: the most specific one wins (more
//! literal segments, then fewer `**`), then the first declared.

use std::sync::Arc;

use http::Method;
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor, MethodDescriptor, Value};
use protogate_core::{Decoder, Span, YamlPath};
use protogate_grpc::catalog::{Catalog, RpcKind};

use crate::config::{BindingConfig, TranscoderConfig};
use crate::fields::{describe_kind, is_scalar_like, resolve_field_path};
use crate::template::{Captures, PathTemplate, RequestPath};

/// The full name of `google.api.HttpBody`: raw bytes and a content type.
pub const HTTP_BODY: &str = "google.api.HttpBody";

/// Where a request's body goes.
#[derive(Clone, Debug)]
pub enum BodyRule {
    /// No body: a non-empty one is refused.
    None,
    /// `body: "*"`: the whole request message.
    Whole,
    /// `body: "field"`: that field of the request message.
    Field(FieldDescriptor),
}

/// One REST binding of a gRPC method, resolved against the catalog.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The gRPC method called.
    pub method: MethodDescriptor,
    /// Its HTTP/2 path, `/pkg.Service/Method`.
    pub grpc_path: String,
    /// The HTTP method that selects this binding.
    pub http_method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// For each template variable, the field chain it fills.
    pub path_fields: Vec<Vec<FieldDescriptor>>,
    /// Where the body goes.
    pub body: BodyRule,
    /// The response field sent as the whole answer.
    pub response_body: Option<FieldDescriptor>,
    /// Whether query parameters are accepted.
    pub query_params: bool,
    /// Query parameter renames: name -> field chain.
    pub input_mapping: Vec<(String, Vec<FieldDescriptor>)>,
    /// Where the binding comes from, for errors and `protogate routes`.
    pub origin: String,
    /// The service's full name, as the call's metric label.
    pub service_label: Arc<str>,
    /// The method's name, as the call's metric label.
    pub method_label: Arc<str>,
    /// The path template as written (`/v1/{name=shelves/*}`): the call's
    /// `http.route` in traces.
    pub http_route: Arc<str>,
    /// The method's RPC kind.
    pub kind: RpcKind,
}

impl Binding {
    /// `GET /v1/products/{id} -> ecommerce.v1.ProductService/GetProduct`.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} {} -> {}/{}",
            self.http_method, self.template.text, self.service_label, self.method_label
        );
        if let BodyRule::Whole = self.body {
            line.push_str(" (body: *)");
        } else if let BodyRule::Field(f) = &self.body {
            line.push_str(&format!(" (body: {})", f.name()));
        }
        if let Some(f) = &self.response_body {
            line.push_str(&format!(" (response_body: {})", f.name()));
        }
        line.push_str(&format!(" [{}]", self.origin));
        line
    }
}

/// What a request path and method found.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// A binding, with its variables' values.
    Found(&'a Binding, Captures),
    /// The path is bound, but not for this method: these are.
    WrongMethod(Vec<Method>),
    /// No binding has this path.
    NotFound,
}

/// Every binding of the route, most specific first.
#[derive(Debug, Default)]
pub struct BindingTable {
    bindings: Vec<Binding>,
}

impl BindingTable {
    /// Collects and checks every binding, recording errors in `d`. `None`
    /// when any binding is wrong.
    pub fn build(config: &TranscoderConfig, catalog: &Catalog, d: &mut Decoder) -> Option<Self> {
        let before = d.error_count();
        let mut bindings = Vec::new();
        let services_path = config.path.key("services");
        for (index, service) in config.services.iter().enumerate() {
            let path = services_path.index(index);
            let Some(descriptor) = catalog.service(&service.value) else {
                d.error(
                    service.span,
                    &path,
                    format!(
                        "service `{}` is not in the descriptor catalog (check `descriptors`)",
                        service.value
                    ),
                );
                continue;
            };
            for method in descriptor.methods() {
                for (index, rule) in http_rules(catalog, &method).into_iter().enumerate() {
                    let origin = if index == 0 {
                        format!("google.api.http of {}", method.full_name())
                    } else {
                        format!(
                            "google.api.http of {}, additional_bindings[{}]",
                            method.full_name(),
                            index - 1
                        )
                    };
                    let at = Site {
                        span: service.span,
                        path: &path,
                    };
                    if let Some(b) = resolve(&method, rule, origin, &at, d) {
                        bindings.push(b);
                    }
                }
            }
        }
        for binding in &config.bindings {
            if let Some(b) = explicit(binding, catalog, d) {
                bindings.push(b);
            }
        }
        check_conflicts(&bindings, config, d);
        if d.error_count() > before {
            return None;
        }
        // Stable: equally specific bindings keep their declared order.
        bindings.sort_by_key(|b| std::cmp::Reverse(b.template.specificity()));
        Some(Self { bindings })
    }

    /// The bindings, most specific first.
    pub fn iter(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.iter()
    }

    /// Finds the binding for `method` and the raw `path` (no query).
    pub fn find(&self, method: &Method, path: &str) -> Lookup<'_> {
        let split = RequestPath::new(path);
        let mut allowed: Vec<Method> = Vec::new();
        for binding in &self.bindings {
            if let Some(captures) = binding.template.matches(&split) {
                if binding.http_method == *method {
                    return Lookup::Found(binding, captures);
                }
                if !allowed.contains(&binding.http_method) {
                    allowed.push(binding.http_method.clone());
                }
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            Lookup::WrongMethod(allowed)
        }
    }
}

/// One binding's rule, before it is checked.
struct Rule {
    http_method: Method,
    template: String,
    body: Option<String>,
    response_body: Option<String>,
    query_params: bool,
    input_mapping: Vec<(String, String)>,
}

/// Where errors about a binding point.
struct Site<'a> {
    span: Span,
    path: &'a YamlPath,
}

fn explicit(config: &BindingConfig, catalog: &Catalog, d: &mut Decoder) -> Option<Binding> {
    let grpc_path = format!("/{}", config.rpc.value);
    let method = catalog.method(&grpc_path).and_then(|info| {
        catalog
            .service(&info.service)
            .and_then(|s| s.methods().find(|m| m.name() == info.method))
    });
    let Some(method) = method else {
        d.error(
            config.rpc.span,
            &config.path.key("rpc"),
            format!(
                "method `{}` is not in the descriptor catalog (expected pkg.Service/Method)",
                config.rpc.value
            ),
        );
        return None;
    };
    let rule = Rule {
        http_method: config.http_method.clone(),
        template: config.template.text.clone(),
        body: config.body.clone(),
        response_body: config.response_body.clone(),
        query_params: config.query_params,
        input_mapping: config
            .input_mapping
            .entries
            .iter()
            .map(|(k, v)| (k.value.clone(), v.clone()))
            .collect(),
    };
    let origin = config.path.as_str().to_owned();
    let site = Site {
        span: config.span,
        path: &config.path,
    };
    resolve(&method, rule, origin, &site, d)
}

/// The `google.api.http` rule of `method` and its additional bindings.
fn http_rules(catalog: &Catalog, method: &MethodDescriptor) -> Vec<Rule> {
    let Some(extension) = catalog.pool().get_extension_by_name("google.api.http") else {
        return Vec::new();
    };
    let options = method.options();
    if !options.has_extension(&extension) {
        return Vec::new();
    }
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        return Vec::new();
    };
    let mut rules = Vec::new();
    if let Some(first) = rule_from_message(&rule) {
        rules.push(first);
    }
    if let Some(Value::List(more)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        for extra in more {
            if let Value::Message(extra) = extra {
                if let Some(r) = rule_from_message(&extra) {
                    rules.push(r);
                }
            }
        }
    }
    rules
}

fn rule_from_message(rule: &DynamicMessage) -> Option<Rule> {
    let text = |name: &str| -> Option<String> {
        if !rule.has_field_by_name(name) {
            return None;
        }
        match rule.get_field_by_name(name)?.as_ref() {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    };
    let mut pattern = None;
    for (name, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if let Some(template) = text(name) {
            pattern = Some((method, template));
        }
    }
    if pattern.is_none() && rule.has_field_by_name("custom") {
        if let Some(Value::Message(custom)) =
            rule.get_field_by_name("custom").map(|v| v.into_owned())
        {
            let kind = custom
                .get_field_by_name("kind")
                .and_then(|v| v.as_str().map(str::to_owned));
            let path = custom
                .get_field_by_name("path")
                .and_then(|v| v.as_str().map(str::to_owned));
            if let (Some(kind), Some(path)) = (kind, path) {
                if let Ok(method) = Method::from_bytes(kind.as_bytes()) {
                    pattern = Some((method, path));
                }
            }
        }
    }
    let (http_method, template) = pattern?;
    Some(Rule {
        http_method,
        template,
        body: text("body"),
        response_body: text("response_body"),
        query_params: true,
        input_mapping: Vec::new(),
    })
}

/// Checks a rule against the method's messages.
fn resolve(
    method: &MethodDescriptor,
    rule: Rule,
    origin: String,
    at: &Site<'_>,
    d: &mut Decoder,
) -> Option<Binding> {
    let before = d.error_count();
    // Annotation bindings say which method's annotation is wrong; an
    // explicit binding's YAML path already says where it is.
    let prefix = if origin == at.path.as_str() {
        String::new()
    } else {
        format!("{origin}: ")
    };
    let fail = |d: &mut Decoder, message: String| {
        d.error(at.span, at.path, format!("{prefix}{message}"));
    };
    let input = method.input();
    let template = match PathTemplate::parse(&rule.template) {
        Ok(t) => t,
        Err(e) => {
            fail(d, e.0);
            return None;
        }
    };
    let mut path_fields = Vec::with_capacity(template.variables.len());
    for variable in &template.variables {
        match resolve_field_path(&input, &variable.field_path) {
            Ok(chain) => {
                let Some(leaf) = chain.last() else { continue };
                if leaf.is_list() || leaf.is_map() || !is_scalar_like(&leaf.kind()) {
                    fail(
                        d,
                        format!(
                            "path variable `{}` is {}; it must be a singular scalar, enum or string-form well-known type",
                            variable.field_path_text(),
                            describe_kind(leaf)
                        ),
                    );
                }
                path_fields.push(chain);
            }
            Err(e) => fail(d, format!("path variable: {e}")),
        }
    }
    let body = match rule.body.as_deref() {
        None => BodyRule::None,
        Some("*") => BodyRule::Whole,
        Some(name) => match input.get_field_by_name(name) {
            Some(field) => BodyRule::Field(field),
            None => {
                fail(
                    d,
                    format!("body: `{name}` is not a field of {}", input.full_name()),
                );
                BodyRule::None
            }
        },
    };
    let response_body = match rule.response_body.as_deref() {
        None => None,
        Some(name) => {
            let output = method.output();
            let field = output.get_field_by_name(name);
            if field.is_none() {
                fail(
                    d,
                    format!(
                        "response_body: `{name}` is not a field of {}",
                        output.full_name()
                    ),
                );
            }
            field
        }
    };
    let mut input_mapping = Vec::with_capacity(rule.input_mapping.len());
    for (param, target) in rule.input_mapping {
        let parts: Vec<String> = target.split('.').map(str::to_owned).collect();
        match resolve_field_path(&input, &parts) {
            Ok(chain) => input_mapping.push((param, chain)),
            Err(e) => fail(d, format!("input_mapping `{param}`: {e}")),
        }
    }
    if let BodyRule::Whole = body {
        if !template.variables.is_empty() && is_http_body(&input) {
            fail(
                d,
                "a google.api.HttpBody request with `body: \"*\"` has no room for path variables"
                    .to_owned(),
            );
        }
    }
    if d.error_count() > before {
        return None;
    }
    Some(Binding {
        method: method.clone(),
        grpc_path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
        http_method: rule.http_method,
        path_fields,
        body,
        response_body,
        query_params: rule.query_params,
        input_mapping,
        origin,
        service_label: Arc::from(method.parent_service().full_name()),
        method_label: Arc::from(method.name()),
        http_route: Arc::from(template.text.as_str()),
        template,
        kind: RpcKind::from_streaming(method.is_client_streaming(), method.is_server_streaming()),
    })
}

/// True for `google.api.HttpBody`.
pub fn is_http_body(message: &MessageDescriptor) -> bool {
    message.full_name() == HTTP_BODY
}

/// Two bindings with the same HTTP method and the same template shape
/// match the same requests: an error naming both.
fn check_conflicts(bindings: &[Binding], config: &TranscoderConfig, d: &mut Decoder) {
    for (i, a) in bindings.iter().enumerate() {
        for b in &bindings[..i] {
            if a.http_method == b.http_method && a.template.shape() == b.template.shape() {
                let span = config
                    .bindings
                    .iter()
                    .find(|c| c.path.as_str() == a.origin)
                    .map_or(config.span, |c| c.span);
                d.error(
                    span,
                    &config.path,
                    format!(
                        "bindings conflict: {} {} ({}) and {} {} ({}) match the same requests",
                        a.http_method,
                        a.template.text,
                        a.origin,
                        b.http_method,
                        b.template.text,
                        b.origin
                    ),
                );
            }
        }
    }
}
