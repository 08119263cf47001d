//! Finished calls as OpenTelemetry spans, named and attributed by the
//! current semantic conventions: the 2025 RPC conventions (`rpc.system.name`,
//! `rpc.method` as `package.Service/Method`, `rpc.response.status_code` as
//! the code's name) and the stable HTTP conventions.
//!
//! Every call gets a SERVER span; each request the gateway sent upstream
//! gets a CLIENT span under it. A transcoded REST call carries both views
//! on its server span: the HTTP request and the gRPC method it became.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use protogate_core::{CallInfo, Code};

use crate::context::SpanIds;

/// Turns the `Instant`s a call recorded into wall-clock times.
pub struct Clock {
    now: Instant,
    wall: SystemTime,
}

impl Clock {
    /// Reads both clocks once.
    pub fn now() -> Self {
        Self {
            now: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The wall-clock time of `instant`.
    pub fn wall(&self, instant: Instant) -> SystemTime {
        self.wall - self.now.saturating_duration_since(instant)
    }

    /// Now, on the wall clock.
    pub fn wall_now(&self) -> SystemTime {
        self.wall
    }
}

/// What one span needs besides the call.
pub struct SpanParts<'a> {
    /// The span's trace and id.
    pub ids: SpanIds,
    /// Its parent: the caller's span (remote) or the server span.
    pub parent: Option<([u8; 8], bool)>,
    /// Whether the trace is sampled (the flag sent on).
    pub sampled: bool,
    /// The caller's `tracestate`.
    pub state: Option<&'a str>,
    /// When it started and ended.
    pub start: SystemTime,
    /// See `start`.
    pub end: SystemTime,
    /// Its events (a rate-limit refusal, a retry).
    pub events: Vec<Event>,
}

/// The call's events named `pick` (or all but those), as span events.
pub fn events(call: &CallInfo, clock: &Clock, pick: impl Fn(&str) -> bool) -> Vec<Event> {
    call.events
        .iter()
        .filter(|e| pick(e.name))
        .map(|e| {
            let attributes = e
                .attributes
                .iter()
                .map(|(k, v)| KeyValue::new(*k, v.clone()))
                .collect();
            Event::new(e.name, clock.wall(e.at), attributes, 0)
        })
        .collect()
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
pub fn known_method(call: &CallInfo) -> Option<String> {
    (&*call.grpc_service != "unknown")
        .then(|| format!("{}/{}", call.grpc_service, call.grpc_method))
}

/// The SERVER span of a call.
pub fn server_span(
    call: &CallInfo,
    rpc_method: Option<&str>,
    method: &http::Method,
    path: &str,
    parts: SpanParts<'_>,
) -> SpanData {
    let mut attributes = Vec::with_capacity(12);
    let grpc = call.protocol.is_grpc();
    let mut failed = false;
    let mut error_type: Option<Cow<'static, str>> = None;
    if let Some(route) = &call.route {
        attributes.push(KeyValue::new("protogate.route", Arc::clone(route)));
    }
    if let Some(ip) = call.client_addr {
        let mut text = String::with_capacity(15);
        protogate_core::ip::push_ip(&mut text, ip);
        attributes.push(KeyValue::new("client.address", text));
    }
    if let Some(rpc) = rpc_method {
        attributes.push(KeyValue::new("rpc.system.name", "grpc"));
        attributes.push(KeyValue::new("rpc.method", rpc.to_owned()));
        if let Some(code) = call.grpc_status {
            attributes.push(KeyValue::new("rpc.response.status_code", code_name(code)));
            if grpc && server_error(code) {
                failed = true;
                error_type = Some(Cow::Borrowed(code_name(code)));
            }
        }
    }
    if !grpc {
        attributes.push(KeyValue::new(
            "http.request.method",
            method.as_str().to_owned(),
        ));
        attributes.push(KeyValue::new("url.path", path.to_owned()));
        attributes.push(KeyValue::new("url.scheme", "http"));
        if let Some(status) = call.http_status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            if status >= 500 {
                failed = true;
                error_type = Some(Cow::Owned(status.to_string()));
            }
        }
    }
    if let Some(error) = &call.error {
        attributes.push(KeyValue::new("protogate.error", error.message.to_string()));
    }
    if let Some(kind) = &error_type {
        attributes.push(KeyValue::new("error.type", kind.clone()));
    }
    let name = match (rpc_method, grpc) {
        (Some(rpc), true) => rpc.to_owned(),
        (_, true) => "grpc".to_owned(),
        (_, false) => method.as_str().to_owned(),
    };
    let status = if failed {
        Status::error(error_type.unwrap_or(Cow::Borrowed("")))
    } else {
        Status::Unset
    };
    span(SpanKind::Server, name, attributes, status, parts)
}

/// A CLIENT span: one request the gateway sent to the upstream.
pub fn client_span(call: &CallInfo, rpc_method: Option<&str>, parts: SpanParts<'_>) -> SpanData {
    let mut attributes = Vec::with_capacity(6);
    let mut status = Status::Unset;
    if let Some(upstream) = &call.upstream {
        attributes.push(KeyValue::new("protogate.upstream", Arc::clone(upstream)));
    }
    if let Some(rpc) = rpc_method {
        attributes.push(KeyValue::new("rpc.system.name", "grpc"));
        attributes.push(KeyValue::new("rpc.method", rpc.to_owned()));
    }
    if let Some(code) = call.grpc_status {
        attributes.push(KeyValue::new("rpc.response.status_code", code_name(code)));
        if code != Code::Ok {
            attributes.push(KeyValue::new("error.type", code_name(code)));
            status = Status::error(code_name(code));
        }
    } else if let Some(status_code) = call.http_status {
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(status_code),
        ));
        if status_code >= 400 {
            attributes.push(KeyValue::new("error.type", status_code.to_string()));
            status = Status::error(status_code.to_string());
        }
    }
    let name = rpc_method.unwrap_or("upstream").to_owned();
    span(SpanKind::Client, name, attributes, status, parts)
}

fn span(
    kind: SpanKind,
    name: String,
    attributes: Vec<KeyValue>,
    status: Status,
    parts: SpanParts<'_>,
) -> SpanData {
    let flags = if parts.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let state = parts
        .state
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let (parent, remote) = parts
        .parent
        .map_or((SpanId::INVALID, false), |(id, remote)| {
            (SpanId::from_bytes(id), remote)
        });
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(parts.ids.trace_id),
            SpanId::from_bytes(parts.ids.span_id),
            flags,
            false,
            state,
        ),
        parent_span_id: parent,
        parent_span_is_remote: remote,
        span_kind: kind,
        name: Cow::Owned(name),
        start_time: parts.start,
        end_time: parts.end,
        attributes,
        dropped_attributes_count: 0,
        events: {
            let mut events = SpanEvents::default();
            events.events = parts.events;
            events
        },
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::builder("protogate")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
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
