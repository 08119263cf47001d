//! Trace context on the wire, sans IO: W3C `traceparent` / `tracestate`,
//! and Zipkin's B3 (the single `b3` header and the `X-B3-*` set).
//!
//! Parsing is strict, as the W3C spec asks: lower-case hex only, version
//! `ff` and all-zero ids refused (a new trace starts instead). A later
//! version is read by its version-00 fields. `tracestate` is passed on
//! unchanged when `traceparent` was valid, and dropped otherwise. B3 ids
//! follow the same hex rules; a 64-bit B3 trace id is widened with zeros,
//! as OpenTelemetry does. B3's "defer" (no sampling state) leaves the
//! decision to the gateway's ratio.

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
    /// Whether the caller sampled the trace (W3C flag 0x01, B3 `1`/`d`);
    /// `None` when it left the decision to us (B3 without a state).
    pub sampled: Option<bool>,
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
        sampled: Some(flags & 1 == 1),
        state,
    })
}

/// Reads a single `b3` header: `trace-span[-state[-parent]]`. A lone
/// sampling state (`b3: 0`) carries no ids and starts nothing.
pub fn extract_b3(value: &str) -> Option<Parent> {
    let mut fields = value.trim().split('-');
    let trace = fields.next()?;
    let span = fields.next()?;
    let state = fields.next();
    let parent = fields.next();
    if fields.next().is_some() || parent.is_some_and(|p| p.len() != 16 || hex_id::<8>(p).is_none())
    {
        return None;
    }
    let sampled = match state {
        None => None,
        Some("1" | "d") => Some(true),
        Some("0") => Some(false),
        Some(_) => return None,
    };
    b3_parent(trace, span, sampled)
}

/// Reads the `X-B3-*` headers (`TraceId`, `SpanId`, `Sampled`, `Flags`).
pub fn extract_b3_multi(
    trace: Option<&str>,
    span: Option<&str>,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Option<Parent> {
    let sampled = match (flags.map(str::trim), sampled.map(str::trim)) {
        (Some("1"), _) => Some(true),
        (_, Some("1" | "true")) => Some(true),
        (_, Some("0" | "false")) => Some(false),
        (_, None) => None,
        (_, Some(_)) => return None,
    };
    b3_parent(trace?.trim(), span?.trim(), sampled)
}

fn b3_parent(trace: &str, span: &str, sampled: Option<bool>) -> Option<Parent> {
    let trace_id = match trace.len() {
        32 => hex_id::<16>(trace)?,
        16 => {
            let low = hex_id::<8>(trace)?;
            let mut wide = [0u8; 16];
            wide[8..].copy_from_slice(&low);
            wide
        }
        _ => return None,
    };
    if span.len() != 16 {
        return None;
    }
    let span_id = hex_id::<8>(span)?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        ids: SpanIds { trace_id, span_id },
        sampled,
        state: None,
    })
}

fn hex_id<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    hex_into(bytes, &mut out)?;
    Some(out)
}

/// `trace-span-1` (or `-0`) for a single `b3` header.
pub fn b3(ids: SpanIds, sampled: bool) -> String {
    let mut out = String::with_capacity(51);
    push_hex(&mut out, &ids.trace_id);
    out.push('-');
    push_hex(&mut out, &ids.span_id);
    out.push_str(if sampled { "-1" } else { "-0" });
    out
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

/// Lower-case hex of `bytes`. The digits go through a stack buffer, 32
/// at a time: pushing them one `char` at a time costs several times more,
/// and this runs for every traced call.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 32];
    for chunk in bytes.chunks(16) {
        for (pair, byte) in digits.chunks_exact_mut(2).zip(chunk) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        // Always ASCII: the fallback is never taken.
        out.push_str(std::str::from_utf8(&digits[..2 * chunk.len()]).unwrap_or_default());
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

    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte_whatever_the_length() {
        let bytes: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        for len in [0, 1, 8, 16, 17, 40] {
            let mut out = String::from(">");
            push_hex(&mut out, &bytes[..len]);
            let expected: String = bytes[..len].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(out, format!(">{expected}"), "{len} bytes");
        }
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_header_is_read_and_written_back() {
        let parent = extract(Some(VALID.as_bytes()), Some("congo=t61rcWkgMzE")).expect("valid");
        assert_eq!(parent.sampled, Some(true));
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
        assert_eq!(parent.sampled, Some(false));
    }

    #[test]
    fn b3_single_and_multi_are_read_and_written() {
        let single = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90";
        let parent = extract_b3(single).expect("valid");
        assert_eq!(parent.sampled, Some(true));
        assert_eq!(
            b3(parent.ids, true),
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
        );
        let deferred =
            extract_b3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1").expect("ids only");
        assert_eq!(deferred.sampled, None);
        assert_eq!(
            extract_b3("e457b5a2e4d86bd1-e457b5a2e4d86bd1-d")
                .expect("64-bit")
                .ids
                .trace_id[..8],
            [0; 8]
        );
        for bad in [
            "0",
            "80f198ee-e457b5a2e4d86bd1-1",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x",
            "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1",
        ] {
            assert_eq!(extract_b3(bad), None, "{bad}");
        }
        let multi = extract_b3_multi(
            Some("463ac35c9f6413ad48485a3953bb6124"),
            Some("a2fb4a1d1a96d312"),
            Some("0"),
            None,
        )
        .expect("valid");
        assert_eq!(multi.sampled, Some(false));
        let debug = extract_b3_multi(
            Some("463ac35c9f6413ad"),
            Some("a2fb4a1d1a96d312"),
            None,
            Some("1"),
        );
        assert_eq!(debug.expect("debug").sampled, Some(true));
        assert_eq!(
            extract_b3_multi(None, Some("a2fb4a1d1a96d312"), None, None),
            None
        );
    }
}
