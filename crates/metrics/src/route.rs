//! Per-route traffic families: bytes, calls in flight, and where a call's
//! time went (the upstream or the gateway itself), as Kong splits its
//! upstream and Kong latencies. Also the connection gauge and build info.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// The gateway's own time is tens of microseconds on a good day: buckets
/// from 25 µs, so the histogram shows it, up to 1 s for a slow plugin.
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    1.0,
];

/// The route families, labelled by `route`.
pub(crate) struct RouteFamilies {
    received_bytes: IntCounterVec,
    sent_bytes: IntCounterVec,
    open_streams: IntGaugeVec,
    upstream_seconds: HistogramVec,
    overhead_seconds: HistogramVec,
    open_connections: IntGauge,
}

impl RouteFamilies {
    /// Creates and registers the families, and sets the build info.
    pub(crate) fn new(registry: &Registry, latency_buckets: &[f64]) -> prometheus::Result<Self> {
        let received_bytes = IntCounterVec::new(
            Opts::new(
                "protogate_received_bytes_total",
                "Body bytes received from callers, by route.",
            ),
            &["route"],
        )?;
        let sent_bytes = IntCounterVec::new(
            Opts::new(
                "protogate_sent_bytes_total",
                "Body bytes sent to callers, by route.",
            ),
            &["route"],
        )?;
        let open_streams = IntGaugeVec::new(
            Opts::new(
                "protogate_open_streams",
                "Calls and requests in flight (an HTTP/2 stream or an HTTP/1.1 request), by route.",
            ),
            &["route"],
        )?;
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "protogate_upstream_latency_seconds",
                "Time from the request going upstream to the upstream's response header, by route.",
            )
            .buckets(latency_buckets.to_vec()),
            &["route"],
        )?;
        let overhead_seconds = HistogramVec::new(
            HistogramOpts::new(
                "protogate_gateway_overhead_seconds",
                "The gateway's own time per call (before the request went upstream and after the upstream's answer was complete), by route.",
            )
            .buckets(OVERHEAD_BUCKETS.to_vec()),
            &["route"],
        )?;
        let open_connections = IntGauge::new(
            "protogate_open_connections",
            "Open connections from callers, on every proxy listener.",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "protogate_build_info",
                "Always 1; the labels say which protogate is running.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(received_bytes.clone()))?;
        registry.register(Box::new(sent_bytes.clone()))?;
        registry.register(Box::new(open_streams.clone()))?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        registry.register(Box::new(overhead_seconds.clone()))?;
        registry.register(Box::new(open_connections.clone()))?;
        registry.register(Box::new(build_info))?;
        Ok(Self {
            received_bytes,
            sent_bytes,
            open_streams,
            upstream_seconds,
            overhead_seconds,
            open_connections,
        })
    }

    /// The handles of one route (`""` for requests no route matched).
    pub(crate) fn handles(&self, route: &str) -> Arc<RouteMetrics> {
        let labels = [route];
        Arc::new(RouteMetrics {
            received_bytes: self.received_bytes.with_label_values(&labels),
            sent_bytes: self.sent_bytes.with_label_values(&labels),
            open_streams: self.open_streams.with_label_values(&labels),
            upstream_seconds: self.upstream_seconds.with_label_values(&labels),
            overhead_seconds: self.overhead_seconds.with_label_values(&labels),
        })
    }

    /// The open-connections gauge.
    pub(crate) fn open_connections(&self) -> IntGauge {
        self.open_connections.clone()
    }
}

/// One route's handles, resolved when the config loads so a call costs no
/// label hashing.
#[derive(Debug)]
pub struct RouteMetrics {
    received_bytes: IntCounter,
    sent_bytes: IntCounter,
    open_streams: IntGauge,
    upstream_seconds: Histogram,
    overhead_seconds: Histogram,
}

impl RouteMetrics {
    /// A call started: it stays in `protogate_open_streams` until the
    /// returned guard is dropped, however the call ends.
    pub fn open_stream(self: &Arc<Self>) -> OpenStream {
        self.open_streams.inc();
        OpenStream(Arc::clone(self))
    }

    /// A call finished: its body bytes each way, the upstream's latency
    /// (when an upstream answered) and the gateway's own time.
    pub fn finished(
        &self,
        received: usize,
        sent: usize,
        upstream: Option<Duration>,
        overhead: Duration,
    ) {
        self.received_bytes
            .inc_by(u64::try_from(received).unwrap_or(u64::MAX));
        self.sent_bytes
            .inc_by(u64::try_from(sent).unwrap_or(u64::MAX));
        if let Some(upstream) = upstream {
            self.upstream_seconds.observe(upstream.as_secs_f64());
        }
        self.overhead_seconds.observe(overhead.as_secs_f64());
    }
}

/// A call in flight; dropping it takes the call out of the gauge.
#[derive(Debug)]
pub struct OpenStream(Arc<RouteMetrics>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.open_streams.dec();
    }
}

/// A connection from a caller, counted in `protogate_open_connections`
/// until dropped.
#[derive(Debug)]
pub struct OpenConnection(IntGauge);

impl OpenConnection {
    /// Counts one more open connection on `gauge`.
    pub fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}
