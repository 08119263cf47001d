//! Lookup cost on a 1,000-route table: a gRPC method hit, a gRPC service
//! hit, an exact path hit, a prefix hit and a miss.
//!
//! The table mixes every ranking key and sprinkles host and method
//! constraints, so hits also pay for checking those. Target: under 1 µs per
//! lookup.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, Method};
use protogate_router::{Request, RouteSpec, RouteTable};

/// 400 gRPC methods, 100 gRPC services, 250 exact paths, 250 prefixes.
fn routes() -> Vec<(RouteSpec, usize)> {
    let mut specs = Vec::with_capacity(1_000);
    for s in 0..40 {
        for m in 0..10 {
            specs.push(RouteSpec {
                grpc_method: Some(format!("shop{s}.v1.CatalogService{s}/Method{m}")),
                headers: if m % 5 == 0 {
                    vec![(HeaderName::from_static("x-canary"), "1".into())]
                } else {
                    Vec::new()
                },
                ..RouteSpec::default()
            });
        }
    }
    for s in 0..100 {
        specs.push(RouteSpec {
            grpc_service: Some(format!("ecommerce.v{}.ProductService{s}", s % 3)),
            host: (s % 4 == 0).then(|| "*.internal.example.com".into()),
            ..RouteSpec::default()
        });
    }
    for p in 0..250 {
        specs.push(RouteSpec {
            path: Some(format!("/static/page{p}.html")),
            methods: if p % 2 == 0 {
                vec![Method::GET, Method::HEAD]
            } else {
                Vec::new()
            },
            ..RouteSpec::default()
        });
    }
    for p in 0..250 {
        // Prefixes of many lengths, nested under a few shared stems.
        let stem = ["/api", "/api/v1", "/api/v2/users", "/assets", "/"][p % 5];
        specs.push(RouteSpec {
            path_prefix: Some(format!("{stem}/r{p}")),
            host: (p % 3 == 0).then(|| "api.example.com".into()),
            methods: if p % 7 == 0 {
                vec![Method::GET]
            } else {
                Vec::new()
            },
            ..RouteSpec::default()
        });
    }
    specs.into_iter().enumerate().map(|(i, s)| (s, i)).collect()
}

fn bench(c: &mut Criterion) {
    let table = RouteTable::new(routes());
    assert_eq!(table.len(), 1_000);
    let headers = HeaderMap::new();
    let get = Method::GET;
    let post = Method::POST;
    let request = |grpc, method, path, host| Request {
        grpc,
        method,
        path,
        host,
        headers: &headers,
    };
    let cases = [
        (
            "grpc_method_hit",
            request(
                true,
                &post,
                "/shop17.v1.CatalogService17/Method3",
                Some("api.example.com"),
            ),
        ),
        (
            "grpc_service_hit",
            request(
                true,
                &post,
                "/ecommerce.v1.ProductService40/GetProduct",
                Some("a.internal.example.com:443"),
            ),
        ),
        (
            "path_hit",
            request(false, &get, "/static/page120.html", Some("example.com")),
        ),
        (
            "prefix_hit",
            request(
                false,
                &get,
                "/api/v2/users/r102/profile/photos",
                Some("api.example.com:8443"),
            ),
        ),
        (
            "miss",
            request(true, &post, "/nothing.v1.Here/Method", Some("example.com")),
        ),
    ];
    for (name, req) in &cases {
        assert!(
            (*name == "miss") == table.lookup(req).is_none(),
            "{name} did not behave"
        );
        assert_eq!(table.lookup(req), table.lookup_linear(req), "{name}");
    }

    let mut group = c.benchmark_group("lookup_1000_routes");
    for (name, req) in &cases {
        group.bench_function(*name, |b| b.iter(|| table.lookup(black_box(req))));
    }
    group.bench_function("linear_scan_miss", |b| {
        b.iter(|| table.lookup_linear(black_box(&cases[4].1)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
