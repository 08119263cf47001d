//! Sending finished spans to the collector, off the request path.
//!
//! Calls hand spans to a bounded queue with `try_send`. When the queue is
//! full (a slow or dead collector), the span is dropped and counted: a
//! call never waits on the collector. One thread with a tokio runtime of
//! its own (Pingora's main thread has none, and the OTLP/gRPC client needs
//! one) takes up to `batch.size` spans at a time, after at most
//! `batch.delay`, and exports them with the OpenTelemetry OTLP exporter
//! (OTLP/HTTP protobuf, or OTLP/gRPC for a `grpc://` endpoint). The
//! exporter does not retry, and gives up after [`EXPORT_TIMEOUT`].
//!
//! The SDK's own batch processor is not used: it keeps its drop count to
//! itself, and `/metrics` must show it.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;
use protogate_config::BatchConfig;
use protogate_core::registry::Registry;
use protogate_metrics::TracingMetrics;
use tokio::sync::mpsc;

/// How long one export may take.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where spans go, as the top-level `tracing` section says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// `http://host:port[/path]` (OTLP/HTTP) or `grpc://host:port`.
    pub endpoint: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Batching and the queue's size.
    pub batch: BatchConfig,
}

impl Destination {
    /// The OTLP/HTTP URL: `/v1/traces` added to an endpoint without a path.
    fn http_url(&self) -> String {
        match self.endpoint.parse::<http::Uri>() {
            Ok(uri) if uri.path().is_empty() || uri.path() == "/" => {
                format!("{}/v1/traces", self.endpoint.trim_end_matches('/'))
            }
            _ => self.endpoint.clone(),
        }
    }

    /// The collector's address for OTLP/gRPC (`grpc://` becomes `http://`).
    fn grpc_url(&self) -> Option<String> {
        self.endpoint
            .strip_prefix("grpc://")
            .map(|rest| format!("http://{rest}"))
    }
}

/// The process's span exporter for one destination.
#[derive(Debug)]
pub struct Exporter {
    queue: mpsc::Sender<SpanData>,
    metrics: TracingMetrics,
}

impl Exporter {
    /// Starts the export thread. If the thread cannot start (the system is
    /// out of threads), the error is logged and every span is counted as
    /// dropped: tracing never stops the gateway.
    pub fn start(destination: Destination, metrics: TracingMetrics) -> Self {
        let (queue, spans) = mpsc::channel(destination.batch.queue.max(1));
        let worker_metrics = metrics.clone();
        let started = std::thread::Builder::new()
            .name("protogate-otlp".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        log::error!("tracing: no runtime for the exporter: {error}");
                        return;
                    }
                };
                runtime.block_on(export_loop(destination, spans, worker_metrics));
            });
        if let Err(error) = started {
            log::error!("tracing: cannot start the span export thread: {error}");
        }
        Self { queue, metrics }
    }

    /// The exporter for `destination`, shared by every route and kept over
    /// a reload that does not change it.
    pub fn shared(destination: Destination, metrics: TracingMetrics) -> Arc<Self> {
        static EXPORTERS: Registry<Exporter> = Registry::new();
        let identity = format!("{destination:?}");
        EXPORTERS.shared(identity, || Self::start(destination, metrics))
    }

    /// Queues a finished span; drops and counts it when the queue is full.
    pub fn record(&self, span: SpanData) {
        if self.queue.try_send(span).is_err() {
            self.metrics.dropped.inc();
        }
    }
}

async fn export_loop(
    destination: Destination,
    mut spans: mpsc::Receiver<SpanData>,
    metrics: TracingMetrics,
) {
    let mut exporter = match build(&destination) {
        Ok(exporter) => exporter,
        Err(error) => {
            log::error!(
                "tracing: cannot export to {}: {error}; spans are dropped",
                destination.endpoint
            );
            while let Some(_span) = spans.recv().await {
                metrics.failed.inc();
            }
            return;
        }
    };
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name(destination.service_name.clone())
            .build(),
    );
    let BatchConfig { size, delay, .. } = destination.batch;
    let mut batch = Vec::with_capacity(size);
    let mut failures_logged = 0u32;
    loop {
        if spans.recv_many(&mut batch, size).await == 0 {
            break; // every sender is gone: the config no longer traces
        }
        let deadline = tokio::time::Instant::now() + delay;
        while batch.len() < size {
            let room = size - batch.len();
            match tokio::time::timeout_at(deadline, spans.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let count = batch.len() as u64;
        match exporter.export(std::mem::take(&mut batch)).await {
            Ok(()) => metrics.exported.inc_by(count),
            Err(error) => {
                metrics.failed.inc_by(count);
                // One line per failure streak start, then every 100th.
                if failures_logged.is_multiple_of(100) {
                    log::warn!(
                        "tracing: export to {} failed: {error}",
                        destination.endpoint
                    );
                }
                failures_logged = failures_logged.wrapping_add(1);
                continue;
            }
        }
        failures_logged = 0;
    }
}

fn build(destination: &Destination) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let built = match destination.grpc_url() {
        Some(url) => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .build(),
        None => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(destination.http_url())
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(EXPORT_TIMEOUT)
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .build(),
    };
    built.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(endpoint: &str) -> Destination {
        Destination {
            endpoint: endpoint.into(),
            service_name: "protogate".into(),
            batch: BatchConfig::default(),
        }
    }

    #[test]
    fn endpoints_become_urls() {
        assert_eq!(
            to("http://127.0.0.1:4318").http_url(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(to("http://c:4318/").http_url(), "http://c:4318/v1/traces");
        assert_eq!(
            to("http://c:4318/custom").http_url(),
            "http://c:4318/custom"
        );
        assert_eq!(
            to("grpc://c:4317").grpc_url().as_deref(),
            Some("http://c:4317")
        );
        assert_eq!(to("http://c:4318").grpc_url(), None);
    }
}
