//! The demo gRPC services as a test upstream.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The demo ProductService, interop TestService, health and reflection,
/// served on an ephemeral loopback port until dropped or [`stop`]ped.
///
/// [`stop`]: DemoUpstream::stop
pub struct DemoUpstream {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl DemoUpstream {
    /// Starts the demo services on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind demo upstream");
        Self::serve(listener).await
    }

    /// Starts the demo services on `127.0.0.1:0`, counting every call the
    /// application services answer (to prove a call never reached them).
    pub async fn start_counted() -> (Self, protogate_demo::CallCounter) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind demo upstream");
        let counter = protogate_demo::CallCounter::new();
        let upstream = Self::serve_with(listener, Some(counter.clone())).await;
        (upstream, counter)
    }

    /// Like [`Self::start_counted`], on a given address (to restart a
    /// target and see calls reach it again).
    pub async fn start_counted_on(addr: SocketAddr) -> (Self, protogate_demo::CallCounter) {
        let listener = TcpListener::bind(addr).await.expect("bind demo upstream");
        let counter = protogate_demo::CallCounter::new();
        let upstream = Self::serve_with(listener, Some(counter.clone())).await;
        (upstream, counter)
    }

    /// Starts the demo services on a given address (to restart a target).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind demo upstream");
        Self::serve(listener).await
    }

    /// Starts the demo services over TLS with `server`'s certificate,
    /// requiring client certificates signed by `client_ca` when given.
    pub async fn start_tls(server: &crate::Leaf, client_ca: Option<&std::path::Path>) -> Self {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind demo upstream");
        let addr = listener.local_addr().expect("demo addr");
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
            std::fs::read(&server.cert).expect("server cert"),
            std::fs::read(&server.key).expect("server key"),
        ));
        if let Some(ca) = client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(std::fs::read(ca).expect("client ca")));
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = protogate_demo::serve_tls(listener, tls, shutdown).await {
                eprintln!("demo TLS upstream failed: {e}");
            }
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn serve(listener: TcpListener) -> Self {
        Self::serve_with(listener, None).await
    }

    async fn serve_with(
        listener: TcpListener,
        counter: Option<protogate_demo::CallCounter>,
    ) -> Self {
        let addr = listener.local_addr().expect("demo addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let served = match counter {
                Some(counter) => protogate_demo::serve_counted(listener, counter, shutdown).await,
                None => protogate_demo::serve(listener, shutdown).await,
            };
            if let Err(e) = served {
                eprintln!("demo upstream failed: {e}");
            }
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DemoUpstream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The `protogate-demo` binary as a separate process, for tests that need
/// an upstream to die for real (every connection cut at once, as in a crash).
pub struct DemoProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<std::process::Child>,
}

impl DemoProcess {
    /// Starts `protogate-demo --listen addr` and waits until it accepts.
    pub async fn spawn(addr: SocketAddr) -> Self {
        let bin = crate::gateway::sibling_binary("protogate-demo");
        let child = std::process::Command::new(&bin)
            .args(["--listen", &addr.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let process = Self {
            addr,
            child: Some(child),
        };
        crate::eventually(
            "the demo process to accept",
            std::time::Duration::from_secs(20),
            || async { tokio::net::TcpStream::connect(addr).await.ok().map(|_| ()) },
        )
        .await;
        process
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
