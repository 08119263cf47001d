//! OTLP trace messages (`opentelemetry.proto.trace.v1`), encoded straight
//! from what a call recorded, sans IO.
//!
//! A call's spans are written once, on the request path, as entries of
//! `ScopeSpans.spans`; the export thread only puts the batch's entries
//! together under one resource and one scope ([`Envelope`]). No span
//! object is built, converted, grouped or sized twice: through the
//! OpenTelemetry SDK's types and their conversion to protobuf, the same
//! spans cost about 11,000 instructions per call (`bench/instructions.sh`),
//! an eighth of everything else the gateway does for a unary call.
//!
//! The output is checked against the OpenTelemetry project's own
//! generated types (`opentelemetry-proto`) in the tests.

use crate::context::SpanIds;
use crate::wire;

/// `Span.kind` values used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The gateway answering its caller.
    Server = 2,
    /// The gateway calling the upstream.
    Client = 3,
}

/// Bit 8 of `Span.flags`: whether the parent is remote is known.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// Bit 9 of `Span.flags`: the parent is remote.
const FLAG_IS_REMOTE: u32 = 0x200;
/// `Status.code` ERROR.
const STATUS_ERROR: u64 = 2;

/// A text written from parts (`["pkg.Service", "/", "Method"]`), so that
/// joined names cost no allocation.
pub type Text<'a> = &'a [&'a str];

/// A span's identity and timing.
#[derive(Clone, Copy, Debug)]
pub struct SpanHead<'a> {
    /// Its trace and id.
    pub ids: SpanIds,
    /// Its parent span and whether that parent is another process's.
    pub parent: Option<([u8; 8], bool)>,
    /// Whether the trace is sampled (W3C flag 0x01).
    pub sampled: bool,
    /// The caller's `tracestate`.
    pub trace_state: Option<&'a str>,
    /// SERVER or CLIENT.
    pub kind: Kind,
    /// Its name.
    pub name: Text<'a>,
    /// Start, in nanoseconds since the Unix epoch.
    pub start: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end: u64,
}

/// Appends one span to `out`, as an entry of `ScopeSpans.spans`; `body`
/// adds its attributes, events and status.
pub fn span(out: &mut Vec<u8>, head: &SpanHead<'_>, body: impl FnOnce(&mut SpanWriter<'_>)) {
    wire::message(out, 2, |out| {
        wire::bytes(out, 1, &head.ids.trace_id);
        wire::bytes(out, 2, &head.ids.span_id);
        if let Some(state) = head.trace_state {
            wire::string(out, 3, state);
        }
        let mut flags = u32::from(head.sampled);
        if let Some((parent, remote)) = head.parent {
            wire::bytes(out, 4, &parent);
            flags |= FLAG_HAS_IS_REMOTE;
            if remote {
                flags |= FLAG_IS_REMOTE;
            }
        }
        wire::fixed32(out, 16, flags);
        wire::string_parts(out, 5, head.name);
        wire::uint(out, 6, head.kind as u64);
        wire::fixed64(out, 7, head.start);
        wire::fixed64(out, 8, head.end);
        body(&mut SpanWriter { out });
    });
}

/// Adds attributes, events and a status to the span being written.
pub struct SpanWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl SpanWriter<'_> {
    /// A string attribute.
    pub fn str(&mut self, key: &str, value: &str) {
        key_value(self.out, 9, key, Value::Text(&[value]));
    }

    /// A string attribute written from parts.
    pub fn text(&mut self, key: &str, value: Text<'_>) {
        key_value(self.out, 9, key, Value::Text(value));
    }

    /// An integer attribute.
    pub fn int(&mut self, key: &str, value: i64) {
        key_value(self.out, 9, key, Value::Int(value));
    }

    /// An event at `time` (Unix nanoseconds) with string attributes.
    pub fn event(&mut self, name: &str, time: u64, attributes: &[(&str, String)]) {
        wire::message(self.out, 11, |out| {
            wire::fixed64(out, 1, time);
            wire::string(out, 2, name);
            for (key, value) in attributes {
                key_value(out, 3, key, Value::Text(&[value]));
            }
        });
    }

    /// Status ERROR with `message`.
    pub fn error(&mut self, message: &str) {
        wire::message(self.out, 15, |out| {
            if !message.is_empty() {
                wire::string(out, 2, message);
            }
            wire::uint(out, 3, STATUS_ERROR);
        });
    }
}

enum Value<'a> {
    Text(Text<'a>),
    Int(i64),
}

/// A `KeyValue` in `field` of the message being written. Its sizes are
/// known beforehand, so it is written straight, without placeholders.
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: Value<'_>) {
    // The `AnyValue`: `string_value` (1) or `int_value` (3, the int64's
    // two's-complement varint).
    let any_value = match &value {
        Value::Text(parts) => wire::field_size(1, parts.iter().map(|p| p.len()).sum()),
        Value::Int(number) => 1 + wire::varint_size(*number as u64),
    };
    wire::header(
        out,
        field,
        wire::field_size(1, key.len()) + wire::field_size(2, any_value),
    );
    wire::string(out, 1, key);
    wire::header(out, 2, any_value);
    match value {
        Value::Text(parts) => wire::string_parts(out, 1, parts),
        Value::Int(number) => wire::uint(out, 3, number as u64),
    }
}

/// The parts of an `ExportTraceServiceRequest` every batch shares: the
/// resource (`service.name`) and the instrumentation scope, encoded once.
#[derive(Debug)]
pub struct Envelope {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Envelope {
    /// For the process's `service.name`.
    pub fn new(service_name: &str) -> Self {
        let mut resource = Vec::new();
        wire::message(&mut resource, 1, |out| {
            key_value(out, 1, "service.name", Value::Text(&[service_name]));
        });
        let mut scope = Vec::new();
        wire::message(&mut scope, 1, |out| {
            wire::string(out, 1, "protogate");
            wire::string(out, 2, env!("CARGO_PKG_VERSION"));
        });
        Self { resource, scope }
    }

    /// The `ExportTraceServiceRequest` holding `spans` (each a call's span
    /// entries, as [`span`] wrote them).
    pub fn request<'a>(&self, spans: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
        let spans_len: usize = spans.clone().map(<[u8]>::len).sum();
        let scope_spans = self.scope.len() + spans_len;
        let resource_spans = self.resource.len() + wire::field_size(2, scope_spans);
        let mut out = Vec::with_capacity(wire::field_size(1, resource_spans));
        wire::header(&mut out, 1, resource_spans);
        out.extend_from_slice(&self.resource);
        wire::header(&mut out, 2, scope_spans);
        out.extend_from_slice(&self.scope);
        for call in spans {
            out.extend_from_slice(call);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use prost::Message;

    const IDS: SpanIds = SpanIds {
        trace_id: [0x4b; 16],
        span_id: [0x11; 8],
    };

    fn head(kind: Kind, parent: Option<([u8; 8], bool)>) -> SpanHead<'static> {
        SpanHead {
            ids: IDS,
            parent,
            sampled: true,
            trace_state: Some("vendor=x"),
            kind,
            name: &["pkg.Service", "/", "Method"],
            start: 1_700_000_000_000_000_000,
            end: 1_700_000_000_000_500_000,
        }
    }

    /// What the encoder writes is what the OpenTelemetry project's own
    /// generated types read.
    #[test]
    fn the_opentelemetry_types_decode_what_is_written() {
        let envelope = Envelope::new("edge");
        let mut call = Vec::new();
        span(&mut call, &head(Kind::Server, Some(([7; 8], true))), |w| {
            w.text("rpc.method", &["pkg.Service", "/", "Method"]);
            w.int("http.response.status_code", 503);
            w.int("negative", -2);
            w.event(
                "rate_limited",
                1_700_000_000_000_100_000,
                &[("limit", "5/s".into())],
            );
            w.error("UNAVAILABLE");
        });
        let mut other = Vec::new();
        span(
            &mut other,
            &head(Kind::Client, Some(([9; 8], false))),
            |w| {
                w.str("long", &"x".repeat(20_000));
            },
        );
        let body = envelope.request([call.as_slice(), other.as_slice()].into_iter());

        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let resource = &request.resource_spans[0];
        let service = &resource.resource.as_ref().expect("resource").attributes[0];
        assert_eq!(service.key, "service.name");
        assert_eq!(
            service.value.as_ref().and_then(|v| v.value.clone()),
            Some(AnyValue::StringValue("edge".into()))
        );
        let scope_spans = &resource.scope_spans[0];
        let scope = scope_spans.scope.as_ref().expect("scope");
        assert_eq!(scope.name, "protogate");
        assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));
        let [server, client] = scope_spans.spans.as_slice() else {
            panic!("two spans, got {:?}", scope_spans.spans);
        };

        assert_eq!(server.trace_id, vec![0x4b; 16]);
        assert_eq!(server.span_id, vec![0x11; 8]);
        assert_eq!(server.parent_span_id, vec![7; 8]);
        assert_eq!(server.trace_state, "vendor=x");
        assert_eq!(server.flags, 0x301, "sampled, parent known to be remote");
        assert_eq!(server.kind, SpanKind::Server as i32);
        assert_eq!(server.name, "pkg.Service/Method");
        assert_eq!(server.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(server.end_time_unix_nano, 1_700_000_000_000_500_000);
        let values: Vec<_> = server
            .attributes
            .iter()
            .map(|kv| {
                (
                    kv.key.as_str(),
                    kv.value.as_ref().and_then(|v| v.value.clone()),
                )
            })
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "rpc.method",
                    Some(AnyValue::StringValue("pkg.Service/Method".into()))
                ),
                ("http.response.status_code", Some(AnyValue::IntValue(503))),
                ("negative", Some(AnyValue::IntValue(-2))),
            ]
        );
        let event = &server.events[0];
        assert_eq!(event.name, "rate_limited");
        assert_eq!(event.time_unix_nano, 1_700_000_000_000_100_000);
        assert_eq!(event.attributes[0].key, "limit");
        let status = server.status.as_ref().expect("status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "UNAVAILABLE");

        assert_eq!(client.kind, SpanKind::Client as i32);
        assert_eq!(client.flags, 0x101, "sampled, parent known to be local");
        assert_eq!(client.parent_span_id, vec![9; 8]);
        assert_eq!(client.attributes[0].key, "long");
        assert_eq!(client.status, None);
    }

    #[test]
    fn a_root_span_has_no_parent_and_an_empty_batch_still_decodes() {
        let mut call = Vec::new();
        let mut root = head(Kind::Server, None);
        root.sampled = false;
        root.trace_state = None;
        span(&mut call, &root, |_| {});
        let envelope = Envelope::new("edge");
        let body = envelope.request([call.as_slice()].into_iter());
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let root = &request.resource_spans[0].scope_spans[0].spans[0];
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.flags, 0, "not sampled, nothing known of a parent");
        assert_eq!(root.trace_state, "");

        let empty = envelope.request(std::iter::empty());
        let request = ExportTraceServiceRequest::decode(empty.as_slice()).expect("decodes");
        assert!(request.resource_spans[0].scope_spans[0].spans.is_empty());
    }
}
