//! The two plain inputs: what one route matches on, and what one request shows.
//!
//! Both are written for the caller's convenience, not for speed: the table
//! compiles each [`RouteSpec`] once, in [`RouteTable::new`](crate::RouteTable::new),
//! and a [`Request`] only borrows what the gateway already holds, so building
//! one per request costs nothing.

use http::{HeaderMap, HeaderName, Method};

/// One route's match, as written in the config.
///
/// Every key is optional and every key that is given must hold. The config
/// crate checks that at least one key is present and that the strings are
/// well formed; the table accepts any value and never panics on one (a spec
/// with no key at all simply matches every request, at the lowest rank).
///
/// Which key decides the route's rank, most specific first:
/// `grpc_method`, `grpc_service`, `path`, `path_prefix` (longer beats
/// shorter), then none of these. See the crate docs for the full rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSpec {
    /// A gRPC service, e.g. `ecommerce.v1.ProductService`: matches gRPC
    /// callers whose path is `/<service>/<method>` for any non-empty method
    /// without a slash.
    pub grpc_service: Option<String>,
    /// A gRPC method, `pkg.Service/Method`: matches gRPC callers whose path is
    /// exactly `/pkg.Service/Method`.
    pub grpc_method: Option<String>,
    /// An exact request path (no query).
    pub path: Option<String>,
    /// A plain string prefix of the request path, byte for byte.
    pub path_prefix: Option<String>,
    /// HTTP methods; the request's must be one of them. Empty means any.
    pub methods: Vec<Method>,
    /// `example.com` (exact) or `*.example.com` (any subdomain, one or more
    /// labels deep, not the apex). Compared case-insensitively; the request
    /// host's `:port` is ignored.
    pub host: Option<String>,
    /// Header name and exact value; every pair must hold. A request header
    /// that appears several times holds if any one of its values is equal.
    pub headers: Vec<(HeaderName, String)>,
}

/// The view of one request that matching needs; borrowed, never copied.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Whether the caller speaks gRPC (the gateway decides, from a
    /// content-type starting with `application/grpc`). Only gRPC callers can
    /// match `grpc_service` and `grpc_method` routes.
    pub grpc: bool,
    /// The HTTP method.
    pub method: &'a Method,
    /// The path only, without the query.
    pub path: &'a str,
    /// The `Host` header or the `:authority` pseudo-header, port included or
    /// not; `None` when the request has neither.
    pub host: Option<&'a str>,
    /// All request headers.
    pub headers: &'a HeaderMap,
}
