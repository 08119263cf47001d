//! Starts the demo server on an ephemeral loopback port for one test and
//! stops it when the handle is dropped.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::error::Error;
use std::net::SocketAddr;

use protogate_demo::ProductStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// What every test returns, so `?` can replace `unwrap`.
pub type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

/// A running demo server; shuts down on drop.
pub struct DemoServer {
    pub addr: SocketAddr,
    pub store: ProductStore,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl DemoServer {
    /// Serves a freshly seeded store on 127.0.0.1:0.
    pub async fn start() -> Result<Self, Box<dyn Error + Send + Sync>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let store = ProductStore::seeded();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(protogate_demo::serve_with_store(
            listener,
            store.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Ok(Self {
            addr,
            store,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// A fresh HTTP/2 channel to the server.
    pub async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Endpoint::from_shared(format!("http://{}", self.addr))?
            .connect()
            .await
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) -> TestResult {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
