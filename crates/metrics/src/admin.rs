//! The admin service: `/metrics`, `/healthz` and `/readyz` on their own port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;

use crate::Metrics;

/// Readiness: the gateway is ready once its configuration is loaded (it is,
/// before the admin service starts) and every proxy listener accepts
/// connections. The listeners are probed until they all answer once.
#[derive(Debug)]
pub struct Readiness {
    listeners: Vec<SocketAddr>,
    ready: AtomicBool,
}

impl Readiness {
    /// Readiness over these proxy listener addresses.
    pub fn new(listeners: Vec<SocketAddr>) -> Self {
        Self {
            listeners,
            ready: AtomicBool::new(false),
        }
    }

    /// True once every listener accepted a probe connection.
    pub async fn check(&self) -> bool {
        if self.ready.load(Ordering::Acquire) {
            return true;
        }
        for addr in &self.listeners {
            if !probe(loopback_for(*addr)).await {
                return false;
            }
        }
        self.ready.store(true, Ordering::Release);
        true
    }
}

/// One connection attempt, bounded so a wedged listener cannot hang /readyz.
async fn probe(addr: SocketAddr) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

/// A wildcard listen address is probed on the loopback of its family.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// The admin HTTP app served by Pingora on the `server.admin` address.
pub struct AdminApp {
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

impl AdminApp {
    /// An admin app over these metrics and readiness.
    pub fn new(metrics: Arc<Metrics>, readiness: Arc<Readiness>) -> Self {
        Self { metrics, readiness }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_owned();
        match path.as_str() {
            "/metrics" => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics.render(),
            ),
            "/healthz" => reply(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => {
                if self.readiness.check().await {
                    reply(StatusCode::OK, "text/plain", b"ready\n".to_vec())
                } else {
                    reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        b"not ready\n".to_vec(),
                    )
                }
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                b"not found: try /metrics, /healthz or /readyz\n".to_vec(),
            ),
        }
    }
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    let len = response.body().len();
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    response
}
