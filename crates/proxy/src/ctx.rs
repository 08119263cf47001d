//! The per-request context Pingora hands to every phase.

use std::sync::Arc;

use protogate_core::{CallInfo, Slots};
use protogate_metrics::{GrpcMethodMetrics, OpenStream};

use crate::{CompiledRoute, Runtime};

/// One request's state. The runtime snapshot and the route are taken when
/// the request arrives and kept to the end, so a reload never changes the
/// route of a call in flight.
#[derive(Default)]
pub struct RequestCtx {
    /// The runtime this request started with.
    pub runtime: Option<Arc<Runtime>>,
    /// The matched route, if any.
    pub route: Option<Arc<CompiledRoute>>,
    /// What plugins and metrics know about the call.
    pub call: CallInfo,
    /// Per-call plugin state.
    pub slots: Slots,
    /// Metric handles for a gRPC call.
    pub grpc_metrics: Option<Arc<GrpcMethodMetrics>>,
    /// Holds the call in `protogate_open_streams` until the context is
    /// dropped, however the call ends.
    pub open_stream: Option<OpenStream>,
    /// Where this call's round-robin walk over targets started.
    pub walk_start: usize,
    /// Connection attempts made so far.
    pub attempts: usize,
    /// The target of the latest attempt, for error messages.
    pub target: Option<Arc<str>>,
}
