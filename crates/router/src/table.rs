//! The route table: built once from the config, asked once per request.
//!
//! Each route is indexed by its ranking key alone (see
//! [`Precedence`](crate::matcher::Precedence)): a `grpc_method` route under
//! its full request path, a `grpc_service` route under its service, a `path`
//! route under its path, a `path_prefix` route in the prefix tree, and the
//! rest in one list. Routes go into their buckets in precedence order, so each
//! bucket is already sorted, and the buckets are asked in rank order, so the
//! first route that fully matches is the answer. A lookup costs at most three
//! hash probes, one walk down the prefix tree and the match tests of the
//! candidates it meets; it allocates nothing.

use foldhash::HashMap;

use crate::matcher::{grpc_service_of, Matcher, Precedence};
use crate::prefix::PrefixTree;
use crate::spec::{Request, RouteSpec};

/// Exact key -> route indices, in precedence order.
type Buckets = HashMap<Box<str>, Vec<usize>>;

/// Routes indexed for lookup, each carrying the caller's value `T` (the
/// gateway's upstream, plugin chain, and so on).
///
/// Build it with [`RouteTable::new`] whenever the config is (re)loaded; it
/// is immutable afterwards, so it can be shared across threads behind an
/// `Arc` and swapped whole.
#[derive(Debug, Clone)]
pub struct RouteTable<T> {
    /// As declared.
    routes: Vec<(RouteSpec, T)>,
    /// `matchers[i]` is `routes[i]` compiled.
    matchers: Vec<Matcher>,
    /// All route indices in precedence order, for the linear oracle.
    order: Vec<usize>,
    by_grpc_method: Buckets,
    by_grpc_service: Buckets,
    by_path: Buckets,
    by_prefix: PrefixTree,
    has_prefixes: bool,
    /// Routes with none of the four ranking keys.
    rest: Vec<usize>,
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl<T> RouteTable<T> {
    /// Builds the table from routes in declared order.
    ///
    /// Never fails: the config crate has already checked the specs, and any
    /// spec, however odd, still means something here (at worst a route that
    /// can never match, or one with no key that matches everything last).
    pub fn new(routes: Vec<(RouteSpec, T)>) -> Self {
        let matchers: Vec<Matcher> = routes.iter().map(|(spec, _)| Matcher::new(spec)).collect();
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by_cached_key(|&i| routes.get(i).map(|(spec, _)| Precedence::of(spec, i)));

        let mut table = Self {
            routes: Vec::new(),
            matchers: Vec::new(),
            order: Vec::new(),
            by_grpc_method: Buckets::default(),
            by_grpc_service: Buckets::default(),
            by_path: Buckets::default(),
            by_prefix: PrefixTree::default(),
            has_prefixes: false,
            rest: Vec::new(),
        };
        for &i in &order {
            let (Some((spec, _)), Some(matcher)) = (routes.get(i), matchers.get(i)) else {
                continue;
            };
            // The same choice, in the same order, as `Precedence::of`.
            if let Some(path) = matcher.grpc_path() {
                push(&mut table.by_grpc_method, path, i);
            } else if let Some(service) = &spec.grpc_service {
                push(&mut table.by_grpc_service, service, i);
            } else if let Some(path) = &spec.path {
                push(&mut table.by_path, path, i);
            } else if let Some(prefix) = &spec.path_prefix {
                table.by_prefix.insert(prefix.as_bytes(), i);
            } else {
                table.rest.push(i);
            }
        }
        table.by_prefix.finish();
        table.has_prefixes = !table.by_prefix.is_empty();
        table.routes = routes;
        table.matchers = matchers;
        table.order = order;
        table
    }

    /// The value of the most specific route that matches `req`, or `None`.
    ///
    /// Called once per request on the hot path: it allocates nothing and
    /// touches only the routes whose ranking key fits the request.
    pub fn lookup(&self, req: &Request<'_>) -> Option<&T> {
        self.find(req).and_then(|i| self.value(i))
    }

    /// The same answer as [`lookup`](Self::lookup), found by testing every
    /// route in precedence order without the index.
    ///
    /// A test oracle: the unit tests and the fuzz target check that the
    /// index never changes an answer. Linear in the number of routes, so not
    /// for the request path.
    pub fn lookup_linear(&self, req: &Request<'_>) -> Option<&T> {
        self.first_match(self.order.iter().copied(), req)
            .and_then(|i| self.value(i))
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the table has no route (every lookup is then `None`).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes as declared, with their values, in declared order.
    pub fn iter(&self) -> impl Iterator<Item = (&RouteSpec, &T)> {
        self.routes.iter().map(|(spec, value)| (spec, value))
    }

    /// The index of the winning route: the buckets in rank order, first full
    /// match wins.
    fn find(&self, req: &Request<'_>) -> Option<usize> {
        if req.grpc {
            if let Some(hit) = self.in_bucket(&self.by_grpc_method, req.path, req) {
                return Some(hit);
            }
            if let Some(service) = grpc_service_of(req.path) {
                if let Some(hit) = self.in_bucket(&self.by_grpc_service, service, req) {
                    return Some(hit);
                }
            }
        }
        if let Some(hit) = self.in_bucket(&self.by_path, req.path, req) {
            return Some(hit);
        }
        if self.has_prefixes {
            let candidates = self.by_prefix.candidates(req.path.as_bytes());
            if let Some(hit) = self.first_match(candidates, req) {
                return Some(hit);
            }
        }
        self.first_match(self.rest.iter().copied(), req)
    }

    fn in_bucket(&self, buckets: &Buckets, key: &str, req: &Request<'_>) -> Option<usize> {
        if buckets.is_empty() {
            return None;
        }
        let bucket = buckets.get(key)?;
        self.first_match(bucket.iter().copied(), req)
    }

    fn first_match(
        &self,
        mut candidates: impl Iterator<Item = usize>,
        req: &Request<'_>,
    ) -> Option<usize> {
        candidates.find(|&i| self.matchers.get(i).is_some_and(|m| m.matches(req)))
    }

    fn value(&self, i: usize) -> Option<&T> {
        self.routes.get(i).map(|(_, value)| value)
    }
}

fn push(buckets: &mut Buckets, key: &str, route: usize) {
    match buckets.get_mut(key) {
        Some(bucket) => bucket.push(route),
        None => {
            buckets.insert(key.into(), vec![route]);
        }
    }
}
