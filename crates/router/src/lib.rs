//! The pure route table: match keys, precedence, lookup.
//!
//! The gateway builds a [`RouteTable`] once from the config (and again on each
//! reload) and calls [`RouteTable::lookup`] for every request. Nothing here
//! does I/O, async or locking: the table is plain immutable data, and lookup
//! neither allocates nor scans all routes.
//!
//! # Matching
//!
//! A route is a [`RouteSpec`]: optional keys, every given key must hold.
//!
//! | key | holds when |
//! | --- | --- |
//! | `grpc_method: a.B/C` | the caller is gRPC and the path is `/a.B/C` |
//! | `grpc_service: a.B` | the caller is gRPC and the path is `/a.B/<m>`, `m` non-empty without `/` |
//! | `path` | the path equals it |
//! | `path_prefix` | the path starts with it (plain bytes, like Envoy's `prefix`) |
//! | `methods` | the method is one of them |
//! | `host` | the host (port ignored, any case) equals it; `*.example.com` takes any subdomain, not the apex |
//! | `headers` | for each pair, the header has exactly that value |
//!
//! # Precedence
//!
//! When several routes match, the most specific wins:
//!
//! 1. by the strongest key the route has: `grpc_method`, then `grpc_service`,
//!    then `path`, then `path_prefix` (longer prefix first), then a route
//!    with none of these four;
//! 2. at equal rank, the route with more constraints (one each for `host`
//!    and `methods`, one per header);
//! 3. then the route declared first.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, Method};
//! use protogate_router::{Request, RouteSpec, RouteTable};
//!
//! let table = RouteTable::new(vec![
//!     (
//!         RouteSpec { path_prefix: Some("/".into()), ..RouteSpec::default() },
//!         "web",
//!     ),
//!     (
//!         RouteSpec {
//!             grpc_service: Some("ecommerce.v1.ProductService".into()),
//!             ..RouteSpec::default()
//!         },
//!         "products",
//!     ),
//! ]);
//! let headers = HeaderMap::new();
//! let req = Request {
//!     grpc: true,
//!     method: &Method::POST,
//!     path: "/ecommerce.v1.ProductService/GetProduct",
//!     host: Some("api.example.com"),
//!     headers: &headers,
//! };
//! assert_eq!(table.lookup(&req), Some(&"products"));
//! // The same path from a plain HTTP caller falls through to the prefix.
//! assert_eq!(table.lookup(&Request { grpc: false, ..req }), Some(&"web"));
//! ```

mod host;
mod matcher;
mod prefix;
mod spec;
mod table;

pub use spec::{Request, RouteSpec};
pub use table::RouteTable;

#[cfg(test)]
mod tests;
