//! Counts callers' connections for `protogate_open_connections`.
//!
//! Pingora's proxy has no hook for a connection opening or closing, only
//! for requests. Its listener hands every accepted connection (TCP, or TLS
//! after the handshake) to the service's app in one `process_new` call that
//! lasts as long as the connection serves requests, so wrapping the app
//! counts exactly the connections being served.

use std::sync::Arc;

use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::server::ShutdownWatch;
use protogate_metrics::{IntGauge, OpenConnection};

/// `app`, with its connections counted on `gauge`.
pub(crate) struct CountedConnections<A> {
    app: Arc<A>,
    gauge: IntGauge,
}

impl<A> CountedConnections<A> {
    /// Wraps `app`.
    pub(crate) fn new(app: A, gauge: IntGauge) -> Self {
        Self {
            app: Arc::new(app),
            gauge,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for CountedConnections<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // An HTTP/1.1 connection kept alive comes back here for its next
        // request: it leaves the gauge between the two calls for an instant.
        let _open = OpenConnection::new(self.gauge.clone());
        self.app.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.app.cleanup().await;
    }
}
