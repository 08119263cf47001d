//! What the gateway knows about one call, shared by every plugin of the chain.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protogate_grpc::catalog::RpcKind;
use protogate_grpc::status::Code;

use crate::{CallerProtocol, GatewayError};

/// One call's facts, filled in by the proxy as the call moves through the
/// phases. Plugins read it (and the request hook may annotate it); the proxy
/// reads it at the end for metrics and logs.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// When the request header arrived.
    pub started: Instant,
    /// The caller's protocol.
    pub protocol: CallerProtocol,
    /// The matched route's name; `None` when no route matched.
    pub route: Option<Arc<str>>,
    /// The upstream the route sends to.
    pub upstream: Option<Arc<str>>,
    /// For gRPC callers: the service and method, as metric labels. Methods
    /// the catalog and the routes do not know share the label `unknown`, so a
    /// scanner cannot explode cardinality.
    pub grpc_service: Arc<str>,
    /// See `grpc_service`.
    pub grpc_method: Arc<str>,
    /// The RPC kind when the catalog knows the method.
    pub rpc_kind: Option<RpcKind>,
    /// The caller's address (the TCP peer).
    pub client_addr: Option<IpAddr>,
    /// The final gRPC status, from the response headers or trailers, or
    /// from the gateway's own answer.
    pub grpc_status: Option<Code>,
    /// The HTTP status the caller got.
    pub http_status: Option<u16>,
    /// Set when the gateway (a plugin or the proxy) answered with an error.
    pub error: Option<GatewayError>,
    /// The call's request id, when a plugin gave it one (`header_map`'s
    /// `request_id`): the caller's, or one the gateway made. The access log
    /// prints it.
    pub request_id: Option<Arc<str>>,
    /// The path variables of a transcoded call, as its binding names them
    /// (`id`, `product.id`) with their values: set by the transcoder once a
    /// binding matched.
    pub path_params: Vec<(String, String)>,
    /// The path template of a transcoded call's binding, as written
    /// (`/v1/{name=shelves/*}`): the low-cardinality `http.route` of its
    /// span. Set by the transcoder with `path_params`.
    pub http_route: Option<Arc<str>>,
    /// When the request last went to the upstream (the last attempt).
    pub upstream_sent: Option<Instant>,
    /// When the upstream's response header arrived (for a call a plugin
    /// made itself: its whole answer).
    pub upstream_answered: Option<Instant>,
    /// When the upstream's answer was complete (its trailers, or the end of
    /// its body): what follows is the gateway's own time again, so the
    /// gateway-overhead metric counts it and leaves out the streaming.
    pub upstream_finished: Option<Instant>,
    /// The call's trace id, when the `tracing` plugin traces it: the access
    /// log prints it (in hex), so a line leads to its trace.
    pub trace_id: Option<[u8; 16]>,
    /// What happened along the way (a rate-limit refusal, a retry on the
    /// next target), in order: tracing records them as span events.
    pub events: Vec<CallEvent>,
}

/// Something that happened during a call, worth a span event.
#[derive(Debug, Clone)]
pub struct CallEvent {
    /// When.
    pub at: Instant,
    /// What: `rate_limited`, `retry`, ...
    pub name: &'static str,
    /// Details, as attribute names and values.
    pub attributes: Vec<(&'static str, String)>,
}

impl CallEvent {
    /// An event that happens now.
    pub fn now(name: &'static str, attributes: Vec<(&'static str, String)>) -> Self {
        Self {
            at: Instant::now(),
            name,
            attributes,
        }
    }
}

impl CallInfo {
    /// A call that has just arrived.
    pub fn new(protocol: CallerProtocol) -> Self {
        Self {
            started: Instant::now(),
            protocol,
            route: None,
            upstream: None,
            grpc_service: Arc::clone(&UNKNOWN),
            grpc_method: Arc::clone(&UNKNOWN),
            rpc_kind: None,
            client_addr: None,
            grpc_status: None,
            http_status: None,
            error: None,
            request_id: None,
            path_params: Vec::new(),
            http_route: None,
            upstream_sent: None,
            upstream_answered: None,
            upstream_finished: None,
            trace_id: None,
            events: Vec::new(),
        }
    }

    /// How long the upstream took to answer: from the request going out
    /// (its last attempt) to the upstream's response header (for a call a
    /// plugin made itself, its whole answer). `None` when no upstream
    /// answered the request that went out last.
    pub fn upstream_latency(&self) -> Option<Duration> {
        let sent = self.upstream_sent?;
        self.upstream_answered?.checked_duration_since(sent)
    }

    /// The gateway's own time in a call that ended at `end`: everything
    /// before the request went upstream (routing, plugins, connecting,
    /// failed attempts) plus everything after the upstream's answer was
    /// complete (the last writes to the caller). The time the upstream
    /// spent, streaming included, is left out; a call the gateway answered
    /// by itself is all overhead.
    pub fn gateway_overhead(&self, end: Instant) -> Duration {
        let Some(sent) = self.upstream_sent else {
            return end.saturating_duration_since(self.started);
        };
        let before = sent.saturating_duration_since(self.started);
        let after = self.upstream_finished.map_or(Duration::ZERO, |finished| {
            end.saturating_duration_since(finished)
        });
        before + after
    }
}

impl Default for CallInfo {
    fn default() -> Self {
        Self::new(CallerProtocol::Http)
    }
}

static UNKNOWN: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from("unknown"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_leaves_out_the_upstreams_time() {
        let mut call = CallInfo::new(CallerProtocol::Grpc);
        let t0 = call.started;
        call.upstream_sent = Some(t0 + Duration::from_millis(2));
        call.upstream_answered = Some(t0 + Duration::from_millis(50));
        call.upstream_finished = Some(t0 + Duration::from_millis(900));
        let end = t0 + Duration::from_millis(903);
        assert_eq!(call.upstream_latency(), Some(Duration::from_millis(48)));
        assert_eq!(call.gateway_overhead(end), Duration::from_millis(5));
    }

    #[test]
    fn a_call_answered_by_the_gateway_is_all_overhead() {
        let call = CallInfo::new(CallerProtocol::Http);
        let end = call.started + Duration::from_millis(7);
        assert_eq!(call.upstream_latency(), None);
        assert_eq!(call.gateway_overhead(end), Duration::from_millis(7));
    }

    #[test]
    fn an_unfinished_upstream_counts_only_the_time_before_it() {
        let mut call = CallInfo::new(CallerProtocol::Grpc);
        call.upstream_sent = Some(call.started + Duration::from_millis(3));
        let end = call.started + Duration::from_secs(5);
        assert_eq!(call.gateway_overhead(end), Duration::from_millis(3));
    }
}
