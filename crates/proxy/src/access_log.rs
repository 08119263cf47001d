//! The access log: one event per call, under the log target
//! `protogate::access`, at `info`, with structured fields. It is off by
//! default (a line per call costs CPU at high rates);
//! `RUST_LOG=info,protogate::access=info` turns it on. Refused and failed
//! calls are logged too. As text:
//!
//! ```text
//! INFO protogate::access: call client=127.0.0.1 method=POST path=/pkg.Svc/Method version=HTTP/2.0 status=200 grpc=NotFound route=products upstream_ms=1.204 ms=1.530 request_id=9f0c... trace_id=4bf9...
//! ```
//!
//! With `PROTOGATE_LOG_FORMAT=json`, the same fields as one JSON object
//! per line. `grpc` is the gRPC status of gRPC and gRPC-Web calls (`-` for
//! others), `upstream_ms` the time from sending the request upstream to
//! its response header (`-` when the upstream was not reached),
//! `request_id` the id `header_map`'s `request_id` gave the call and
//! `trace_id` the trace the `tracing` plugin recorded it in (`-` without).

use std::time::Duration;

use pingora_proxy::Session;
use protogate_core::CallInfo;

/// The log target of access lines.
pub(crate) const TARGET: &str = "protogate::access";

/// Writes the call's line, if the access log is on.
pub(crate) fn write(session: &Session, call: &CallInfo, elapsed: Duration) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let request = session.req_header();
    let client = call
        .client_addr
        .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let status = call
        .http_status
        .or_else(|| session.response_written().map(|r| r.status.as_u16()))
        .unwrap_or(0);
    let grpc = match (call.protocol.is_grpc(), call.grpc_status) {
        (true, Some(code)) => code.to_string(),
        (true, None) => "UNKNOWN".to_owned(),
        (false, _) => "-".to_owned(),
    };
    let upstream = call
        .upstream_latency()
        .map_or_else(|| "-".to_owned(), |d| format!("{:.3}", millis(d)));
    let path = request.uri.path_and_query().map_or("/", |p| p.as_str());
    tracing::info!(
        target: TARGET,
        client = %client,
        method = %request.method,
        path = %path,
        version = ?request.version,
        status,
        grpc = %grpc,
        route = %call.route.as_deref().unwrap_or("-"),
        upstream_ms = %upstream,
        ms = %format_args!("{:.3}", millis(elapsed)),
        request_id = %call.request_id.as_deref().unwrap_or("-"),
        trace_id = %TraceId(call.trace_id.as_ref()),
        "call"
    );
}

/// A trace id in lower-case hex, or `-`; formatted only when the line is
/// written.
struct TraceId<'a>(Option<&'a [u8; 16]>);

impl std::fmt::Display for TraceId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(id) => id.iter().try_for_each(|byte| write!(f, "{byte:02x}")),
            None => f.write_str("-"),
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
