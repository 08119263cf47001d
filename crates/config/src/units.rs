//! Durations (`250ms`, `1h30m`), timeouts (`off` or a duration) and byte
//! sizes (`64KiB`, `10kB`): the human units the config is written in.

use std::fmt;
use std::time::Duration;

use crate::decode::Decode;
use crate::decoder::Decoder;
use crate::node::{Node, Value};
use crate::path::YamlPath;

/// Duration units, largest first, with their length in nanoseconds.
pub(crate) const DURATION_UNITS: &[(&str, u128)] = &[
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("ns", 1),
];

/// Parses a duration: one or more `<number><unit>` parts, units from `h`,
/// `m`, `s`, `ms`, `us`, `ns`, largest first (`1h30m`, `1.5s`, `250ms`).
///
/// A bare number is refused: `30` could mean seconds or milliseconds, and a
/// config that guesses wrong fails at 3 a.m.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(
            "expected a duration such as `250ms`, `30s`, `5m` or `1h30m`, found an empty string"
                .to_owned(),
        );
    }
    let mut rest = s;
    let mut total: u128 = 0;
    let mut last_rank: Option<usize> = None;
    while !rest.is_empty() {
        let (whole, fraction, after) = split_number(rest).ok_or_else(|| {
            format!("`{s}` is not a duration; write it like `250ms`, `30s`, `5m` or `1h30m`")
        })?;
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let unit = &after[..unit_len];
        if unit.is_empty() {
            return Err(if last_rank.is_none() {
                format!("`{s}` has no unit; write `{s}s` for seconds or `{s}ms` for milliseconds")
            } else {
                format!("`{s}` ends with a number without a unit")
            });
        }
        let Some(rank) = DURATION_UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown duration unit `{unit}` in `{s}`; use h, m, s, ms, us or ns"
            ));
        };
        if last_rank.is_some_and(|r| r >= rank) {
            return Err(format!(
                "`{s}`: units must go from largest to smallest, each once (like `1h30m`)"
            ));
        }
        last_rank = Some(rank);
        let nanos = DURATION_UNITS[rank].1;
        total = total
            .checked_add(scale(whole, fraction, nanos).ok_or_else(|| too_long(s))?)
            .ok_or_else(|| too_long(s))?;
        rest = after[unit_len..].trim_start();
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| too_long(s))?;
    let sub = u32::try_from(total % 1_000_000_000).map_err(|_| too_long(s))?;
    Ok(Duration::new(secs, sub))
}

fn too_long(s: &str) -> String {
    format!("`{s}` is too long a duration")
}

/// Splits `12.5rest` into ("12", "5", "rest"). `None` when there is no
/// leading digit.
fn split_number(s: &str) -> Option<(&str, &str, &str)> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let (whole, rest) = s.split_at(digits);
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        if frac == 0 {
            return None;
        }
        Some((whole, &after_dot[..frac], &after_dot[frac..]))
    } else {
        Some((whole, "", rest))
    }
}

/// `whole.fraction * unit`, exactly, rounded down to a whole `unit / 10^n`
/// step. `None` on overflow.
fn scale(whole: &str, fraction: &str, unit: u128) -> Option<u128> {
    let whole: u128 = whole.parse().ok()?;
    let mut total = whole.checked_mul(unit)?;
    let mut step = unit;
    for digit in fraction.chars().take(30) {
        step /= 10;
        if step == 0 {
            break;
        }
        let d = u128::from(digit.to_digit(10)?);
        total = total.checked_add(d * step)?;
    }
    Some(total)
}

/// `250ms`, `30s`, `1h30m`, ... (see [`parse_duration`]).
impl Decode for Duration {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::String(s) => match parse_duration(s) {
                Ok(v) => Some(v),
                Err(message) => {
                    d.error(node.span, path, message);
                    None
                }
            },
            Value::Int(_) | Value::Float(_) => {
                let n = node.scalar_text().unwrap_or_default();
                d.error(
                    node.span,
                    path,
                    format!("a duration needs a unit: write `{n}s` for seconds or `{n}ms` for milliseconds"),
                );
                None
            }
            _ => {
                d.expected(node, path, "a duration such as `250ms`, `30s` or `5m`");
                None
            }
        }
    }
}

/// A time limit that can be switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// `off`: no limit (long-lived streams).
    Off,
    /// A limit.
    After(Duration),
}

impl Timeout {
    /// The limit, `None` when off.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Timeout::Off => None,
            Timeout::After(d) => Some(d),
        }
    }
}

/// `off` or a duration.
impl Decode for Timeout {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::String(s) if s == "off" => Some(Timeout::Off),
            Value::Bool(false) => {
                d.error(node.span, path, "write `off` to disable a timeout");
                None
            }
            Value::String(_) | Value::Int(_) | Value::Float(_) => {
                let limit = Duration::decode(node, path, d)?;
                if limit.is_zero() {
                    d.error(
                        node.span,
                        path,
                        "a zero timeout fails every call; write `off` for no limit",
                    );
                    return None;
                }
                Some(Timeout::After(limit))
            }
            _ => {
                d.expected(node, path, "`off` or a duration such as `30s`");
                None
            }
        }
    }
}

/// A number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

/// Size units: binary (KiB = 1024) and decimal (kB = 1000).
pub(crate) const SIZE_UNITS: &[(&str, u128)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("kB", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

/// Parses a size: a number and a unit (`64KiB`, `4MiB`, `1.5GiB`, `512B`,
/// `10kB` = 10 000 bytes) or a bare number of bytes. A fraction rounds down
/// to a whole byte.
pub fn parse_byte_size(text: &str) -> Result<ByteSize, String> {
    let s = text.trim();
    let example = "write it like `512B`, `64KiB`, `4MiB` or `10kB`";
    let (whole, fraction, rest) =
        split_number(s).ok_or_else(|| format!("`{s}` is not a size; {example}"))?;
    let unit = rest.trim_start();
    let multiplier = if unit.is_empty() {
        1
    } else {
        match SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, m)) => *m,
            None => {
                let hint = match unit.to_ascii_lowercase().as_str() {
                    "k" | "kb" | "kib" => "; did you mean `KiB` (1024) or `kB` (1000)?",
                    "m" | "mb" | "mib" => "; did you mean `MiB` or `MB`?",
                    "g" | "gb" | "gib" => "; did you mean `GiB` or `GB`?",
                    _ => "",
                };
                return Err(format!(
                    "unknown size unit `{unit}` in `{s}`; use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB{hint}"
                ));
            }
        }
    };
    let bytes = scale(whole, fraction, multiplier * 1_000_000_000_000)
        .map(|scaled| scaled / 1_000_000_000_000)
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(|| format!("`{s}` is too large"))?;
    Ok(ByteSize(bytes))
}

/// `64KiB`, `4MiB`, ... or a bare integer of bytes (see [`parse_byte_size`]).
impl Decode for ByteSize {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::Int(_) => u64::decode(node, path, d).map(ByteSize),
            Value::String(s) => match parse_byte_size(s) {
                Ok(v) => Some(v),
                Err(message) => {
                    d.error(node.span, path, message);
                    None
                }
            },
            _ => {
                d.expected(node, path, "a size such as `64KiB` or `4MiB`");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Span;
    use std::path::PathBuf;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("5m"), Ok(ms(300_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration("0.25ms"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2m 30s"), Ok(ms(150_000)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_durations_with_a_reason() {
        assert_eq!(
            parse_duration("30"),
            Err("`30` has no unit; write `30s` for seconds or `30ms` for milliseconds".to_owned())
        );
        assert_eq!(
            parse_duration("30sec"),
            Err("unknown duration unit `sec` in `30sec`; use h, m, s, ms, us or ns".to_owned())
        );
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("1s1s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
    }

    #[test]
    fn parses_byte_sizes() {
        assert_eq!(parse_byte_size("64KiB"), Ok(ByteSize(65_536)));
        assert_eq!(parse_byte_size("4MiB"), Ok(ByteSize(4 << 20)));
        assert_eq!(parse_byte_size("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(parse_byte_size("512B"), Ok(ByteSize(512)));
        assert_eq!(parse_byte_size("10kB"), Ok(ByteSize(10_000)));
        assert_eq!(parse_byte_size("1.5KiB"), Ok(ByteSize(1_536)));
        assert_eq!(parse_byte_size("4 MiB"), Ok(ByteSize(4 << 20)));
        assert_eq!(parse_byte_size("100"), Ok(ByteSize(100)));
    }

    #[test]
    fn rejects_bad_sizes_with_a_hint() {
        assert_eq!(
            parse_byte_size("4M"),
            Err("unknown size unit `M` in `4M`; use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB; did you mean `MiB` or `MB`?".to_owned())
        );
        assert!(parse_byte_size("lots").is_err());
        assert!(parse_byte_size("99999999999TiB").is_err());
    }

    fn decode<T: Decode>(value: Value) -> Result<T, String> {
        let mut d = Decoder::new(PathBuf::from("t.yaml"));
        let node = Node::new(value, Span::new(1, 1));
        let v = T::decode(&node, &YamlPath::root().key("v"), &mut d);
        d.finish(v).map_err(|e| e.to_string())
    }

    #[test]
    fn decodes_durations_and_refuses_bare_numbers() {
        assert_eq!(
            decode::<Duration>(Value::String("1s".into())),
            Ok(ms(1_000))
        );
        assert_eq!(
            decode::<Duration>(Value::Int(30)),
            Err("t.yaml:1:1: v: a duration needs a unit: write `30s` for seconds or `30ms` for milliseconds".to_owned())
        );
    }

    #[test]
    fn decodes_timeouts() {
        assert_eq!(
            decode::<Timeout>(Value::String("off".into())),
            Ok(Timeout::Off)
        );
        assert_eq!(
            decode::<Timeout>(Value::String("30s".into())),
            Ok(Timeout::After(ms(30_000)))
        );
        assert_eq!(Timeout::After(ms(5)).duration(), Some(ms(5)));
        assert_eq!(Timeout::Off.duration(), None);
        assert!(decode::<Timeout>(Value::Bool(false)).is_err());
        assert!(decode::<Timeout>(Value::String("never".into())).is_err());
        assert!(decode::<Timeout>(Value::String("0s".into())).is_err());
    }

    #[test]
    fn decodes_sizes_from_integers_and_strings() {
        assert_eq!(decode::<ByteSize>(Value::Int(1024)), Ok(ByteSize(1024)));
        assert_eq!(
            decode::<ByteSize>(Value::String("2KiB".into())),
            Ok(ByteSize(2048))
        );
        assert!(decode::<ByteSize>(Value::Int(-1)).is_err());
        assert!(decode::<ByteSize>(Value::Float(1.5)).is_err());
    }
}
