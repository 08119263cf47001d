//! A plain HTTP upstream that echoes what it received, for REST routes.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// An HTTP/1.1 + h2c server answering every request with
/// `METHOD PATH?QUERY\n` followed by the request body, plus an
/// `x-echo-version` header naming the protocol version it received.
pub struct HttpEcho {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl HttpEcho {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let addr = listener.local_addr().expect("echo addr");
        let (stop, mut stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(async move {
                    let service = service_fn(echo);
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            stop: Some(stop),
        }
    }
}

impl Drop for HttpEcho {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut text = format!("{} {}\n", parts.method, parts.uri);
    text.push_str(&String::from_utf8_lossy(&body));
    // `/status/NNN` answers with that status (a failing health check).
    let status = parts
        .uri
        .path()
        .strip_prefix("/status/")
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or(200);
    let response = Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .header("x-echo-version", format!("{:?}", parts.version))
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_default();
    Ok(response)
}
