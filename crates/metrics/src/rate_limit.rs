//! The `rate_limit` plugin's families: decisions by route and limit, and
//! the health of the shared Redis store.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Redis round trips are sub-millisecond on a LAN; the timeout is 20 ms by
/// default. Buckets from 50 µs to 100 ms.
const REDIS_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1,
];

/// The rate-limit families, registered with the rest.
#[derive(Clone)]
pub(crate) struct RateLimitFamilies {
    decisions: IntCounterVec,
    redis_errors: IntCounterVec,
    breaker_open: IntGaugeVec,
    redis_seconds: HistogramVec,
}

impl RateLimitFamilies {
    pub(crate) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "protogate_rate_limit_decisions_total",
                "Rate-limit verdicts by route and limit: allowed, refused, or shadow_refused (mode: shadow; let through). A call counts once under each limit it was checked against; a refused call only under the limits that refused it.",
            ),
            &["route", "limit", "decision"],
        )?;
        let redis_errors = IntCounterVec::new(
            Opts::new(
                "protogate_rate_limit_redis_errors_total",
                "Failed Redis rate-limit checks by route and kind (timeout, error).",
            ),
            &["route", "kind"],
        )?;
        let breaker_open = IntGaugeVec::new(
            Opts::new(
                "protogate_rate_limit_redis_breaker_open",
                "1 while the route's Redis breaker is open (calls use the local fallback), else 0.",
            ),
            &["route"],
        )?;
        let redis_seconds = HistogramVec::new(
            HistogramOpts::new(
                "protogate_rate_limit_redis_duration_seconds",
                "Time of one Redis rate-limit check, failed ones included.",
            )
            .buckets(REDIS_BUCKETS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(redis_errors.clone()))?;
        registry.register(Box::new(breaker_open.clone()))?;
        registry.register(Box::new(redis_seconds.clone()))?;
        Ok(Self {
            decisions,
            redis_errors,
            breaker_open,
            redis_seconds,
        })
    }

    pub(crate) fn handles(&self, route: &str, limits: &[&str]) -> RateLimitMetrics {
        let per_limit = |decision: &str| {
            limits
                .iter()
                .map(|limit| self.decisions.with_label_values(&[route, limit, decision]))
                .collect()
        };
        RateLimitMetrics {
            allowed: per_limit("allowed"),
            refused: per_limit("refused"),
            shadow_refused: per_limit("shadow_refused"),
            concurrency_refused: self.decisions.with_label_values(&[
                route,
                "concurrency",
                "refused",
            ]),
            concurrency_shadow: self.decisions.with_label_values(&[
                route,
                "concurrency",
                "shadow_refused",
            ]),
            redis_timeouts: self.redis_errors.with_label_values(&[route, "timeout"]),
            redis_errors: self.redis_errors.with_label_values(&[route, "error"]),
            breaker_open: self.breaker_open.with_label_values(&[route]),
            redis_seconds: self.redis_seconds.with_label_values(&[route]),
        }
    }
}

/// One route's rate-limit handles, resolved at load: a call costs no label
/// hashing.
#[derive(Clone, Debug)]
pub struct RateLimitMetrics {
    /// Per limit, in config order.
    pub allowed: Vec<IntCounter>,
    /// Per limit, in config order.
    pub refused: Vec<IntCounter>,
    /// Per limit, in config order.
    pub shadow_refused: Vec<IntCounter>,
    /// The concurrency limit refused a call.
    pub concurrency_refused: IntCounter,
    /// The concurrency limit would have refused a call (shadow mode).
    pub concurrency_shadow: IntCounter,
    /// A Redis check ran out of time.
    pub redis_timeouts: IntCounter,
    /// A Redis check failed otherwise.
    pub redis_errors: IntCounter,
    /// 1 while the breaker is open.
    pub breaker_open: IntGauge,
    /// Redis check durations.
    pub redis_seconds: Histogram,
}
