//! What ten header rules cost per call: template evaluation plus applying
//! the rules to a realistic request header, against the same header with no
//! rules. Run: `cargo bench -p protogate-plugin-header-map --bench rules`.

#![allow(clippy::unwrap_used)]

/// The allocator of the `protogate` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
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

/// A gRPC request header as a browser-facing edge sees it. HTTP/2 callers'
/// headers carry no case map; HTTP/1.1 callers' do (`with_case`), and
/// every change then updates both.
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
            b.iter_batched_ref(
                || caller.clone(),
                |upstream| {
                    std::hint::black_box(upstream);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("ten_rules_{version}"), |b| {
            b.iter_batched_ref(
                || caller.clone(),
                |upstream| {
                    let values = config.request.evaluate(&Sources {
                        call: &call,
                        request: &caller,
                    });
                    config.request.apply(upstream, &values);
                    std::hint::black_box(upstream);
                },
                BatchSize::SmallInput,
            )
        });
    }
    // The two halves on their own, HTTP/2: evaluating the templates, and
    // applying the rules with the values in hand.
    let caller = request(false);
    let sources = Sources {
        call: &call,
        request: &caller,
    };
    group.bench_function("evaluate_only", |b| {
        b.iter(|| std::hint::black_box(config.request.evaluate(&sources)))
    });
    let values = config.request.evaluate(&sources);
    group.bench_function("apply_only_h2", |b| {
        b.iter_batched_ref(
            || caller.clone(),
            |upstream| {
                config.request.apply(upstream, &values);
                std::hint::black_box(upstream);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
