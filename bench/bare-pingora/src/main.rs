//! The bare Pingora proxy used by `bench/run.sh` as the floor protogate is
//! measured against: h2c in, one h2c upstream out, nothing else.
//!
//! Usage: `bare-pingora LISTEN_ADDR UPSTREAM_ADDR`

use async_trait::async_trait;
use pingora_core::apps::HttpServerOptions;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};

struct Bare {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();
    fn new_ctx(&self) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_core::Result<Box<HttpPeer>> {
        let mut peer = HttpPeer::new(self.upstream.as_str(), false, String::new());
        peer.options.set_http_version(2, 2);
        peer.options.max_h2_streams = 1000;
        Ok(Box::new(peer))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare-pingora LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: 1,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    let mut service = pingora_proxy::http_proxy_service(&server.configuration, Bare { upstream });
    let mut options = HttpServerOptions::default();
    options.h2c = true;
    if let Some(app) = service.app_logic_mut() {
        app.server_options = Some(options);
    }
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever();
}
