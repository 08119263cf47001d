//! Sending finished spans to the collector, off the request path.
//!
//! A call hands its spans, already encoded as OTLP protobuf
//! ([`crate::otlp`]), to a bounded queue with `try_send`. When the queue
//! is full (a slow or dead collector), they are dropped and counted: a
//! call never waits on the collector. One thread with a tokio runtime of
//! its own (Pingora's main thread has none, and the gRPC client needs one)
//! takes up to `batch.size` spans at a time, after at most `batch.delay`,
//! and sends them as one request ([`crate::transport`]: OTLP/HTTP, or
//! OTLP/gRPC for a `grpc://` endpoint). A batch is not retried, and gives
//! up after [`EXPORT_TIMEOUT`].

use std::sync::Arc;
use std::time::Duration;

use protogate_config::BatchConfig;
use protogate_core::registry::Registry;
use protogate_metrics::TracingMetrics;
use tokio::sync::mpsc;

use crate::otlp::Envelope;
use crate::transport::Transport;

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

/// One call's spans, encoded.
struct CallSpans {
    encoded: Vec<u8>,
    count: usize,
}

/// The process's span exporter for one destination.
#[derive(Debug)]
pub struct Exporter {
    queue: mpsc::Sender<CallSpans>,
    metrics: TracingMetrics,
}

impl std::fmt::Debug for CallSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} spans", self.count)
    }
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

    /// Queues a call's `count` spans (`encoded` as [`crate::otlp::span`]
    /// writes them); drops and counts them when the queue is full.
    pub fn record(&self, encoded: Vec<u8>, count: usize) {
        if self.queue.try_send(CallSpans { encoded, count }).is_err() {
            self.metrics.dropped.inc_by(count as u64);
        }
    }
}

async fn export_loop(
    destination: Destination,
    mut calls: mpsc::Receiver<CallSpans>,
    metrics: TracingMetrics,
) {
    let mut transport = match Transport::new(&destination.endpoint, EXPORT_TIMEOUT) {
        Ok(transport) => transport,
        Err(error) => {
            log::error!("tracing: cannot export to {error}; spans are dropped");
            while let Some(call) = calls.recv().await {
                metrics.failed.inc_by(call.count as u64);
            }
            return;
        }
    };
    let envelope = Envelope::new(&destination.service_name);
    let BatchConfig { size, delay, .. } = destination.batch;
    let mut batch: Vec<CallSpans> = Vec::with_capacity(size);
    let mut failures_logged = 0u32;
    loop {
        if calls.recv_many(&mut batch, size).await == 0 {
            break; // every sender is gone: the config no longer traces
        }
        let mut count: usize = batch.iter().map(|call| call.count).sum();
        let deadline = tokio::time::Instant::now() + delay;
        while count < size {
            let room = size - count;
            let before = batch.len();
            match tokio::time::timeout_at(deadline, calls.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => count += batch[before..].iter().map(|call| call.count).sum::<usize>(),
            }
        }
        let body = envelope.request(batch.iter().map(|call| call.encoded.as_slice()));
        batch.clear();
        match transport.send(body).await {
            Ok(()) => metrics.exported.inc_by(count as u64),
            Err(error) => {
                metrics.failed.inc_by(count as u64);
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
