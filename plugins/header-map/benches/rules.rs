//! What ten header rules cost per call: template evaluation plus applying
//! the rules to a realistic request header, against the same header with no
//! rules. Run: `cargo bench -p protogate-plugin-header-map --bench rules`.

#![allow(clippy::unwrap_used)]

/// The allocator of the `protogate` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use protogate_config::{Decode, Decoder, YamlPath};
use protogate_core::{CallInfo, RequestHeader};
use protogate_plugin_header_map::template::Sources;
use protogate_plugin_header_map::HeaderMapConfig;

/// Ten rules of every kind, two of them templates.
const TEN_RULES: &str = r#"header_map:
  request:
    remove: [x-internal-debug, x-forwarded-proto]
    rename: { x-tenant: customerid }
    set:
      x-gateway: protogate
      x-client-ip: "${client_ip}"
      x-caller: "${header.user-agent}"
      grpc-region: eu-west-1
    add: { x-via: protogate, x-hop: "1", x-trace-bin: "AAECAw" }
"#;

fn config() -> HeaderMapConfig {
    let root =
        protogate_config::decode_str::<protogate_config::Node>(TEN_RULES, Path::new("b.yaml"))
            .unwrap();
    let mut d = Decoder::new("b.yaml".into());
    HeaderMapConfig::decode(
        root.get("header_map").unwrap(),
        &YamlPath::root().key("header_map"),
        &mut d,
    )
    .unwrap()
}

/// A gRPC request header as a browser-facing edge sees it. The upstream
/// request the gateway hands the plugin carries no case map (the upstream
/// speaks HTTP/2), so the rules edit its `http::HeaderMap` directly. The
/// `h1` variant keeps a case map, as a plain HTTP/1 upstream's request
/// does: every write then goes through Pingora's API and updates both.
fn request(with_case: bool) -> RequestHeader {
    let path = b"/ecommerce.v1.ProductService/GetProduct";
    let mut request = if with_case {
        RequestHeader::build(http::Method::POST, path, None).unwrap()
    } else {
        RequestHeader::build_no_case(http::Method::POST, path, None).unwrap()
    };
    for (name, value) in [
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("user-agent", "grpc-go/1.70.0"),
        ("grpc-timeout", "5S"),
        (
            "authorization",
            "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
        ),
        ("x-tenant", "acme"),
        ("x-internal-debug", "1"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f"),
        ("accept-encoding", "gzip"),
    ] {
        request.insert_header(name, value).unwrap();
    }
    request
}

/// Each iteration clones the caller's header and drops the result, as the
/// gateway does per call (it starts the upstream request from a clone).
/// The `no_rules` figures are that baseline; a `ten_rules` figure minus
/// its baseline is what the rules cost. Cloning inside the timed loop
/// (rather than in a batch set up beforehand) lets the allocator reuse
/// memory as it does in the gateway: a batch of thousands of live clones
/// makes every growth touch fresh pages, a cost no call pays.
fn bench(c: &mut Criterion) {
    let config = config();
    let call = CallInfo {
        client_addr: Some("192.0.2.10".parse().unwrap()),
        route: Some("products".into()),
        ..Default::default()
    };
    let mut group = c.benchmark_group("header_map");
    for (caller, version) in [(request(false), "h2"), (request(true), "h1")] {
        group.bench_function(format!("no_rules_{version}"), |b| {
            b.iter(|| std::hint::black_box(caller.clone()))
        });
        group.bench_function(format!("ten_rules_{version}"), |b| {
            b.iter(|| {
                let mut upstream = caller.clone();
                let values = config.request.evaluate(&Sources {
                    call: &call,
                    request: &caller,
                });
                config.request.apply(&mut upstream, &values);
                std::hint::black_box(upstream)
            })
        });
    }
    // The floor: the same rules on a bare `http::HeaderMap` (what the
    // trailer rules edit), without Pingora's header around it.
    let map = request(false).headers.clone();
    group.bench_function("no_rules_map", |b| {
        b.iter(|| std::hint::black_box(map.clone()))
    });
    group.bench_function("ten_rules_map", |b| {
        let caller = request(false);
        b.iter(|| {
            let mut upstream = map.clone();
            let values = config.request.evaluate(&Sources {
                call: &call,
                request: &caller,
            });
            config.request.apply(&mut upstream, &values);
            std::hint::black_box(upstream)
        })
    });
    // Evaluating the templates on its own.
    let caller = request(false);
    let sources = Sources {
        call: &call,
        request: &caller,
    };
    group.bench_function("evaluate_only", |b| {
        b.iter(|| std::hint::black_box(config.request.evaluate(&sources)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
