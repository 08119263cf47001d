//! Sending finished spans to the collector, off the request path.
//!
//! A call encodes its spans as OTLP protobuf ([`crate::otlp`]) in a
//! scratch buffer of its thread, then appends them, under a short lock, to
//! the pending batch. When the batch would pass `batch.queue` spans (a slow
//! or dead collector), they are dropped and counted: a call never waits on
//! the collector. The export thread (with a tokio runtime of its own:
//! Pingora's main thread has none, and the gRPC client needs one) is woken
//! once per batch, when `batch.size` spans are pending or `batch.delay` has
//! passed, never per call: a wake-up is a system call and a context switch,
//! which cost a unary call a third of its throughput when every span woke
//! the thread. It takes the whole batch and sends it as one request
//! ([`crate::transport`]: OTLP/HTTP, or OTLP/gRPC for a `grpc://`
//! endpoint). A batch is not retried, and gives up after
//! [`EXPORT_TIMEOUT`].

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protogate_config::BatchConfig;
use protogate_core::registry::Registry;
use protogate_metrics::TracingMetrics;
use tokio::sync::Notify;

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

/// The process's span exporter for one destination.
#[derive(Debug)]
pub struct Exporter {
    shared: Arc<Shared>,
    metrics: TracingMetrics,
}

/// What the calls and the export thread share.
#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the export thread: a full batch, or the last handle gone.
    ready: Notify,
    batch: BatchConfig,
}

/// The spans waiting for the next export.
#[derive(Debug, Default)]
struct Pending {
    /// Entries of `ScopeSpans.spans`, one after the other.
    encoded: Vec<u8>,
    /// How many spans `encoded` holds.
    spans: usize,
    /// Whether the export thread was already told the batch is full.
    signalled: bool,
    /// Set when the exporter is dropped: the thread sends what is left
    /// and ends.
    closed: bool,
}

thread_local! {
    /// Where a call's spans are encoded before they join the batch, so the
    /// lock is held for a copy only. Reused, so it allocates once.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Exporter {
    /// Starts the export thread. If the thread cannot start (the system is
    /// out of threads), the error is logged and spans pile up to the queue
    /// bound, then are dropped and counted: tracing never stops the gateway.
    pub fn start(destination: Destination, metrics: TracingMetrics) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            ready: Notify::new(),
            batch: destination.batch,
        });
        let worker = Arc::clone(&shared);
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
                runtime.block_on(export_loop(destination, worker, worker_metrics));
            });
        if let Err(error) = started {
            log::error!("tracing: cannot start the span export thread: {error}");
        }
        Self { shared, metrics }
    }

    /// The exporter for `destination`, shared by every route and kept over
    /// a reload that does not change it.
    pub fn shared(destination: Destination, metrics: TracingMetrics) -> Arc<Self> {
        static EXPORTERS: Registry<Exporter> = Registry::new();
        let identity = format!("{destination:?}");
        EXPORTERS.shared(identity, || Self::start(destination, metrics))
    }

    /// Adds a call's `count` spans, which `write` encodes (as
    /// [`crate::otlp::span`] does), to the pending batch; drops and counts
    /// them when the batch is at its bound.
    pub fn record(&self, count: usize, write: impl FnOnce(&mut Vec<u8>)) {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            write(scratch);
            let batch = &self.shared.batch;
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pending.spans + count > batch.queue {
                drop(pending);
                self.metrics.dropped.inc_by(count as u64);
                return;
            }
            pending.encoded.extend_from_slice(scratch);
            pending.spans += count;
            let wake = pending.spans >= batch.size && !pending.signalled;
            pending.signalled |= wake;
            drop(pending);
            if wake {
                self.shared.ready.notify_one();
            }
        });
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.shared.ready.notify_one();
    }
}

async fn export_loop(destination: Destination, shared: Arc<Shared>, metrics: TracingMetrics) {
    let transport = Transport::new(&destination.endpoint, EXPORT_TIMEOUT);
    if let Err(error) = &transport {
        log::error!("tracing: cannot export to {error}; spans are dropped");
    }
    let envelope = Envelope::new(&destination.service_name);
    let delay = destination.batch.delay;
    let mut taken = Vec::new();
    let mut failures_logged = 0u32;
    let mut transport = transport.ok();
    loop {
        // Until a batch is full, or the oldest span has waited `delay`.
        let _ = tokio::time::timeout(delay, shared.ready.notified()).await;
        let (count, closed) = {
            let mut pending = shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut pending.encoded, &mut taken);
            let count = std::mem::take(&mut pending.spans);
            pending.signalled = false;
            (count, pending.closed)
        };
        if count > 0 {
            let body = envelope.request(std::iter::once(taken.as_slice()));
            taken.clear();
            let sent = match transport.as_mut() {
                Some(transport) => transport.send(body).await,
                None => Err("no transport".to_owned()),
            };
            match sent {
                Ok(()) => {
                    metrics.exported.inc_by(count as u64);
                    failures_logged = 0;
                }
                Err(error) => {
                    metrics.failed.inc_by(count as u64);
                    // One line per failure streak start, then every 100th.
                    if transport.is_some() && failures_logged.is_multiple_of(100) {
                        log::warn!(
                            "tracing: export to {} failed: {error}",
                            destination.endpoint
                        );
                    }
                    failures_logged = failures_logged.wrapping_add(1);
                }
            }
        }
        if closed {
            break; // the config no longer traces to this destination
        }
    }
}
