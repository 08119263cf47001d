//! FrameScanner under arbitrary chunking: never panics, does not depend on
//! how the body is split, and agrees with FrameDecoder on every message
//! count and error.
//!
//! Input layout: 2 bytes max message length (so small limits are common and
//! both TooLarge and completed messages are reached), 2 bytes chunking seed,
//! then the body.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protogate_grpc::frame::{FrameDecoder, FrameError, FrameScanner};

/// Splits `body` into chunks of pseudo-random length 0..=32 from `seed`.
fn chunks(body: &[u8], seed: u16) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % 33) as usize;
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// Feeds every chunk; returns (messages, first error, finish result).
fn scan(max: u32, parts: &[&[u8]]) -> (u64, Option<FrameError>, Result<(), FrameError>) {
    let mut scanner = FrameScanner::new(max);
    let mut reported: u64 = 0;
    let mut error = None;
    for part in parts {
        match scanner.feed(part) {
            Ok(p) => reported += u64::from(p.messages_completed),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if error.is_none() {
        // Per-chunk reports add up to the running total.
        assert_eq!(reported, scanner.messages());
    }
    (scanner.messages(), error, scanner.finish())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let max = u32::from(u16::from_be_bytes([data[0], data[1]]));
    let seed = u16::from_be_bytes([data[2], data[3]]);
    let body = &data[4..];
    let parts = chunks(body, seed);

    let chunked = scan(max, &parts);
    let whole = scan(max, &[body]);
    assert_eq!(chunked, whole, "result depends on chunking");

    let mut decoder = FrameDecoder::new(max);
    let mut messages: u64 = 0;
    let mut error = None;
    'outer: for part in &parts {
        decoder.push(Bytes::copy_from_slice(part));
        loop {
            match decoder.next_message() {
                Ok(Some(m)) => {
                    assert!(m.data.len() <= max as usize);
                    messages += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(
        chunked.0, messages,
        "message count differs from FrameDecoder"
    );
    assert_eq!(chunked.1, error, "error differs from FrameDecoder");
    assert_eq!(
        chunked.2,
        decoder.finish(),
        "finish differs from FrameDecoder"
    );
});
