//! The gRPC-Web text decoder under arbitrary input and arbitrary chunking:
//! never panics; the result does not depend on how the body is split; and
//! what the encoder wrote (one padded base64 run per chunk) decodes back to
//! the original bytes, however the encoded body is split.
//!
//! Input layout: 2 bytes chunking seed, then the body (used both as text to
//! decode and as bytes to encode).

#![no_main]

use libfuzzer_sys::fuzz_target;
use protogate_grpc::web::{encode_text, TextDecoder, TextError};

/// Splits `body` into chunks of pseudo-random length 0..=16 from `seed`.
fn chunks(body: &[u8], seed: u16) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = ((state % 17) as usize).min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

fn decode(pieces: &[&[u8]]) -> Result<Vec<u8>, TextError> {
    let mut decoder = TextDecoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(&decoder.feed(piece)?);
    }
    decoder.finish()?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let seed = u16::from_be_bytes([data[0], data[1]]);
    let body = &data[2..];

    // Arbitrary text: whole or in pieces, the same answer. (Error offsets
    // may differ only in where a run was cut, so compare success and bytes.)
    let whole = decode(&[body]);
    let split = decode(&chunks(body, seed));
    assert_eq!(whole.is_ok(), split.is_ok(), "{whole:?} vs {split:?}");
    if let (Ok(a), Ok(b)) = (&whole, &split) {
        assert_eq!(a, b);
    }

    // Encoded chunks (as the gateway writes a text answer) round-trip.
    let mut encoded = Vec::new();
    for chunk in chunks(body, seed.rotate_left(7)) {
        encoded.extend_from_slice(&encode_text(chunk));
    }
    assert_eq!(decode(&chunks(&encoded, seed)).expect("valid"), body);
});
