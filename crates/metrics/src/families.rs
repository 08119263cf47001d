//! The metric families and cheap per-method handles for the hot path.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};
use protogate_grpc::status::Code;

use crate::health::HealthFamilies;
use crate::rate_limit::{RateLimitFamilies, RateLimitMetrics};
use crate::route::{RouteFamilies, RouteMetrics};
use crate::tracing::{TracingFamilies, TracingMetrics};

/// Latency buckets in seconds, from 0.5 ms to 30 s: gateway calls are fast,
/// but dashboards need the slow tail too.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every metric family protogate exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    grpc_started: IntCounterVec,
    grpc_handled: IntCounterVec,
    grpc_handling_seconds: HistogramVec,
    grpc_msg_received: IntCounterVec,
    grpc_msg_sent: IntCounterVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    upstream_connect_failures: IntCounterVec,
    config_reloads: IntCounterVec,
    rate_limit: RateLimitFamilies,
    tracing: TracingFamilies,
    health: HealthFamilies,
    route: RouteFamilies,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

const GRPC_LABELS: &[&str] = &["grpc_type", "grpc_service", "grpc_method", "route"];
const GRPC_HANDLED_LABELS: &[&str] = &[
    "grpc_type",
    "grpc_service",
    "grpc_method",
    "route",
    "grpc_code",
];

impl Metrics {
    /// Creates and registers every family.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let grpc_started = IntCounterVec::new(
            Opts::new(
                "grpc_server_started_total",
                "Total number of RPCs started on the server.",
            ),
            GRPC_LABELS,
        )?;
        let grpc_handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "Total number of RPCs completed on the server, regardless of success or failure.",
            ),
            GRPC_HANDLED_LABELS,
        )?;
        let grpc_handling_seconds = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            GRPC_LABELS,
        )?;
        let grpc_msg_received = IntCounterVec::new(
            Opts::new(
                "grpc_server_msg_received_total",
                "Total number of RPC stream messages received on the server.",
            ),
            GRPC_LABELS,
        )?;
        let grpc_msg_sent = IntCounterVec::new(
            Opts::new(
                "grpc_server_msg_sent_total",
                "Total number of gRPC stream messages sent by the server.",
            ),
            GRPC_LABELS,
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "protogate_http_requests_total",
                "HTTP (non-gRPC) requests by route and status.",
            ),
            &["route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "protogate_http_request_duration_seconds",
                "Duration of HTTP (non-gRPC) requests by route and status.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "status"],
        )?;
        let upstream_connect_failures = IntCounterVec::new(
            Opts::new(
                "protogate_upstream_connect_failures_total",
                "Failed connection attempts to upstream targets.",
            ),
            &["upstream", "target"],
        )?;
        let config_reloads = IntCounterVec::new(
            Opts::new(
                "protogate_config_reloads_total",
                "Configuration reloads by result: applied, invalid (errors in the file) or needs_restart (a change under `server`).",
            ),
            &["result"],
        )?;
        // Every result from the start, so the first reload shows in
        // `increase()` instead of creating its series.
        for result in ["applied", "invalid", "needs_restart"] {
            config_reloads.with_label_values(&[result]);
        }
        registry.register(Box::new(config_reloads.clone()))?;
        registry.register(Box::new(grpc_started.clone()))?;
        registry.register(Box::new(grpc_handled.clone()))?;
        registry.register(Box::new(grpc_handling_seconds.clone()))?;
        registry.register(Box::new(grpc_msg_received.clone()))?;
        registry.register(Box::new(grpc_msg_sent.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(upstream_connect_failures.clone()))?;
        let rate_limit = RateLimitFamilies::new(&registry)?;
        let tracing = TracingFamilies::new(&registry)?;
        let health = HealthFamilies::new(&registry)?;
        let route = RouteFamilies::new(&registry, LATENCY_BUCKETS)?;
        Ok(Self {
            registry,
            grpc_started,
            grpc_handled,
            grpc_handling_seconds,
            grpc_msg_received,
            grpc_msg_sent,
            http_requests,
            http_duration,
            upstream_connect_failures,
            config_reloads,
            rate_limit,
            tracing,
            health,
            route,
        })
    }

    /// Counts one reload attempt by its result.
    pub fn config_reload(&self, result: &str) {
        self.config_reloads.with_label_values(&[result]).inc();
    }

    /// Resolves the handles of one (route, method) pair once, at config
    /// load, so a call costs no label hashing.
    pub fn grpc_method(
        &self,
        grpc_type: &str,
        service: &str,
        method: &str,
        route: &str,
    ) -> Arc<GrpcMethodMetrics> {
        let labels = [grpc_type, service, method, route];
        Arc::new(GrpcMethodMetrics {
            started: self.grpc_started.with_label_values(&labels),
            seconds: self.grpc_handling_seconds.with_label_values(&labels),
            received: self.grpc_msg_received.with_label_values(&labels),
            sent: self.grpc_msg_sent.with_label_values(&labels),
            handled_family: self.grpc_handled.clone(),
            labels: labels.map(str::to_owned),
            handled: Default::default(),
        })
    }

    /// The handles of one route's `rate_limit`, for `limits` by name.
    pub fn rate_limit(&self, route: &str, limits: &[&str]) -> RateLimitMetrics {
        self.rate_limit.handles(route, limits)
    }

    /// The span exporter's counters.
    pub fn tracing(&self) -> TracingMetrics {
        self.tracing.handles()
    }

    /// The traffic handles of one route (`""` for requests no route
    /// matched), resolved once per config load.
    pub fn route(&self, route: &str) -> Arc<RouteMetrics> {
        self.route.handles(route)
    }

    /// The gauge of open connections from callers.
    pub fn open_connections(&self) -> prometheus::IntGauge {
        self.route.open_connections()
    }

    /// The health gauge of one upstream target (1 healthy, 0 not).
    pub fn target_health(&self, upstream: &str, target: &str) -> prometheus::IntGauge {
        self.health.target(upstream, target)
    }

    /// Counts one finished HTTP request.
    pub fn http_request(&self, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[route, &status])
            .inc();
        self.http_duration
            .with_label_values(&[route, &status])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one failed connection attempt.
    pub fn upstream_connect_failure(&self, upstream: &str, target: &str) {
        self.upstream_connect_failures
            .with_label_values(&[upstream, target])
            .inc();
    }

    /// The text exposition of every family.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            log::error!("metrics encoding failed: {e}");
        }
        out
    }
}

/// The handles of one (route, gRPC method) pair. `grpc_server_handled_total`
/// series are created on first use of each code, as go-grpc-prometheus does.
pub struct GrpcMethodMetrics {
    started: IntCounter,
    seconds: Histogram,
    received: IntCounter,
    sent: IntCounter,
    handled_family: IntCounterVec,
    labels: [String; 4],
    handled: [OnceLock<IntCounter>; 17],
}

impl std::fmt::Debug for GrpcMethodMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcMethodMetrics")
            .field("labels", &self.labels)
            .finish()
    }
}

impl GrpcMethodMetrics {
    /// A call started.
    pub fn started(&self) {
        self.started.inc();
    }

    /// Messages a call received from its caller and sent back to it.
    pub fn messages(&self, received: u64, sent: u64) {
        self.received.inc_by(received);
        self.sent.inc_by(sent);
    }

    /// A call finished with `code` after `elapsed`.
    pub fn handled(&self, code: Code, elapsed: Duration) {
        let index = usize::from(code.as_u8()).min(16);
        let counter = self.handled[index].get_or_init(|| {
            let [t, s, m, r] = &self.labels;
            self.handled_family
                .with_label_values(&[t.as_str(), s, m, r, code.name()])
        });
        counter.inc();
        self.seconds.observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_families_carry_go_grpc_prometheus_labels() {
        let metrics = Metrics::new().expect("metrics");
        let m = metrics.grpc_method("unary", "pkg.Svc", "Get", "svc");
        m.started();
        m.handled(Code::NotFound, Duration::from_millis(3));
        let text = String::from_utf8(metrics.render()).expect("utf8");
        assert!(text.contains(
            r#"grpc_server_started_total{grpc_method="Get",grpc_service="pkg.Svc",grpc_type="unary",route="svc"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"grpc_server_handled_total{grpc_code="NotFound",grpc_method="Get",grpc_service="pkg.Svc",grpc_type="unary",route="svc"} 1"#
        ), "{text}");
        assert!(
            text.contains("grpc_server_handling_seconds_bucket"),
            "{text}"
        );
    }

    #[test]
    fn http_requests_are_counted_by_route_and_status() {
        let metrics = Metrics::new().expect("metrics");
        metrics.http_request("legacy", 404, Duration::from_millis(1));
        let text = String::from_utf8(metrics.render()).expect("utf8");
        assert!(
            text.contains(r#"protogate_http_requests_total{route="legacy",status="404"} 1"#),
            "{text}"
        );
    }
}
