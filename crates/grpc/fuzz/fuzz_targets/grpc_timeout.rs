//! grpc-timeout parse/encode: never panics; whatever parses re-encodes to a
//! valid value that is never longer than the input duration; any duration
//! encodes to something that parses back no larger and, if non-zero, non-zero.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use protogate_grpc::timeout::{format_grpc_timeout, parse_grpc_timeout, MAX_TIMEOUT};

fn check_encode(d: Duration) {
    let enc = format_grpc_timeout(d);
    assert!(enc.as_bytes().len() <= 9);
    let back = match parse_grpc_timeout(enc.as_bytes()) {
        Ok(back) => back,
        Err(e) => panic!("{d:?} encoded as {enc:?}, which does not parse: {e}"),
    };
    assert!(
        back <= d.min(MAX_TIMEOUT),
        "{d:?} -> {enc} -> {back:?} grew"
    );
    assert_eq!(back.is_zero(), d.is_zero(), "{d:?} -> {enc}");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = parse_grpc_timeout(data) {
        assert!(data.len() >= 2 && data.len() <= 9);
        assert!(d <= MAX_TIMEOUT);
        check_encode(d);
    }
    if data.len() >= 12 {
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&data[..8]);
        let mut nanos = [0u8; 4];
        nanos.copy_from_slice(&data[8..12]);
        let d = Duration::new(
            u64::from_le_bytes(secs),
            u32::from_le_bytes(nanos) % 1_000_000_000,
        );
        check_encode(d);
    }
});
