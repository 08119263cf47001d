//! What callers are told: the IETF `RateLimit` and `RateLimit-Policy`
//! fields (draft-ietf-httpapi-ratelimit-headers-10) on every answer, and a
//! refusal in the caller's protocol.
//!
//! A refused gRPC caller gets HTTP 200, trailers-only, RESOURCE_EXHAUSTED
//! (or UNAVAILABLE when configured), `grpc-retry-pushback-ms` (gRFC A6:
//! built-in retry policies wait that long) and `grpc-status-details-bin`
//! with `google.rpc.RetryInfo` and `google.rpc.QuotaFailure`. A REST
//! caller gets 429 with `Retry-After` and the same details as JSON.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use prost::Message;
use protogate_core::{Code, GatewayError};

use crate::config::Limit;
use crate::gcra::Decision;

/// `RateLimit-Policy`: the limits a route enforces.
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`: where the caller stands against each limit.
pub const STATE: HeaderName = HeaderName::from_static("ratelimit");
/// gRFC A6's pushback, in milliseconds.
const PUSHBACK: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// `"10-per-1s";q=10;w=1, "1000-per-1h";q=1000;w=3600`: built at load.
pub fn policy_value(limits: &[Limit]) -> Option<HeaderValue> {
    let items: Vec<String> = limits
        .iter()
        .map(|limit| {
            let window = limit.per.as_secs_f64().ceil().max(1.0);
            format!("\"{}\";q={};w={window}", limit.name, limit.requests)
        })
        .collect();
    HeaderValue::from_str(&items.join(", ")).ok()
}

/// `"10-per-1s";r=4;t=1, ...`: calls left right now, and whole seconds
/// until the budget is full again, per limit. Written without `fmt` (it is
/// on every answer). Left indexable: HPACK's table reuses values that
/// repeat, and with unique values indexing still measured cheaper than
/// never-indexed literals (bench/instructions.sh).
pub fn state_value(
    limits: &[Limit],
    decision: &Decision,
    ticks_per_second: u64,
) -> Option<HeaderValue> {
    let mut out = Vec::with_capacity(32 * decision.len);
    for (index, limit) in limits.iter().enumerate().take(decision.len) {
        if index > 0 {
            out.extend_from_slice(b", ");
        }
        let reset = decision.reset[index].div_ceil(ticks_per_second.max(1));
        out.push(b'"');
        out.extend_from_slice(limit.name.as_bytes());
        out.extend_from_slice(b"\";r=");
        push_decimal(&mut out, decision.remaining[index]);
        out.extend_from_slice(b";t=");
        push_decimal(&mut out, reset);
    }
    HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The refusal of a call one or more limits refused.
pub fn refusal(
    code: Code,
    limits: &[Limit],
    decision: &Decision,
    ticks_per_second: u64,
    headers: Option<(&HeaderValue, HeaderValue)>,
) -> GatewayError {
    let wait = Duration::from_nanos(
        u64::try_from(
            u128::from(decision.retry_after) * 1_000_000_000 / u128::from(ticks_per_second.max(1)),
        )
        .unwrap_or(u64::MAX),
    );
    let names: Vec<&str> = limits
        .iter()
        .take(decision.len)
        .enumerate()
        .filter(|(i, _)| decision.refused[*i])
        .map(|(_, l)| l.name.as_str())
        .collect();
    let message = format!(
        "rate limit exceeded ({}); retry in {:.3}s",
        names.join(", "),
        wait.as_secs_f64()
    );
    let violations = names
        .iter()
        .map(|name| {
            (
                name.to_string(),
                format!("the `{name}` budget of this caller is used up"),
            )
        })
        .collect();
    let mut error = refused(code, message, wait, violations);
    if let Some((policy, state)) = headers {
        error = error
            .with_header(POLICY, policy.clone())
            .with_header(STATE, state);
    }
    error
}

/// The refusal of a call over the concurrency limit.
pub fn too_many_in_flight(code: Code, max: u32) -> GatewayError {
    let message = format!("too many calls in flight for this caller (at most {max})");
    let violation = (
        "concurrency".to_owned(),
        format!("at most {max} calls or streams in flight"),
    );
    refused(code, message, Duration::from_secs(1), vec![violation])
}

/// The refusal of a call whose shared budget could not be read
/// (`on_error: deny`): 503 for REST callers, the route's code for gRPC.
pub fn store_down(code: Code, wait: Duration, why: &str) -> GatewayError {
    let message = format!("the rate limit could not be checked ({why}); refused (on_error: deny)");
    let mut error = refused(code, message, wait, Vec::new());
    error.http_status = Some(503);
    error
}

fn refused(
    code: Code,
    message: String,
    wait: Duration,
    violations: Vec<(String, String)>,
) -> GatewayError {
    let retry_after_seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    // Rounded up: a client that waits exactly this long finds room.
    let pushback_ms = u64::try_from(wait.as_nanos().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .max(1);
    let details = status_details(code, &message, wait, &violations);
    let json_details = json_details(wait, &violations);
    let mut error = GatewayError::new(code, message)
        .with_http_status(429)
        .with_header(
            http::header::RETRY_AFTER,
            HeaderValue::from(retry_after_seconds),
        )
        .with_header(PUSHBACK, HeaderValue::from(pushback_ms));
    error.details = Some(details.into());
    error.json_details = json_details;
    error
}

/// `google.rpc.Status` with a `RetryInfo` and, when a limit is named, a
/// `QuotaFailure`.
fn status_details(
    code: Code,
    message: &str,
    wait: Duration,
    violations: &[(String, String)],
) -> Vec<u8> {
    let mut details = vec![Any {
        type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
        value: RetryInfo {
            retry_delay: Some(ProtoDuration::from(wait)),
        }
        .encode_to_vec(),
    }];
    if !violations.is_empty() {
        details.push(Any {
            type_url: "type.googleapis.com/google.rpc.QuotaFailure".into(),
            value: QuotaFailure {
                violations: violations
                    .iter()
                    .map(|(subject, description)| Violation {
                        subject: subject.clone(),
                        description: description.clone(),
                    })
                    .collect(),
            }
            .encode_to_vec(),
        });
    }
    Status {
        code: i32::from(code.as_u8()),
        message: message.to_owned(),
        details,
    }
    .encode_to_vec()
}

/// The details in proto3 JSON, as the transcoder prints an upstream's.
fn json_details(wait: Duration, violations: &[(String, String)]) -> Vec<serde_json::Value> {
    let mut details = vec![serde_json::json!({
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": format!("{:.3}s", wait.as_secs_f64()),
    })];
    if !violations.is_empty() {
        let violations: Vec<_> = violations
            .iter()
            .map(|(subject, description)| {
                serde_json::json!({ "subject": subject, "description": description })
            })
            .collect();
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": violations,
        }));
    }
    details
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    /// The gRPC code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// The message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Typed details.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct Any {
    /// `type.googleapis.com/<full name>`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The encoded message.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    /// How long to wait.
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// The rest, in nanoseconds.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl From<Duration> for ProtoDuration {
    fn from(duration: Duration) -> Self {
        Self {
            seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
        }
    }
}

/// `google.rpc.QuotaFailure`.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaFailure {
    /// What was exceeded.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<Violation>,
}

/// `google.rpc.QuotaFailure.Violation`.
#[derive(Clone, PartialEq, Message)]
pub struct Violation {
    /// The limit's name.
    #[prost(string, tag = "1")]
    pub subject: String,
    /// Why.
    #[prost(string, tag = "2")]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcra::{check, Cell};

    fn limits() -> Vec<Limit> {
        vec![
            Limit {
                name: "10-per-1s".into(),
                requests: 10,
                per: Duration::from_secs(1),
                burst: 2,
            },
            Limit {
                name: "1000-per-1h".into(),
                requests: 1000,
                per: Duration::from_secs(3600),
                burst: 1000,
            },
        ]
    }

    #[test]
    fn decimals_are_written_whole() {
        for n in [0, 7, 10, 999, 3600, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn policy_and_state_follow_the_draft() {
        let limits = limits();
        assert_eq!(
            policy_value(&limits).expect("value"),
            "\"10-per-1s\";q=10;w=1, \"1000-per-1h\";q=1000;w=3600"
        );
        let cells = [Cell::new(100, 2), Cell::new(3_600_000, 1000)];
        let mut tats = [0, 0];
        let decision = check(&cells, &mut tats, 1000);
        assert_eq!(
            state_value(&limits, &decision, 1000).expect("value"),
            "\"10-per-1s\";r=1;t=1, \"1000-per-1h\";r=999;t=3600"
        );
    }

    #[test]
    fn a_refusal_carries_pushback_retry_after_and_decodable_details() {
        let limits = limits();
        let cells = [Cell::new(100, 2), Cell::new(3_600_000, 1000)];
        let mut tats = [0, 0];
        check(&cells, &mut tats, 1000);
        check(&cells, &mut tats, 1000);
        let decision = check(&cells, &mut tats, 1000);
        assert!(!decision.allowed);
        let error = refusal(Code::ResourceExhausted, &limits, &decision, 1000, None);
        assert_eq!(error.http_status(), 429);
        let header = |name: &str| {
            error
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .expect(name)
        };
        assert_eq!(header("retry-after"), "1");
        assert_eq!(header("grpc-retry-pushback-ms"), "100");
        let status = Status::decode(error.details.clone().expect("details")).expect("status");
        assert_eq!(status.code, 8);
        assert_eq!(status.details.len(), 2);
        let retry = RetryInfo::decode(status.details[0].value.as_slice()).expect("retry");
        assert_eq!(
            retry.retry_delay,
            Some(ProtoDuration {
                seconds: 0,
                nanos: 100_000_000
            })
        );
        let quota = QuotaFailure::decode(status.details[1].value.as_slice()).expect("quota");
        assert_eq!(quota.violations[0].subject, "10-per-1s");
        assert_eq!(error.json_details[0]["retryDelay"], "0.100s");
    }
}
