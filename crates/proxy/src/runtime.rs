//! The compiled runtime model: what a request reads, never what it writes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use protogate_config::Timeout;
use protogate_core::Chain;
use protogate_grpc::catalog::{Catalog, RpcKind};
use protogate_metrics::{GrpcMethodMetrics, Metrics, RouteMetrics};
use protogate_plugin_grpc_proxy::GrpcProxyConfig;
use protogate_router::{RouteSpec, RouteTable};

use crate::Upstream;

/// A gRPC method the gateway has labels for: in the descriptor catalog, or
/// named by a `grpc_method` route. Every other method shares one `unknown`
/// label so a scanner cannot explode metric cardinality.
#[derive(Debug, Clone)]
pub struct KnownMethod {
    /// Full service name, e.g. `ecommerce.v1.ProductService`.
    pub service: Arc<str>,
    /// Method name, e.g. `GetProduct`.
    pub method: Arc<str>,
    /// The RPC kind, when the catalog knows it.
    pub kind: Option<RpcKind>,
}

/// One route, compiled.
#[derive(Debug)]
pub struct CompiledRoute {
    /// The route's unique name (a metric label).
    pub name: Arc<str>,
    /// The match as written.
    pub spec: RouteSpec,
    /// Where calls go.
    pub upstream: Arc<Upstream>,
    /// The plugin chain: global plugins, then the route's.
    pub chain: Chain,
    /// The route's cap for calls without a deadline (`None`: the upstream's).
    pub timeout: Option<Timeout>,
    /// The `grpc_proxy` settings, when the route runs that plugin: such
    /// routes forward native gRPC calls through [`crate::grpc_forward`].
    pub grpc: Option<GrpcProxyConfig>,
    /// Per-method metric handles, created on first use; the last slot is
    /// the shared `unknown` method.
    pub(crate) grpc_metrics: Vec<OnceLock<Arc<GrpcMethodMetrics>>>,
    /// Bytes, calls in flight and the latency split, for this route.
    pub traffic: Arc<RouteMetrics>,
}

impl CompiledRoute {
    /// Empty per-method metric slots for a catalog of `known_methods`
    /// methods, plus the shared `unknown` one; filled on first use.
    pub(crate) fn method_slots(known_methods: usize) -> Vec<OnceLock<Arc<GrpcMethodMetrics>>> {
        (0..=known_methods).map(|_| OnceLock::new()).collect()
    }

    /// The cap for a call that carries no `grpc-timeout`: the route's
    /// `timeout`, else the upstream's.
    pub fn default_timeout(&self) -> Timeout {
        self.timeout.unwrap_or(self.upstream.timeout)
    }
}

/// Everything a request needs, swapped atomically on reload.
pub struct Runtime {
    /// The route table; values index `routes`.
    pub table: RouteTable<usize>,
    /// Routes in declared order.
    pub routes: Vec<Arc<CompiledRoute>>,
    /// The descriptor catalog.
    pub catalog: Catalog,
    /// Methods with their own labels, by request path (`/pkg.Svc/Method`).
    known: HashMap<Box<str>, usize>,
    known_list: Vec<KnownMethod>,
    metrics: Arc<Metrics>,
    unrouted: Vec<OnceLock<Arc<GrpcMethodMetrics>>>,
    unrouted_traffic: Arc<RouteMetrics>,
    trusted_proxies: Vec<protogate_config::IpNet>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("routes", &self.routes)
            .finish()
    }
}

static UNKNOWN_METHOD: OnceLock<KnownMethod> = OnceLock::new();

fn unknown_method() -> &'static KnownMethod {
    UNKNOWN_METHOD.get_or_init(|| KnownMethod {
        service: Arc::from("unknown"),
        method: Arc::from("unknown"),
        kind: None,
    })
}

impl Runtime {
    /// The upstreams the routes send to, each once.
    pub fn upstreams(&self) -> Vec<Arc<crate::Upstream>> {
        let mut upstreams: Vec<Arc<crate::Upstream>> = Vec::new();
        for route in &self.routes {
            if !upstreams.iter().any(|u| Arc::ptr_eq(u, &route.upstream)) {
                upstreams.push(Arc::clone(&route.upstream));
            }
        }
        upstreams
    }

    /// Assembles a runtime from compiled parts.
    pub fn new(
        routes: Vec<Arc<CompiledRoute>>,
        catalog: Catalog,
        known_list: Vec<KnownMethod>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let table = RouteTable::new(
            routes
                .iter()
                .enumerate()
                .map(|(index, route)| (route.spec.clone(), index))
                .collect(),
        );
        let known = known_list
            .iter()
            .enumerate()
            .map(|(index, m)| {
                (
                    format!("/{}/{}", m.service, m.method).into_boxed_str(),
                    index,
                )
            })
            .collect();
        let unrouted = CompiledRoute::method_slots(known_list.len());
        let unrouted_traffic = metrics.route("");
        Self {
            table,
            routes,
            catalog,
            known,
            known_list,
            metrics,
            unrouted,
            unrouted_traffic,
            trusted_proxies: Vec::new(),
        }
    }

    /// Sets `server.trusted_proxies`: peers whose `X-Forwarded-For` is
    /// believed (see [`crate::client_addr`]).
    pub fn with_trusted_proxies(mut self, trusted: Vec<protogate_config::IpNet>) -> Self {
        self.trusted_proxies = trusted;
        self
    }

    /// The peers whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[protogate_config::IpNet] {
        &self.trusted_proxies
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The traffic handles of `route` (`None`: no route matched).
    pub fn traffic<'a>(&'a self, route: Option<&'a CompiledRoute>) -> &'a Arc<RouteMetrics> {
        route.map_or(&self.unrouted_traffic, |r| &r.traffic)
    }

    /// The labels and metric handles of a gRPC call to `path` on `route`
    /// (`None`: no route matched).
    pub fn grpc_method(
        &self,
        path: &str,
        route: Option<&CompiledRoute>,
    ) -> (&KnownMethod, Arc<GrpcMethodMetrics>) {
        let index = self.known.get(path).copied();
        let method = index
            .and_then(|i| self.known_list.get(i))
            .unwrap_or_else(|| unknown_method());
        let slot_index = index.unwrap_or(self.known_list.len());
        let (slots, route_name) = match route {
            Some(route) => (&route.grpc_metrics, &*route.name),
            None => (&self.unrouted, ""),
        };
        let create = || {
            self.metrics.grpc_method(
                method.kind.map_or("unknown", RpcKind::label),
                &method.service,
                &method.method,
                route_name,
            )
        };
        let handle = match slots.get(slot_index) {
            Some(slot) => Arc::clone(slot.get_or_init(create)),
            None => create(),
        };
        (method, handle)
    }

    /// The route table as `protogate routes` prints it.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "routes (most specific match wins):");
        for route in &self.routes {
            let _ = writeln!(
                out,
                "  {:<24} {:<48} -> {} [{}]",
                route.name,
                describe_match(&route.spec),
                route.upstream.name,
                route.chain.names().join(", ")
            );
            for (plugin, lines) in route.chain.describe() {
                for line in lines {
                    let _ = writeln!(out, "    {plugin}: {line}");
                }
            }
        }
        if !self.known_list.is_empty() {
            let _ = writeln!(out, "gRPC methods:");
            for method in &self.known_list {
                let path = format!("/{}/{}", method.service, method.method);
                let request = protogate_router::Request {
                    grpc: true,
                    method: &http::Method::POST,
                    path: &path,
                    host: None,
                    headers: &http::HeaderMap::new(),
                };
                let target = match self
                    .table
                    .lookup(&request)
                    .and_then(|i| self.routes.get(*i))
                {
                    Some(route) => format!(
                        "route {} -> {} [{}]",
                        route.name,
                        route.upstream.name,
                        route.chain.names().join(", ")
                    ),
                    None => "no route (UNIMPLEMENTED)".to_owned(),
                };
                let kind = method.kind.map_or("unknown", RpcKind::label);
                let _ = writeln!(out, "  {path:<56} {kind:<14} {target}");
            }
        }
        out
    }
}

fn describe_match(spec: &RouteSpec) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &spec.grpc_method {
        parts.push(format!("grpc_method={v}"));
    }
    if let Some(v) = &spec.grpc_service {
        parts.push(format!("grpc_service={v}"));
    }
    if let Some(v) = &spec.path {
        parts.push(format!("path={v}"));
    }
    if let Some(v) = &spec.path_prefix {
        parts.push(format!("path_prefix={v}"));
    }
    if let Some(v) = &spec.host {
        parts.push(format!("host={v}"));
    }
    if !spec.methods.is_empty() {
        let methods: Vec<&str> = spec.methods.iter().map(http::Method::as_str).collect();
        parts.push(format!("methods={}", methods.join("|")));
    }
    for (name, value) in &spec.headers {
        parts.push(format!("header {name}={value}"));
    }
    parts.join(" ")
}
