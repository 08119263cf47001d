//! What the gateway's edge checks cost one unary call: parse the caller's
//! `grpc-timeout`, encode the budget left for the upstream, and check the
//! frames of a 175-byte request and a 175-byte response against the limit.
//! The target (issue 3) is under 1 µs per call.
//!
//! Run: `cargo bench -p protogate-grpc --bench edge_checks`.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion};
use protogate_grpc::frame::{encode, FrameScanner};
use protogate_grpc::timeout::{format_grpc_timeout, parse_grpc_timeout};

fn framed(len: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(&vec![7u8; len], false, &mut out);
    out.to_vec()
}

fn per_call(c: &mut Criterion) {
    let request = framed(175);
    let response = framed(175);
    c.bench_function("edge_checks/unary_call", |b| {
        b.iter(|| {
            let budget = parse_grpc_timeout(black_box(b"250m")).unwrap_or(Duration::ZERO);
            let left = format_grpc_timeout(budget.saturating_sub(Duration::from_micros(3)));
            let mut up = FrameScanner::new(4 * 1024 * 1024);
            let mut down = FrameScanner::new(4 * 1024 * 1024);
            let sent = up.feed(black_box(&request)).and_then(|_| up.finish());
            let got = down.feed(black_box(&response)).and_then(|_| down.finish());
            black_box((left, sent, got))
        })
    });
}

criterion_group!(benches, per_call);
criterion_main!(benches);
