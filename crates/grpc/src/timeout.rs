//! The `grpc-timeout` request header.
//!
//! Format (gRPC HTTP/2 spec): 1 to 8 ASCII digits followed by one unit,
//! `H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds,
//! `n` nanoseconds. The gateway parses it on each request to bound the
//! upstream call, and encodes the remaining budget when it forwards the call
//! after spending some of it (routing, auth, retries).

use std::fmt;
use std::time::Duration;

use http::HeaderValue;

/// Largest value the 8-digit field can carry.
pub const MAX_VALUE: u64 = 99_999_999;

/// The longest timeout the header can express: `99999999H`, about 11,400
/// years. Longer durations are encoded as this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(MAX_VALUE * 3600);

/// Why a `grpc-timeout` value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TimeoutError {
    /// The value was empty.
    #[error("empty grpc-timeout")]
    Empty,
    /// No digits before the unit.
    #[error("grpc-timeout has no digits")]
    MissingDigits,
    /// More than 8 digits.
    #[error("grpc-timeout has more than 8 digits")]
    TooManyDigits,
    /// A byte that is neither a digit nor, in last position, a unit.
    #[error("invalid byte {0:#04x} in grpc-timeout")]
    InvalidByte(u8),
    /// The last byte is not one of `H M S m u n`.
    #[error("invalid grpc-timeout unit {0:#04x} (expected one of H M S m u n)")]
    InvalidUnit(u8),
}

/// Parses a `grpc-timeout` header value. Strict: no whitespace, no sign, no
/// more than 8 digits.
pub fn parse_grpc_timeout(value: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = value.split_last() else {
        return Err(TimeoutError::Empty);
    };
    // Nanoseconds per unit.
    let unit_nanos: u64 = match unit {
        b'H' => 3_600_000_000_000,
        b'M' => 60_000_000_000,
        b'S' => 1_000_000_000,
        b'm' => 1_000_000,
        b'u' => 1_000,
        b'n' => 1,
        other => return Err(TimeoutError::InvalidUnit(other)),
    };
    if digits.is_empty() {
        return Err(TimeoutError::MissingDigits);
    }
    if digits.len() > 8 {
        return Err(TimeoutError::TooManyDigits);
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(TimeoutError::InvalidByte(b));
        }
        n = n * 10 + u64::from(b - b'0');
    }
    // n * unit_nanos can reach 3.6e20 (hours), past u64: split into whole
    // seconds and sub-second nanoseconds, neither of which can overflow.
    let secs = n * (unit_nanos / 1_000_000_000);
    let nanos = n * (unit_nanos % 1_000_000_000);
    Ok(Duration::from_secs(secs) + Duration::from_nanos(nanos))
}

/// A `grpc-timeout` value formatted on the stack (at most 9 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodedTimeout {
    buf: [u8; 9],
    len: u8,
}

impl EncodedTimeout {
    /// The header text, e.g. `"1500m"`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and a unit letter are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or("0n")
    }

    /// The header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// The value as a header value. `HeaderValue` keeps its own copy of the
    /// (at most 9) bytes; use [`as_bytes`](Self::as_bytes) with an API that
    /// takes a borrowed value to avoid that.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(self.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static("0n"))
    }
}

impl fmt::Display for EncodedTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EncodedTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodedTimeout({:?})", self.as_str())
    }
}

/// Units from finest to coarsest, with their length in nanoseconds.
const UNITS: [(u8, u128); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60_000_000_000),
    (b'H', 3_600_000_000_000),
];

/// Formats `timeout` for the `grpc-timeout` header without allocating.
///
/// Picks the finest unit whose value fits in 8 digits and rounds *down*, so
/// a forwarded budget never grows; a non-zero duration never becomes `0`
/// (the finest unit, nanoseconds, is exact for anything under 0.1 s, so at
/// least `1n` comes out). Zero is `0n`. Durations beyond [`MAX_TIMEOUT`] are
/// capped at `99999999H`.
pub fn format_grpc_timeout(timeout: Duration) -> EncodedTimeout {
    let nanos = timeout.as_nanos();
    let (mut value, mut unit) = (MAX_VALUE, b'H');
    for (u, unit_nanos) in UNITS {
        let v = nanos / unit_nanos;
        if v <= u128::from(MAX_VALUE) {
            // v fits in 8 digits, hence in u64.
            value = v as u64;
            unit = u;
            break;
        }
    }
    let mut digits = [0u8; 8];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let n = digits.len() - i;
    let mut buf = [0u8; 9];
    buf[..n].copy_from_slice(&digits[i..]);
    buf[n] = unit;
    EncodedTimeout {
        buf,
        len: (n + 1) as u8,
    }
}

/// Formats `timeout` for the `grpc-timeout` header as a `String`; see
/// [`format_grpc_timeout`] for the rules and an allocation-free variant.
pub fn encode_grpc_timeout(timeout: Duration) -> String {
    format_grpc_timeout(timeout).as_str().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_each_unit() {
        assert_eq!(parse_grpc_timeout(b"2H"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout(b"3M"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout(b"4S"), Ok(Duration::from_secs(4)));
        assert_eq!(parse_grpc_timeout(b"5m"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_grpc_timeout(b"6u"), Ok(Duration::from_micros(6)));
        assert_eq!(parse_grpc_timeout(b"7n"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_grpc_timeout(b"0S"), Ok(Duration::ZERO));
        assert_eq!(
            parse_grpc_timeout(b"00000010m"),
            Ok(Duration::from_millis(10))
        );
    }

    #[test]
    fn parse_limits() {
        assert_eq!(parse_grpc_timeout(b"99999999H"), Ok(MAX_TIMEOUT));
        assert_eq!(
            parse_grpc_timeout(b"99999999n"),
            Ok(Duration::from_nanos(99_999_999))
        );
        assert_eq!(
            parse_grpc_timeout(b"100000000n"),
            Err(TimeoutError::TooManyDigits)
        );
        assert_eq!(
            parse_grpc_timeout(b"000000001S"),
            Err(TimeoutError::TooManyDigits)
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(parse_grpc_timeout(b""), Err(TimeoutError::Empty));
        assert_eq!(parse_grpc_timeout(b"S"), Err(TimeoutError::MissingDigits));
        assert_eq!(
            parse_grpc_timeout(b"5"),
            Err(TimeoutError::InvalidUnit(b'5'))
        );
        assert_eq!(
            parse_grpc_timeout(b"10"),
            Err(TimeoutError::InvalidUnit(b'0'))
        );
        assert_eq!(
            parse_grpc_timeout(b"10s"),
            Err(TimeoutError::InvalidUnit(b's'))
        );
        assert_eq!(
            parse_grpc_timeout(b"10h"),
            Err(TimeoutError::InvalidUnit(b'h'))
        );
        assert_eq!(
            parse_grpc_timeout(b"1 S"),
            Err(TimeoutError::InvalidByte(b' '))
        );
        assert_eq!(
            parse_grpc_timeout(b" 1S"),
            Err(TimeoutError::InvalidByte(b' '))
        );
        assert_eq!(
            parse_grpc_timeout(b"1S "),
            Err(TimeoutError::InvalidUnit(b' '))
        );
        assert_eq!(
            parse_grpc_timeout(b"-1S"),
            Err(TimeoutError::InvalidByte(b'-'))
        );
        assert_eq!(
            parse_grpc_timeout(b"1.5S"),
            Err(TimeoutError::InvalidByte(b'.'))
        );
        assert_eq!(
            parse_grpc_timeout(b"1mS"),
            Err(TimeoutError::InvalidByte(b'm'))
        );
        assert_eq!(
            parse_grpc_timeout("1\u{b5}".as_bytes()),
            Err(TimeoutError::InvalidUnit(0xb5))
        );
        assert_eq!(
            parse_grpc_timeout("\u{b5}1S".as_bytes()),
            Err(TimeoutError::InvalidByte(0xc2))
        );
    }

    #[test]
    fn encode_picks_finest_unit_that_fits() {
        let cases: [(Duration, &str); 13] = [
            (Duration::ZERO, "0n"),
            (Duration::from_nanos(1), "1n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_nanos(100_000_000), "100000u"),
            (Duration::from_millis(250), "250000u"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_secs(30), "30000000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666666M"),
            (Duration::from_secs(99_999_999 * 60), "99999999M"),
            (Duration::from_secs(99_999_999 * 60 + 60), "1666666H"),
            (MAX_TIMEOUT, "99999999H"),
        ];
        for (d, want) in cases {
            assert_eq!(encode_grpc_timeout(d), want, "{d:?}");
            assert_eq!(format_grpc_timeout(d).as_str(), want);
        }
    }

    #[test]
    fn encode_rounds_down() {
        // 100 s + 1 ns: only milliseconds fit; the extra nanosecond is dropped.
        let d = Duration::new(100, 1);
        assert_eq!(encode_grpc_timeout(d), "100000m");
        assert!(parse_grpc_timeout(b"100000m").unwrap() <= d);
        // 99999999.999 s: seconds fit, the fraction is dropped.
        assert_eq!(
            encode_grpc_timeout(Duration::new(99_999_999, 999_000_000)),
            "99999999S"
        );
    }

    #[test]
    fn encode_caps_huge_durations() {
        assert_eq!(
            encode_grpc_timeout(MAX_TIMEOUT + Duration::from_secs(3600)),
            "99999999H"
        );
        assert_eq!(encode_grpc_timeout(Duration::MAX), "99999999H");
    }

    #[test]
    fn encode_never_enlarges_and_round_trips() {
        let mut d = Duration::from_nanos(1);
        while d < Duration::from_secs(10_000_000_000) {
            let enc = format_grpc_timeout(d);
            assert!(enc.as_bytes().len() <= 9);
            let back = parse_grpc_timeout(enc.as_bytes()).unwrap();
            assert!(back <= d, "{d:?} -> {enc} -> {back:?}");
            assert!(back > Duration::ZERO);
            // Less than one unit is lost, and the chosen unit is at most
            // 1/100,000 of the duration.
            assert!(d - back <= d / 100_000, "{d:?} -> {enc}");
            assert_eq!(enc.to_header_value(), enc.as_str());
            d = d * 7 + Duration::from_nanos(3);
        }
    }

    #[test]
    fn encoded_timeout_debug_and_display() {
        let e = format_grpc_timeout(Duration::from_millis(1500));
        assert_eq!(e.to_string(), "1500000u");
        assert_eq!(format!("{e:?}"), "EncodedTimeout(\"1500000u\")");
    }
}
