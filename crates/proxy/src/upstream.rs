//! Upstreams: their targets, round-robin choice, and Pingora peers.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use pingora_core::upstreams::peer::HttpPeer;
use protogate_config::{HealthCheckConfig, Timeout, UpstreamConfig, UpstreamProtocol};

use crate::upstream_tls::UpstreamTlsMaterial;

/// How many concurrent streams one upstream HTTP/2 connection may carry
/// before the pool opens another. Pingora's default is 1, which would open
/// a connection per concurrent call. 100 stays under common server limits
/// (hyper 200, nginx 128, Go 250) even before the server's SETTINGS arrive,
/// and spreads a burst over a few connections: a burst of 1,000 new streams
/// on one connection made a tonic upstream drop it.
const MAX_H2_STREAMS_PER_CONNECTION: usize = 100;

/// One target of an upstream, with its peer template built at load.
#[derive(Debug)]
pub struct Target {
    /// `host:port` as written, for logs and metrics.
    pub label: Arc<str>,
    /// The resolved address.
    pub addr: SocketAddr,
    peer: HttpPeer,
    /// False while the target fails its health check: calls skip it.
    /// Always true for an upstream without a health check.
    healthy: AtomicBool,
}

impl Target {
    /// Whether calls may go to this target.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Puts the target in or out of rotation (the health checker's call).
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// A peer for one attempt (a cheap clone of the template).
    pub fn peer(&self) -> Box<HttpPeer> {
        Box::new(self.peer.clone())
    }
}

/// A named upstream: its targets and call defaults.
#[derive(Debug)]
pub struct Upstream {
    /// The name from the config file.
    pub name: Arc<str>,
    /// Wire protocol to the targets.
    pub protocol: UpstreamProtocol,
    /// The default cap for a call that carries no deadline of its own.
    pub timeout: Timeout,
    /// The active health check, when configured.
    pub health_check: Option<HealthCheckConfig>,
    targets: Vec<Target>,
    next: AtomicUsize,
}

impl Upstream {
    /// Builds the upstream, resolving every target once, at load; `tls` is
    /// its TLS material (empty for `grpc` and `http`).
    pub fn build(
        config: &UpstreamConfig,
        tls: &UpstreamTlsMaterial,
    ) -> Result<Self, Vec<(usize, String)>> {
        let mut targets = Vec::with_capacity(config.targets.len());
        let mut errors = Vec::new();
        for (index, target) in config.targets.iter().enumerate() {
            let label = format_target(&target.host, target.port);
            match (target.host.as_str(), target.port).to_socket_addrs() {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) => targets.push(Target {
                        peer: peer_template(config, tls, addr, &target.host),
                        label: Arc::from(label),
                        addr,
                        healthy: AtomicBool::new(true),
                    }),
                    None => errors.push((index, format!("`{label}` resolves to no address"))),
                },
                Err(e) => errors.push((index, format!("cannot resolve `{label}`: {e}"))),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name: Arc::from(config.name.as_str()),
            protocol: config.protocol,
            timeout: config.timeout,
            health_check: config.health_check.clone(),
            targets,
            next: AtomicUsize::new(0),
        })
    }

    /// True for `grpc`/`grpcs` upstreams.
    pub fn is_grpc(&self) -> bool {
        matches!(
            self.protocol,
            UpstreamProtocol::Grpc | UpstreamProtocol::Grpcs
        )
    }

    /// The number of targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Never true: the config requires at least one target.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Where a call's round-robin walk starts; attempt `n` of the call uses
    /// `target(start + n)`, so a retry lands on the next target.
    pub fn next_start(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The target for a position of the walk.
    pub fn target(&self, position: usize) -> Option<&Target> {
        if self.targets.is_empty() {
            return None;
        }
        self.targets.get(position % self.targets.len())
    }

    /// Every target, in config order.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
}

fn format_target(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn peer_template(
    config: &UpstreamConfig,
    tls: &UpstreamTlsMaterial,
    addr: SocketAddr,
    host: &str,
) -> HttpPeer {
    let mut peer = if config.protocol.is_tls() {
        tls.peer(addr, host)
    } else {
        HttpPeer::new(addr, false, String::new())
    };
    let options = &mut peer.options;
    options.connection_timeout = Some(config.connect_timeout);
    options.total_connection_timeout = Some(config.connect_timeout);
    match config.protocol {
        UpstreamProtocol::Grpc | UpstreamProtocol::Grpcs => {
            // h2 only: (2, 1) would silently speak HTTP/1.1 on plaintext,
            // and let ALPN fall back to it over TLS.
            options.set_http_version(2, 2);
            options.max_h2_streams = MAX_H2_STREAMS_PER_CONNECTION;
        }
        UpstreamProtocol::Http | UpstreamProtocol::Https => {
            options.set_http_version(1, 1);
        }
    }
    peer
}
