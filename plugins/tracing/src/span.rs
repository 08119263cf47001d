//! Finished calls as OpenTelemetry spans, named and attributed by the
//! current semantic conventions: the 2025 RPC conventions (`rpc.system.name`,
//! `rpc.method` as `package.Service/Method`, `rpc.response.status_code` as
//! the code's name) and the stable HTTP conventions.
//!
//! Every call gets a SERVER span; each request the gateway sent upstream
//! gets a CLIENT span under it. A transcoded REST call carries both views
//! on its server span: the HTTP request and the gRPC method it became.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use protogate_core::{CallEvent, CallInfo, Code};

use crate::context::SpanIds;
use crate::otlp::{self, Kind, SpanHead, SpanWriter, Text};

/// Turns the `Instant`s a call recorded into wall-clock times.
pub struct Clock {
    now: Instant,
    wall_nanos: u64,
}

impl Clock {
    /// Reads both clocks once.
    pub fn now() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        Self {
            now: Instant::now(),
            wall_nanos: wall,
        }
    }

    /// The wall-clock time of `instant`, in nanoseconds since the epoch.
    pub fn nanos(&self, instant: Instant) -> u64 {
        let ago = self.now.saturating_duration_since(instant).as_nanos() as u64;
        self.wall_nanos.saturating_sub(ago)
    }

    /// Now, in nanoseconds since the epoch.
    pub fn now_nanos(&self) -> u64 {
        self.wall_nanos
    }
}

/// What one span needs besides the call.
pub struct SpanParts<'a> {
    /// The span's trace and id.
    pub ids: SpanIds,
    /// Its parent: the caller's span (remote) or the server span.
    pub parent: Option<([u8; 8], bool)>,
    /// The caller's `tracestate`.
    pub state: Option<&'a str>,
    /// When it started and ended, in nanoseconds since the epoch.
    pub start: u64,
    /// See `start`.
    pub end: u64,
    /// The call's events; those `pick` accepts go on this span.
    pub events: &'a [CallEvent],
    /// Which events belong on this span.
    pub pick: fn(&CallEvent) -> bool,
    /// Turns the events' times into wall-clock times.
    pub clock: &'a Clock,
}

impl SpanParts<'_> {
    fn head<'a>(&'a self, kind: Kind, name: Text<'a>) -> SpanHead<'a> {
        SpanHead {
            ids: self.ids,
            parent: self.parent,
            sampled: true,
            trace_state: self.state,
            kind,
            name,
            start: self.start,
            end: self.end,
        }
    }

    fn write_events(&self, span: &mut SpanWriter<'_>) {
        for event in self.events.iter().filter(|e| (self.pick)(e)) {
            span.event(event.name, self.clock.nanos(event.at), &event.attributes);
        }
    }
}

/// gRPC codes a server reports as errors (the RPC conventions: the others,
/// NOT_FOUND say, are the caller's business, not the server's failure).
fn server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The code's name as the conventions spell it (`DEADLINE_EXCEEDED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Canceled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `package.Service/Method` when the gateway knows the method (not the
/// `unknown` label every scanner's path shares). Computed once per call
/// for both of its spans.
pub fn known_method(call: &CallInfo) -> Option<[&str; 3]> {
    (&*call.grpc_service != "unknown").then(|| [&*call.grpc_service, "/", &*call.grpc_method])
}

/// Appends the SERVER span of a call to `out`.
pub fn server_span(
    out: &mut Vec<u8>,
    call: &CallInfo,
    rpc_method: Option<Text<'_>>,
    method: &http::Method,
    path: &str,
    parts: SpanParts<'_>,
) {
    let grpc = call.protocol.is_grpc();
    // HTTP spans are named `{method} {http.route}` when the route is known.
    let http_name;
    let name = match (rpc_method, grpc, &call.http_route) {
        (Some(rpc), true, _) => rpc,
        (_, true, _) => &["grpc"],
        (_, false, Some(route)) => {
            http_name = [method.as_str(), " ", route];
            &http_name
        }
        (_, false, None) => &[method.as_str()],
    };
    otlp::span(out, &parts.head(Kind::Server, name), |span| {
        let mut error_type: Option<ErrorType> = None;
        if let Some(route) = &call.route {
            span.str("protogate.route", route);
        }
        if let Some(ip) = call.client_addr {
            let mut text = String::with_capacity(15);
            protogate_core::ip::push_ip(&mut text, ip);
            span.str("client.address", &text);
        }
        if let Some(rpc) = rpc_method {
            span.str("rpc.system.name", "grpc");
            span.text("rpc.method", rpc);
            if let Some(code) = call.grpc_status {
                span.str("rpc.response.status_code", code_name(code));
                if grpc && server_error(code) {
                    error_type = Some(ErrorType::Code(code));
                }
            }
        }
        if !grpc {
            span.str("http.request.method", method.as_str());
            span.str("url.path", path);
            span.str("url.scheme", "http");
            if let Some(route) = &call.http_route {
                span.str("http.route", route);
            }
            if let Some(status) = call.http_status {
                span.int("http.response.status_code", i64::from(status));
                if status >= 500 {
                    error_type = Some(ErrorType::Status(status));
                }
            }
        }
        if let Some(error) = &call.error {
            span.str("protogate.error", &error.message);
        }
        parts.write_events(span);
        if let Some(kind) = error_type {
            kind.write(span);
        }
    });
}

/// How an upstream attempt ended.
pub enum Attempt<'a> {
    /// The last attempt: the call's outcome is its outcome.
    Final,
    /// The upstream never processed it and the call went on to the next
    /// target; the event says where and why.
    Retried(&'a CallEvent),
}

/// Appends a CLIENT span (one request the gateway sent upstream) to `out`.
pub fn client_span(
    out: &mut Vec<u8>,
    call: &CallInfo,
    rpc_method: Option<Text<'_>>,
    parts: SpanParts<'_>,
    attempt: Attempt<'_>,
) {
    let name = rpc_method.unwrap_or(&["upstream"]);
    otlp::span(out, &parts.head(Kind::Client, name), |span| {
        if let Some(upstream) = &call.upstream {
            span.str("protogate.upstream", upstream);
        }
        if let Some(rpc) = rpc_method {
            span.str("rpc.system.name", "grpc");
            span.text("rpc.method", rpc);
        }
        if let Attempt::Retried(retry) = attempt {
            parts.write_events(span);
            let reason = retry
                .attributes
                .iter()
                .find(|(key, _)| *key == "protogate.retry.reason")
                .map_or("", |(_, value)| value.as_str());
            span.str("error.type", "retried");
            span.error(reason);
            return;
        }
        let mut error_type = None;
        if let Some(code) = call.grpc_status {
            span.str("rpc.response.status_code", code_name(code));
            if code != Code::Ok {
                error_type = Some(ErrorType::Code(code));
            }
        } else if let Some(status) = call.http_status {
            span.int("http.response.status_code", i64::from(status));
            if status >= 400 {
                error_type = Some(ErrorType::Status(status));
            }
        }
        parts.write_events(span);
        if let Some(kind) = error_type {
            kind.write(span);
        }
    });
}

/// Why a span failed: `error.type` and the status message.
enum ErrorType {
    /// A gRPC code, by its name.
    Code(Code),
    /// An HTTP status, by its number.
    Status(u16),
}

impl ErrorType {
    fn write(&self, span: &mut SpanWriter<'_>) {
        match self {
            Self::Code(code) => {
                span.str("error.type", code_name(*code));
                span.error(code_name(*code));
            }
            Self::Status(status) => {
                let text = status.to_string();
                span.str("error.type", &text);
                span.error(&text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_follow_the_conventions() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::Canceled), "CANCELLED");
    }
}
