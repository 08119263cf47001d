//! The typed plugin contract: one hook per Pingora phase.

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora_http::{RequestHeader, ResponseHeader};

use crate::{CallInfo, GatewayError, RequestCx};

/// The set of hooks a plugin implements. The chain is indexed per hook when
/// it is built, so a hook nobody implements costs nothing per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hooks(u8);

impl Hooks {
    /// No hooks.
    pub const NONE: Hooks = Hooks(0);
    /// [`Plugin::request`]: after routing, before the upstream is chosen.
    pub const REQUEST: Hooks = Hooks(1);
    /// [`Plugin::request_body`]: each request body chunk.
    pub const REQUEST_BODY: Hooks = Hooks(1 << 1);
    /// [`Plugin::upstream_request`]: the header about to go upstream.
    pub const UPSTREAM_REQUEST: Hooks = Hooks(1 << 2);
    /// [`Plugin::response`]: the response header about to go downstream.
    pub const RESPONSE: Hooks = Hooks(1 << 3);
    /// [`Plugin::response_body`]: each response body chunk.
    pub const RESPONSE_BODY: Hooks = Hooks(1 << 4);
    /// [`Plugin::response_trailers`]: the response trailers.
    pub const RESPONSE_TRAILERS: Hooks = Hooks(1 << 5);
    /// [`Plugin::log`]: once per call, always, even when the call was refused.
    pub const LOG: Hooks = Hooks(1 << 6);

    /// Every hook, in phase order (used to index a chain).
    pub const ALL: [Hooks; 7] = [
        Self::REQUEST,
        Self::REQUEST_BODY,
        Self::UPSTREAM_REQUEST,
        Self::RESPONSE,
        Self::RESPONSE_BODY,
        Self::RESPONSE_TRAILERS,
        Self::LOG,
    ];

    /// True when every hook of `other` is in `self`.
    pub const fn contains(self, other: Hooks) -> bool {
        self.0 & other.0 == other.0
    }

    /// For a single hook: its position in [`Hooks::ALL`].
    pub(crate) const fn bit_index(self) -> usize {
        self.0.trailing_zeros() as usize
    }

    /// The union of two sets.
    pub const fn union(self, other: Hooks) -> Hooks {
        Hooks(self.0 | other.0)
    }
}

impl std::ops::BitOr for Hooks {
    type Output = Hooks;
    fn bitor(self, rhs: Hooks) -> Hooks {
        self.union(rhs)
    }
}

/// What a request-side hook decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on: the next plugin, then the upstream.
    Continue,
    /// Answer the caller now. The plugins after this one do not run their
    /// request hooks; the response hooks of those that ran do, in reverse
    /// order, and every plugin's log hook runs.
    Respond(LocalResponse),
}

/// An answer a plugin writes instead of the upstream's.
#[derive(Debug)]
pub enum LocalResponse {
    /// An error, rendered in the caller's protocol by [`crate::rescue`].
    Error(GatewayError),
    /// A complete HTTP answer (e.g. a transcoded call's JSON).
    Http {
        /// The response header.
        header: Box<ResponseHeader>,
        /// The whole body.
        body: Bytes,
    },
    /// An answer whose body streams (a server-streaming call over REST):
    /// the proxy writes the header, then each chunk as the stream yields
    /// it, waiting for the caller to take each one (backpressure). If the
    /// caller goes away, the stream is dropped, which cancels the upstream
    /// call.
    Stream {
        /// The response header.
        header: Box<ResponseHeader>,
        /// The body's source.
        body: Box<dyn ResponseStream>,
    },
}

impl std::fmt::Debug for dyn ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseStream")
    }
}

/// The body of a [`LocalResponse::Stream`].
#[async_trait]
pub trait ResponseStream: Send {
    /// The next chunk for the caller, once it is ready; `None` at the end.
    /// Errors after the header went out are the plugin's to render in the
    /// body (an error line, an SSE event).
    async fn next_chunk(&mut self) -> Option<Bytes>;
    /// After the end: the upstream's trailers, for the other plugins'
    /// trailer hooks and the call's status.
    fn take_trailers(&mut self) -> Option<HeaderMap>;
}

/// The caller's side of the call, as a request hook sees it.
#[async_trait]
pub trait Downstream: Send {
    /// The request header as received (after earlier plugins' changes).
    fn req_header(&self) -> &RequestHeader;
    /// The request header, to change what the rest of the chain and the
    /// upstream see.
    fn req_header_mut(&mut self) -> &mut RequestHeader;
    /// Reads the next request body chunk; `None` at the end. A plugin that
    /// reads the body owns it: it must answer the call itself.
    async fn read_body(&mut self) -> Result<Option<Bytes>, GatewayError>;
}

/// A protogate plugin, typed for its author.
///
/// Each hook has a default that does nothing; declare the hooks you
/// implement in [`Plugin::hooks`] so the chain only calls those. Hooks are
/// synchronous except [`Plugin::request`], the one place where a plugin may
/// wait (a Redis round trip, a call of its own to the upstream).
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// Per-call state, created with `Default` when the call starts and
    /// dropped when it ends. Use `()` when the plugin keeps none.
    type State: Default + Send + Sync + 'static;

    /// The name used in the config file (`grpc_proxy`, `rate_limit`, ...).
    fn name(&self) -> &'static str;

    /// The hooks this plugin implements.
    fn hooks(&self) -> Hooks;

    /// After routing. May answer the call itself, and may make its own
    /// call to the route's upstream through [`RequestCx::call_upstream`].
    async fn request(
        &self,
        _state: &mut Self::State,
        _cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        Ok(Flow::Continue)
    }

    /// Each request body chunk on its way upstream (`eos` on the last one).
    fn request_body(
        &self,
        _state: &mut Self::State,
        _call: &mut CallInfo,
        _body: &mut Option<Bytes>,
        _eos: bool,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The request header about to be sent upstream.
    fn upstream_request(
        &self,
        _state: &mut Self::State,
        _call: &mut CallInfo,
        _request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The response header about to be sent to the caller.
    fn response(
        &self,
        _state: &mut Self::State,
        _call: &mut CallInfo,
        _response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Each response body chunk on its way to the caller.
    fn response_body(
        &self,
        _state: &mut Self::State,
        _call: &mut CallInfo,
        _body: &mut Option<Bytes>,
        _eos: bool,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The response trailers on their way to the caller.
    fn response_trailers(
        &self,
        _state: &mut Self::State,
        _call: &mut CallInfo,
        _trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Once per call, after the answer went out or the call failed.
    fn log(&self, _state: &mut Self::State, _call: &CallInfo) {}

    /// Lines for `protogate routes`: what this plugin adds to the route
    /// (the transcoder's REST bindings, say). Empty by default.
    fn describe(&self) -> Vec<String> {
        Vec::new()
    }
}
