//! The span exporter's family: what happened to each finished span.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// Registered with the rest.
#[derive(Clone)]
pub(crate) struct TracingFamilies {
    spans: IntCounterVec,
}

impl TracingFamilies {
    pub(crate) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let spans = IntCounterVec::new(
            Opts::new(
                "protogate_tracing_spans_total",
                "Finished spans by result: exported (the collector took them), dropped (the export queue was full: a slow or dead collector), failed (the export was refused or timed out).",
            ),
            &["result"],
        )?;
        registry.register(Box::new(spans.clone()))?;
        Ok(Self { spans })
    }

    pub(crate) fn handles(&self) -> TracingMetrics {
        TracingMetrics {
            exported: self.spans.with_label_values(&["exported"]),
            dropped: self.spans.with_label_values(&["dropped"]),
            failed: self.spans.with_label_values(&["failed"]),
        }
    }
}

/// The exporter's counters.
#[derive(Clone, Debug)]
pub struct TracingMetrics {
    /// Spans the collector accepted.
    pub exported: IntCounter,
    /// Spans dropped because the queue was full.
    pub dropped: IntCounter,
    /// Spans in exports that failed.
    pub failed: IntCounter,
}
