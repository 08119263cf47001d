//! The bare Pingora proxy used by `bench/run.sh` as the floor protogate is
//! measured against: h2c in, one h2c upstream out, nothing else. With
//! `--grpc-web`, Pingora's own gRPC-Web bridge module is on (the peer of
//! protogate's gRPC-Web), set up as Pingora's `grpc_web_module` example does.
//!
//! Usage: `bare-pingora LISTEN_ADDR UPSTREAM_ADDR [--grpc-web]`

use async_trait::async_trait;
use pingora_core::apps::HttpServerOptions;
use pingora_core::modules::http::compression::ResponseCompressionBuilder;
use pingora_core::modules::http::grpc_web::{GrpcWeb, GrpcWebBridge};
use pingora_core::modules::http::HttpModules;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};

struct Bare {
    upstream: String,
    grpc_web: bool,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();
    fn new_ctx(&self) {}

    fn init_downstream_modules(&self, modules: &mut HttpModules) {
        // Pingora's default module, kept as the default leaves it (off).
        modules.add_module(ResponseCompressionBuilder::enable(0));
        if self.grpc_web {
            modules.add_module(Box::new(GrpcWeb));
        }
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_core::Result<()> {
        if let Some(bridge) = session.downstream_modules_ctx.get_mut::<GrpcWebBridge>() {
            bridge.init();
        }
        Ok(())
    }

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
        eprintln!("usage: bare-pingora LISTEN_ADDR UPSTREAM_ADDR [--grpc-web]");
        std::process::exit(2);
    };
    let grpc_web = args.next().as_deref() == Some("--grpc-web");
    let conf = ServerConf {
        threads: 1,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    let mut service =
        pingora_proxy::http_proxy_service(&server.configuration, Bare { upstream, grpc_web });
    let mut options = HttpServerOptions::default();
    options.h2c = true;
    if let Some(app) = service.app_logic_mut() {
        app.server_options = Some(options);
    }
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever();
}
