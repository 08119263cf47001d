//! FrameScanner cost per message: the per-chunk work the proxy adds to every
//! gRPC body it forwards.
//!
//! Run: `cargo bench -p protogate-grpc --bench frame`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protogate_grpc::frame::{encode, FrameScanner};

fn framed(len: usize) -> Vec<u8> {
    let message: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut out = BytesMut::new();
    encode(&message, false, &mut out);
    out.to_vec()
}

fn scanner(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_scanner");
    for (name, len) in [("175B", 175usize), ("64KiB", 64 * 1024)] {
        let body = framed(len);
        group.throughput(Throughput::Bytes(body.len() as u64));

        // The whole frame in one chunk.
        group.bench_function(format!("{name}/one_chunk"), |b| {
            b.iter(|| {
                let mut s = FrameScanner::new(4 * 1024 * 1024);
                let p = s.feed(black_box(&body));
                black_box((p, s.finish()))
            })
        });

        // Prefix split from the message, then 16 KiB chunks (HTTP/2 default
        // max frame size), as the proxy sees DATA frames.
        group.bench_function(format!("{name}/h2_chunks"), |b| {
            b.iter(|| {
                let mut s = FrameScanner::new(4 * 1024 * 1024);
                let (head, rest) = body.split_at(3);
                let mut n = s.feed(black_box(head)).map_or(0, |p| p.messages_completed);
                for chunk in rest.chunks(16 * 1024) {
                    n += s.feed(black_box(chunk)).map_or(0, |p| p.messages_completed);
                }
                black_box(n)
            })
        });
    }
    group.finish();

    // Many small messages packed into 16 KiB DATA frames (a busy stream):
    // per-message cost when prefixes straddle chunk boundaries.
    let mut group = c.benchmark_group("frame_scanner_stream");
    let one = framed(175);
    let body: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000x175B/h2_chunks", |b| {
        b.iter(|| {
            let mut s = FrameScanner::new(4 * 1024 * 1024);
            let mut n = 0;
            for chunk in body.chunks(16 * 1024) {
                n += s.feed(black_box(chunk)).map_or(0, |p| p.messages_completed);
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, scanner);
criterion_main!(benches);
