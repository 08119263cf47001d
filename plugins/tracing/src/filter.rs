//! The `tracing` plugin: a SERVER span for every call the route handles
//! (refused ones included), a CLIENT span for every request sent upstream,
//! and the trace context of that CLIENT span in the upstream's
//! `traceparent`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use protogate_core::{CallInfo, Flow, GatewayError, Hooks, Plugin, RequestCx, RequestHeader};

use crate::config::{Format, TracingPluginConfig};
use crate::context::{self, Parent, SpanIds};
use crate::exporter::Exporter;
use crate::span::{client_span, known_method, server_span, Attempt, Clock, SpanParts};

// Header names built at compile time: a name parsed per call costs more
// than the lookup it is for.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const B3: HeaderName = HeaderName::from_static("b3");
const B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
const B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
const B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
const B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
const B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
/// The event the forwarding loop records when it replays a call on the
/// next target: it belongs on the CLIENT span.
const RETRY: &str = "retry";

/// One route's `tracing`.
pub struct Tracer {
    config: TracingPluginConfig,
    exporter: Arc<Exporter>,
}

impl Tracer {
    /// Spans go to `exporter` (the process's, for the top-level section).
    pub fn new(config: TracingPluginConfig, exporter: Arc<Exporter>) -> Self {
        Self { config, exporter }
    }

    /// A new trace is sampled when its id falls under the ratio (the same
    /// decision for the same trace id everywhere, as OpenTelemetry's
    /// TraceIdRatioBased sampler makes it).
    fn sample_new(&self, trace_id: &[u8; 16]) -> bool {
        let ratio = self.config.sample_ratio;
        if ratio >= 1.0 {
            return true;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace_id[8..]);
        let value = u64::from_be_bytes(low) >> 1;
        (value as f64) < ratio * (1u64 << 63) as f64
    }
}

/// Per call: the trace and the upstream attempts.
#[derive(Default)]
pub struct CallTrace {
    started: Option<Started>,
    attempts: Vec<([u8; 8], Instant)>,
}

struct Started {
    ids: SpanIds,
    parent: Option<Parent>,
    sampled: bool,
    method: http::Method,
    path: String,
}

#[async_trait]
impl Plugin for Tracer {
    type State = CallTrace;

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        Hooks::REQUEST | Hooks::UPSTREAM_REQUEST | Hooks::LOG
    }

    async fn request(
        &self,
        state: &mut CallTrace,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        let request = cx.downstream.req_header();
        let parent = self
            .config
            .propagation
            .iter()
            .find_map(|format| read_context(*format, &request.headers));
        let trace_id = parent
            .as_ref()
            .map_or_else(context::new_trace_id, |p| p.ids.trace_id);
        let sampled = parent
            .as_ref()
            .and_then(|p| p.sampled)
            .unwrap_or_else(|| self.sample_new(&trace_id));
        cx.call.trace_id = Some(trace_id);
        state.started = Some(Started {
            ids: SpanIds {
                trace_id,
                span_id: context::new_span_id(),
            },
            parent,
            sampled,
            method: request.method.clone(),
            // Only HTTP spans show the path (gRPC ones name the method).
            path: if cx.call.protocol.is_grpc() {
                String::new()
            } else {
                request.uri.path().to_owned()
            },
        });
        Ok(Flow::Continue)
    }

    fn upstream_request(
        &self,
        state: &mut CallTrace,
        _call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        let Some(started) = &state.started else {
            return Ok(());
        };
        let span_id = context::new_span_id();
        state.attempts.push((span_id, Instant::now()));
        let ids = SpanIds {
            trace_id: started.ids.trace_id,
            span_id,
        };
        let mut edits = Vec::with_capacity(2 * self.config.propagation.len());
        for format in &self.config.propagation {
            context_edits(*format, ids, started, &mut edits);
        }
        apply(request, &edits);
        Ok(())
    }

    fn log(&self, state: &mut CallTrace, call: &CallInfo) {
        let Some(started) = state.started.take() else {
            return;
        };
        let failed = call.error.is_some()
            || call
                .grpc_status
                .is_some_and(|c| c != protogate_core::Code::Ok)
            || call.http_status.is_some_and(|s| s >= 500);
        // A failed call is worth its trace even when the ratio passed it
        // over, unless the caller explicitly said "not sampled".
        let caller_said_no = started
            .parent
            .as_ref()
            .is_some_and(|p| p.sampled == Some(false));
        if !(started.sampled || (failed && !caller_said_no)) {
            return;
        }
        let clock = Clock::now();
        let end = clock.now_nanos();
        let tracestate = started.parent.as_ref().and_then(|p| p.state.as_deref());
        let rpc_method = known_method(call);
        let attempts = state.attempts.len();
        self.exporter.record(1 + attempts, |spans| {
            server_span(
                spans,
                call,
                rpc_method.as_ref().map(|parts| parts.as_slice()),
                &started.method,
                &started.path,
                SpanParts {
                    ids: started.ids,
                    parent: started.parent.as_ref().map(|p| (p.ids.span_id, true)),
                    state: tracestate,
                    start: clock.nanos(call.started),
                    end,
                    events: &call.events,
                    pick: |event| event.name != RETRY,
                    clock: &clock,
                },
            );
            let attempts = &state.attempts;
            for (index, (span_id, sent)) in attempts.iter().enumerate() {
                let start = clock.nanos(*sent);
                // An attempt lasts until the next one starts; the last lasts as
                // long as the call (a stream's last message and its trailers
                // come at the end).
                let next = attempts.get(index + 1).map(|(_, at)| *at);
                let until = next.map_or(end, |at| clock.nanos(at));
                // The retry that ended it, recorded between the two.
                let retry = next.and_then(|next| {
                    call.events
                        .iter()
                        .find(|e| e.name == RETRY && e.at >= *sent && e.at <= next)
                });
                client_span(
                    spans,
                    call,
                    rpc_method.as_ref().map(|parts| parts.as_slice()),
                    SpanParts {
                        ids: SpanIds {
                            trace_id: started.ids.trace_id,
                            span_id: *span_id,
                        },
                        parent: Some((started.ids.span_id, false)),
                        state: tracestate,
                        start,
                        end: until.max(start),
                        events: retry.map_or(&[], std::slice::from_ref),
                        pick: |_| true,
                        clock: &clock,
                    },
                    match retry {
                        Some(event) => Attempt::Retried(event),
                        None => Attempt::Final,
                    },
                );
            }
        });
    }
}

/// The caller's trace context in `format`, if it sent a valid one.
fn read_context(format: Format, headers: &http::HeaderMap) -> Option<Parent> {
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    match format {
        Format::W3c => context::extract(
            headers.get(&TRACEPARENT).map(HeaderValue::as_bytes),
            text(&TRACESTATE),
        ),
        Format::B3 => context::extract_b3(text(&B3)?),
        Format::B3Multi => context::extract_b3_multi(
            text(&B3_TRACE_ID),
            text(&B3_SPAN_ID),
            text(&B3_SAMPLED),
            text(&B3_FLAGS),
        ),
    }
}

/// The header edits that write the context of the gateway's CLIENT span
/// (`ids`) in `format`, replacing whatever the caller sent in it: a value
/// to set, or `None` to remove the header.
fn context_edits(
    format: Format,
    ids: SpanIds,
    started: &Started,
    edits: &mut Vec<(HeaderName, Option<HeaderValue>)>,
) {
    // Never indexed: a value new on every call would only churn the
    // HPACK table of the upstream connection, evicting the headers that
    // do repeat.
    let value = |text: String| {
        // From the `String` itself: its buffer becomes the value's.
        HeaderValue::try_from(text).ok().map(|mut value| {
            value.set_sensitive(true);
            value
        })
    };
    match format {
        Format::W3c => {
            let traceparent = context::traceparent(ids, started.sampled);
            edits.push((TRACEPARENT, value(traceparent)));
            let state = started.parent.as_ref().and_then(|p| p.state.as_deref());
            let state = state.and_then(|s| HeaderValue::from_str(s).ok());
            edits.push((TRACESTATE, state));
        }
        Format::B3 => {
            let b3 = context::b3(ids, started.sampled);
            edits.push((B3, value(b3)));
        }
        Format::B3Multi => {
            let mut trace = String::with_capacity(32);
            context::push_hex(&mut trace, &ids.trace_id);
            let mut span = String::with_capacity(16);
            context::push_hex(&mut span, &ids.span_id);
            let sampled = HeaderValue::from_static(if started.sampled { "1" } else { "0" });
            edits.push((B3_TRACE_ID, value(trace)));
            edits.push((B3_SPAN_ID, value(span)));
            edits.push((B3_SAMPLED, Some(sampled)));
            edits.push((B3_PARENT_SPAN_ID, None));
            edits.push((B3_FLAGS, None));
        }
    }
}

/// Applies `edits`: through the header's inner map when it has no case
/// map (every gRPC upstream request), where a write parses no name;
/// through Pingora's API otherwise.
fn apply(request: &mut RequestHeader, edits: &[(HeaderName, Option<HeaderValue>)]) {
    let fast = protogate_core::parts::edit_request(request, |map| {
        for (name, value) in edits {
            match value {
                Some(value) => {
                    map.insert(name.clone(), value.clone());
                }
                None => {
                    map.remove(name);
                }
            }
        }
    });
    if fast.is_ok() {
        return;
    }
    for (name, value) in edits {
        match value {
            // A valid name and value: inserting cannot fail.
            Some(value) => {
                let _ = request.insert_header(name.clone(), value.clone());
            }
            None => {
                request.remove_header(name);
            }
        }
    }
}
