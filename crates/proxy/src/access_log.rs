//! The access log: one line per call, under the log target
//! `protogate::access`, at `info`. It is off by default (a line per call
//! costs CPU at high rates); `RUST_LOG=info,protogate::access=info` turns
//! it on. Refused and failed calls are logged too.
//!
//! ```text
//! 127.0.0.1 "POST /pkg.Svc/Method HTTP/2.0" 200 grpc=NotFound route=products upstream_ms=1.204 ms=1.530 request_id=9f0c...
//! ```
//!
//! `grpc=` is the gRPC status of gRPC and gRPC-Web calls (`-` for others),
//! `upstream_ms=` the time from sending the request upstream to its
//! response header (`-` when the upstream was not reached), `request_id=`
//! the id `header_map`'s `request_id` gave the call (`-` without one).

use std::time::Duration;

use pingora_proxy::Session;
use protogate_core::CallInfo;

/// The log target of access lines.
pub(crate) const TARGET: &str = "protogate::access";

/// Writes the call's line, if the access log is on.
pub(crate) fn write(session: &Session, call: &CallInfo, elapsed: Duration) {
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
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
    let upstream = match (call.upstream_sent, call.upstream_answered) {
        (Some(sent), Some(answered)) if answered >= sent => {
            format!("{:.3}", millis(answered - sent))
        }
        _ => "-".to_owned(),
    };
    log::info!(
        target: TARGET,
        "{client} \"{} {} {:?}\" {status} grpc={grpc} route={} upstream_ms={upstream} ms={:.3} request_id={}",
        request.method,
        request
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str()),
        request.version,
        call.route.as_deref().unwrap_or("-"),
        millis(elapsed),
        call.request_id.as_deref().unwrap_or("-"),
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
