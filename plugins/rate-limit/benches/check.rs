//! What a local rate-limit check costs per call: building the key from the
//! call, then the GCRA check under the shard lock, for one hot key and for
//! keys spread over 10,000 callers. The limit never refuses, as on a route
//! whose callers stay within budget.
//! Run: `cargo bench -p protogate-plugin-rate-limit --bench check`.

#![allow(clippy::unwrap_used)]

/// The allocator of the `protogate` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use protogate_core::{CallInfo, RequestHeader};
use protogate_plugin_rate_limit::config::{KeyPart, Limit};
use protogate_plugin_rate_limit::gcra::{self, Cell};
use protogate_plugin_rate_limit::key;
use protogate_plugin_rate_limit::local::LocalStore;

fn limits() -> Vec<Limit> {
    vec![
        Limit {
            name: "fast".into(),
            requests: 1_000_000_000,
            per: Duration::from_secs(1),
            burst: 1_000_000_000,
        },
        Limit {
            name: "hourly".into(),
            requests: 1_000_000_000,
            per: Duration::from_secs(3600),
            burst: 1_000_000_000,
        },
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit");
    let cells = [Cell::new(1, 1_000_000_000), Cell::new(3600, 1_000_000_000)];
    let mut tats = [0u64; 2];
    let mut now = 0u64;
    group.bench_function("gcra_only_two_limits", |b| {
        b.iter(|| {
            now += 1;
            std::hint::black_box(gcra::check(&cells, &mut tats, now))
        })
    });

    let store = LocalStore::new(&limits());
    let parts = [KeyPart::ClientIp];
    let request = RequestHeader::build_no_case("POST", b"/shop.v1.Orders/Get", None).unwrap();
    let mut call = CallInfo {
        client_addr: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
        ..Default::default()
    };
    group.bench_function("local_check_one_caller", |b| {
        b.iter(|| {
            let key = key::build(&parts, &call, &request);
            let decision = store.check(&key, store.now());
            assert!(decision.allowed);
            std::hint::black_box(decision)
        })
    });
    let mut n: u32 = 0;
    group.bench_function("local_check_10k_callers", |b| {
        b.iter(|| {
            n = (n + 1) % 10_000;
            call.client_addr = Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
            let key = key::build(&parts, &call, &request);
            let decision = store.check(&key, store.now());
            assert!(decision.allowed);
            std::hint::black_box(decision)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
