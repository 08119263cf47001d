//! Starting Pingora: the proxy service on every listener, the admin service,
//! and the process settings from the `server` section.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use pingora_core::apps::HttpServerOptions;
use pingora_core::protocols::http::v2::server::default_h2_options;
use pingora_core::server::configuration::{Opt, ServerConf};
use pingora_core::server::Server;
use pingora_core::services::listening::Service;
use protogate_config::GatewayConfig;
use protogate_metrics::{AdminApp, Metrics, Readiness};

use crate::connections::CountedConnections;
use crate::tls::ListenerTlsSlot;
use crate::{Gateway, Reloader, Runtime};

/// Header-list limit per request (HPACK-decoded), as Pingora's default.
const MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;

/// Flow-control windows for client connections: large enough that a 4 MiB
/// message or a burst of small messages on many streams is not throttled to
/// the protocol's 64 KiB default, small enough to bound per-connection memory.
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

/// h2 guards against floods of tiny DATA frames with a per-connection budget
/// (each buffered frame under 256 bytes spends 256 minus its length). gRPC
/// streams legitimately send tiny frames, so the budget scales with the
/// stream limit: about four small buffered frames per concurrent stream.
const DATA_FRAME_BUDGET_PER_STREAM: usize = 1024;

/// How to start serving.
#[derive(Debug, Default)]
pub struct ServeOptions {
    /// Take the listening sockets over from a running protogate (graceful
    /// upgrade: start this process, then send the old one SIGQUIT).
    pub upgrade: bool,
}

/// Runs the gateway until the process is told to stop; never returns.
///
/// Signals: SIGHUP (or a change of the file at `path`) reloads; SIGTERM
/// stops accepting, lets calls finish for `grace_period`, then exits;
/// SIGQUIT hands the sockets to a new process started with `--upgrade`
/// and then drains like SIGTERM; SIGINT exits at once.
pub fn serve(
    path: &Path,
    config: &GatewayConfig,
    runtime: Runtime,
    metrics: Arc<Metrics>,
    options: ServeOptions,
) -> Result<std::convert::Infallible, String> {
    let server_config = &config.server;
    if !options.upgrade {
        let addresses = server_config.listen.iter().map(|l| l.address);
        addresses_are_free(addresses.chain([server_config.admin]))?;
    }
    let grace = server_config.grace_period.as_secs();
    let conf = ServerConf {
        threads: server_config.threads.max(1),
        grace_period_seconds: Some(grace),
        graceful_shutdown_timeout_seconds: Some(grace.clamp(1, 5)),
        upgrade_sock: server_config.upgrade_sock.display().to_string(),
        ..ServerConf::default()
    };
    let opt = Opt {
        upgrade: options.upgrade,
        ..Opt::default()
    };
    crate::health::start(&runtime, &metrics);
    let handle = Arc::new(ArcSwap::from_pointee(runtime));
    let mut listener_tls = Vec::new();
    for listen in &server_config.listen {
        if let Some(tls) = &listen.tls {
            let slot = ListenerTlsSlot::load(tls)
                .map_err(|e| format!("listener {}: {e}", listen.address))?;
            listener_tls.push((listen.address, slot));
        }
    }
    Reloader::new(
        path,
        Arc::clone(&handle),
        server_config.clone(),
        Arc::clone(&metrics),
    )
    .with_listener_tls(
        listener_tls
            .iter()
            .map(|(_, slot)| Arc::clone(slot))
            .collect(),
    )
    .spawn()
    .map_err(|e| format!("cannot start the reload thread: {e}"))?;

    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let gateway = Gateway::new(Arc::clone(&handle));
    let mut app = pingora_proxy::http_proxy(&server.configuration, gateway);
    {
        let mut options = HttpServerOptions::default();
        options.h2c = true; // HTTP/1.1 and prior-knowledge h2c on one port
        app.server_options = Some(options);
        let mut h2 = default_h2_options();
        h2.max_concurrent_streams(server_config.max_concurrent_streams);
        h2.max_header_list_size(MAX_HEADER_LIST_SIZE);
        h2.initial_window_size(STREAM_WINDOW);
        h2.initial_connection_window_size(CONNECTION_WINDOW);
        let streams = usize::try_from(server_config.max_concurrent_streams).unwrap_or(usize::MAX);
        h2.data_frame_budget(streams.saturating_mul(DATA_FRAME_BUDGET_PER_STREAM));
        app.h2_options = Some(h2);
    }
    let mut proxy = Service::new(
        "protogate".to_owned(),
        CountedConnections::new(app, metrics.open_connections()),
    );
    let mut listeners = Vec::with_capacity(server_config.listen.len());
    for listen in &server_config.listen {
        let address = listen.address.to_string();
        match listener_tls.iter().find(|(at, _)| *at == listen.address) {
            // HTTP/1.1 and h2 chosen by ALPN.
            Some((_, slot)) => proxy.add_tls_with_settings(&address, None, slot.settings()?),
            // HTTP/1.1 and prior-knowledge h2c.
            None => proxy.add_tcp(&address),
        }
        listeners.push(listen.address);
    }

    let readiness = Arc::new(Readiness::new(listeners));
    let mut admin = Service::new(
        "protogate admin".to_owned(),
        AdminApp::new(metrics, readiness),
    );
    admin.add_tcp(&server_config.admin.to_string());

    server.add_service(proxy);
    server.add_service(admin);
    log::info!(
        "protogate serving on {} (admin {})",
        server_config
            .listen
            .iter()
            .map(|l| l.address.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        server_config.admin
    );
    server.run_forever()
}

/// Tries every address the gateway will listen on, and refuses to start
/// when one is taken.
///
/// Pingora binds each service's listeners on that service's own thread,
/// and a failed bind panics only that thread: the process would stay up
/// with its admin port answering and no proxy listening, and `/readyz`,
/// which probes the listener addresses, would find whatever else holds the
/// port and say ready. Skipped for a graceful upgrade, where the old
/// process holds the sockets it is about to hand over.
fn addresses_are_free(addresses: impl IntoIterator<Item = SocketAddr>) -> Result<(), String> {
    for address in addresses {
        std::net::TcpListener::bind(address)
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    }
    Ok(())
}
