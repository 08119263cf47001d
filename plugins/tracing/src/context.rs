//! W3C Trace Context, sans IO: reading `traceparent` and `tracestate`
//! from a caller and writing them for the upstream.
//!
//! Parsing is strict, as the spec asks: lower-case hex only, version `ff`
//! and all-zero ids refused (a new trace starts instead). A later version
//! is read by its version-00 fields. `tracestate` is passed on unchanged
//! when `traceparent` was valid, and dropped otherwise.

/// A trace id and span id as the wire carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanIds {
    /// 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// 8 bytes, never all zero.
    pub span_id: [u8; 8],
}

/// The context a caller sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The caller's trace and span.
    pub ids: SpanIds,
    /// Whether the caller sampled the trace (flag 0x01).
    pub sampled: bool,
    /// `tracestate`, passed on as received.
    pub state: Option<String>,
}

/// Reads `traceparent` (and `tracestate` when it is valid).
pub fn extract(traceparent: Option<&[u8]>, tracestate: Option<&str>) -> Option<Parent> {
    let value = std::str::from_utf8(traceparent?).ok()?.trim();
    let bytes = value.as_bytes();
    if bytes.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = hex_byte(&bytes[0..2])?;
    if version == 0xff || (version == 0 && bytes.len() != 55) {
        return None;
    }
    if version != 0 && bytes.len() > 55 && bytes[55] != b'-' {
        return None;
    }
    let mut trace_id = [0u8; 16];
    hex_into(&bytes[3..35], &mut trace_id)?;
    let mut span_id = [0u8; 8];
    hex_into(&bytes[36..52], &mut span_id)?;
    let flags = hex_byte(&bytes[53..55])?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    let state = tracestate
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 8192)
        .map(str::to_owned);
    Some(Parent {
        ids: SpanIds { trace_id, span_id },
        sampled: flags & 1 == 1,
        state,
    })
}

/// `00-<trace>-<span>-<flags>` for the upstream.
pub fn traceparent(ids: SpanIds, sampled: bool) -> String {
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    push_hex(&mut out, &ids.trace_id);
    out.push('-');
    push_hex(&mut out, &ids.span_id);
    out.push_str(if sampled { "-01" } else { "-00" });
    out
}

/// Lower-case hex of `bytes`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    Some(hex_digit(two[0])? << 4 | hex_digit(two[1])?)
}

fn hex_into(text: &[u8], out: &mut [u8]) -> Option<()> {
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = hex_byte(&text[index * 2..index * 2 + 2])?;
    }
    Some(())
}

/// New random ids: a trace id and a span id, never all zero.
pub fn new_trace_id() -> [u8; 16] {
    loop {
        let id = fastrand::u128(..).to_be_bytes();
        if id != [0; 16] {
            return id;
        }
    }
}

/// A new random span id, never all zero.
pub fn new_span_id() -> [u8; 8] {
    loop {
        let id = fastrand::u64(..).to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_is_read_and_written_back() {
        let parent = extract(Some(VALID.as_bytes()), Some("congo=t61rcWkgMzE")).expect("valid");
        assert!(parent.sampled);
        assert_eq!(parent.state.as_deref(), Some("congo=t61rcWkgMzE"));
        assert_eq!(traceparent(parent.ids, true), VALID);
        assert_eq!(
            traceparent(parent.ids, false),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
    }

    #[test]
    fn invalid_headers_start_a_new_trace() {
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert_eq!(extract(Some(bad.as_bytes()), None), None, "{bad}");
        }
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        let parent = extract(Some(later.as_bytes()), None).expect("a later version");
        assert!(!parent.sampled);
    }
}
