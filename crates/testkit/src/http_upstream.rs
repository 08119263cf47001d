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
        Self::serve(None).await
    }

    /// Starts the server over TLS (HTTP/1.1) with `server`'s certificate:
    /// an `https` upstream.
    pub async fn start_tls(server: &crate::Leaf) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&server.cert)
            .expect("server cert")
            .collect::<Result<_, _>>()
            .expect("server cert");
        let key = PrivateKeyDer::from_pem_file(&server.key).expect("server key");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("tls config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self::serve(Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(
            config,
        ))))
        .await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
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
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(echo);
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
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
