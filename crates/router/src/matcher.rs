//! One route, compiled: the full match test and its precedence.
//!
//! The index in [`table`](crate::table) only narrows the candidates; the
//! final word on whether a route matches is always [`Matcher::matches`],
//! which checks every key the route has, including the one it was indexed by.
//! That keeps the index free to be approximate in one direction (it may offer
//! too many candidates, never too few) and makes the linear oracle
//! ([`RouteTable::lookup_linear`](crate::RouteTable::lookup_linear)) a plain
//! scan over the same test.

use std::cmp::Reverse;

use http::{HeaderName, Method};

use crate::host::HostPattern;
use crate::spec::{Request, RouteSpec};

/// Which key ranks a route, most specific first. The derive order is the
/// precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    GrpcMethod,
    GrpcService,
    Path,
    /// Carries the prefix length, longer first.
    Prefix(Reverse<usize>),
    /// Only host, methods or headers (or nothing at all).
    Rest,
}

/// A route's place in the precedence order: smaller sorts first and wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Precedence {
    class: Class,
    /// More constraints win at equal class.
    constraints: Reverse<usize>,
    /// Then the first declared.
    declared: usize,
}

impl Precedence {
    /// Ranks a spec declared at position `declared`.
    pub(crate) fn of(spec: &RouteSpec, declared: usize) -> Self {
        let class = if spec.grpc_method.is_some() {
            Class::GrpcMethod
        } else if spec.grpc_service.is_some() {
            Class::GrpcService
        } else if spec.path.is_some() {
            Class::Path
        } else if let Some(prefix) = &spec.path_prefix {
            Class::Prefix(Reverse(prefix.len()))
        } else {
            Class::Rest
        };
        let constraints = usize::from(spec.host.is_some())
            + usize::from(!spec.methods.is_empty())
            + spec.headers.len();
        Self {
            class,
            constraints: Reverse(constraints),
            declared,
        }
    }
}

/// A [`RouteSpec`] turned into the form lookup wants: the gRPC method as the
/// full request path, the host lowercased, header values as bytes.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    /// `/pkg.Service/Method`.
    grpc_path: Option<Box<str>>,
    grpc_service: Option<Box<str>>,
    path: Option<Box<str>>,
    path_prefix: Option<Box<str>>,
    methods: Box<[Method]>,
    host: Option<HostPattern>,
    headers: Box<[(HeaderName, Box<[u8]>)]>,
}

impl Matcher {
    pub(crate) fn new(spec: &RouteSpec) -> Self {
        Self {
            grpc_path: spec.grpc_method.as_deref().map(grpc_method_path),
            grpc_service: spec.grpc_service.as_deref().map(Box::from),
            path: spec.path.as_deref().map(Box::from),
            path_prefix: spec.path_prefix.as_deref().map(Box::from),
            methods: spec.methods.iter().cloned().collect(),
            host: spec.host.as_deref().map(HostPattern::new),
            headers: spec
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Box::from(value.as_bytes())))
                .collect(),
        }
    }

    /// The request path a `grpc_method` route is indexed under.
    pub(crate) fn grpc_path(&self) -> Option<&str> {
        self.grpc_path.as_deref()
    }

    /// Whether every key of the route holds for `req`.
    ///
    /// Cheap tests come first: the gRPC flag and path keys rule out most
    /// routes before any header is looked at.
    pub(crate) fn matches(&self, req: &Request<'_>) -> bool {
        if (self.grpc_path.is_some() || self.grpc_service.is_some()) && !req.grpc {
            return false;
        }
        if let Some(want) = &self.grpc_path {
            if req.path != &**want {
                return false;
            }
        }
        if let Some(want) = &self.grpc_service {
            if grpc_service_of(req.path) != Some(&**want) {
                return false;
            }
        }
        if let Some(want) = &self.path {
            if req.path != &**want {
                return false;
            }
        }
        if let Some(want) = &self.path_prefix {
            if !req.path.starts_with(&**want) {
                return false;
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(req.method) {
            return false;
        }
        if let Some(pattern) = &self.host {
            if !req.host.is_some_and(|host| pattern.matches(host)) {
                return false;
            }
        }
        self.headers.iter().all(|(name, want)| {
            req.headers
                .get_all(name)
                .iter()
                .any(|value| value.as_bytes() == &**want)
        })
    }
}

/// The request path of a gRPC method: `pkg.Service/Method` -> `/pkg.Service/Method`.
fn grpc_method_path(method: &str) -> Box<str> {
    let mut path = String::with_capacity(method.len() + 1);
    path.push('/');
    path.push_str(method);
    path.into_boxed_str()
}

/// The service part of a gRPC request path, if it has the gRPC shape.
///
/// `/pkg.Service/Method` gives `pkg.Service`: the path must start with a
/// slash and end in a non-empty method without a slash. Splitting at the
/// *last* slash makes this exact: `/a.B/C/D` gives `a.B/C`, which no sane
/// service is named, so a `grpc_service: a.B` route does not match it.
pub(crate) fn grpc_service_of(path: &str) -> Option<&str> {
    let (service, method) = path.strip_prefix('/')?.rsplit_once('/')?;
    (!method.is_empty()).then_some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_service_shape() {
        assert_eq!(grpc_service_of("/a.B/C"), Some("a.B"));
        assert_eq!(grpc_service_of("/a.B/C/D"), Some("a.B/C"));
        assert_eq!(grpc_service_of("/a.B/"), None);
        assert_eq!(grpc_service_of("/a.B"), None);
        assert_eq!(grpc_service_of("a.B/C"), None);
        assert_eq!(grpc_service_of(""), None);
        assert_eq!(grpc_service_of("//C"), Some(""));
    }

    #[test]
    fn precedence_orders_classes() {
        let method = RouteSpec {
            grpc_method: Some("a.B/C".into()),
            ..RouteSpec::default()
        };
        let service = RouteSpec {
            grpc_service: Some("a.B".into()),
            ..RouteSpec::default()
        };
        let path = RouteSpec {
            path: Some("/a".into()),
            ..RouteSpec::default()
        };
        let long = RouteSpec {
            path_prefix: Some("/ab".into()),
            ..RouteSpec::default()
        };
        let short = RouteSpec {
            path_prefix: Some("/a".into()),
            ..RouteSpec::default()
        };
        let rest = RouteSpec {
            host: Some("x".into()),
            ..RouteSpec::default()
        };
        let ranks: Vec<_> = [&method, &service, &path, &long, &short, &rest]
            .iter()
            .enumerate()
            .map(|(i, s)| Precedence::of(s, 10 - i))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    }
}
