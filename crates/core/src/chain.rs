//! The erased plugin chain and its per-phase runner.
//!
//! A route's chain is built once at load: the global plugins first, then the
//! route's own, each a [`DynPlugin`]. For every hook the chain keeps the
//! positions of the plugins that implement it, so a call only visits those.
//! Per-call state lives in [`Slots`], one slot per chain position.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use pingora_http::{RequestHeader, ResponseHeader};

use crate::{
    CallInfo, Downstream, Flow, GatewayError, Hooks, Plugin, RequestCx, UpstreamConnector,
};

type AnyState = dyn Any + Send + Sync;

/// A plugin with its state type erased, as the chain stores it. Implemented
/// for every [`Plugin`]; plugin authors never implement it themselves.
#[async_trait]
pub trait DynPlugin: Send + Sync {
    /// See [`Plugin::name`].
    fn name(&self) -> &'static str;
    /// See [`Plugin::hooks`].
    fn hooks(&self) -> Hooks;
    /// A fresh per-call state.
    fn new_state(&self) -> Box<AnyState>;
    /// See [`Plugin::request`].
    async fn request(
        &self,
        state: &mut AnyState,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError>;
    /// See [`Plugin::request_body`].
    fn request_body(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError>;
    /// See [`Plugin::upstream_request`].
    fn upstream_request(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError>;
    /// See [`Plugin::response`].
    fn response(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError>;
    /// See [`Plugin::response_body`].
    fn response_body(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError>;
    /// See [`Plugin::response_trailers`].
    fn response_trailers(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError>;
    /// See [`Plugin::log`].
    fn log(&self, state: &mut AnyState, call: &CallInfo);
    /// See [`Plugin::describe`].
    fn describe(&self) -> Vec<String>;
}

/// Finds the typed state in a slot. The chain creates every slot with the
/// plugin's own `new_state`, so a mismatch is a bug; it is answered with
/// INTERNAL rather than a panic.
fn typed<S: 'static>(state: &mut AnyState) -> Result<&mut S, GatewayError> {
    state
        .downcast_mut::<S>()
        .ok_or_else(|| GatewayError::internal("plugin state slot holds the wrong type"))
}

#[async_trait]
impl<P: Plugin> DynPlugin for P {
    fn name(&self) -> &'static str {
        Plugin::name(self)
    }
    fn hooks(&self) -> Hooks {
        Plugin::hooks(self)
    }
    fn new_state(&self) -> Box<AnyState> {
        Box::new(P::State::default())
    }
    async fn request(
        &self,
        state: &mut AnyState,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        Plugin::request(self, typed(state)?, cx).await
    }
    fn request_body(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError> {
        Plugin::request_body(self, typed(state)?, call, body, eos)
    }
    fn upstream_request(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        Plugin::upstream_request(self, typed(state)?, call, request)
    }
    fn response(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        Plugin::response(self, typed(state)?, call, response)
    }
    fn response_body(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError> {
        Plugin::response_body(self, typed(state)?, call, body, eos)
    }
    fn response_trailers(
        &self,
        state: &mut AnyState,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        Plugin::response_trailers(self, typed(state)?, call, trailers)
    }
    fn log(&self, state: &mut AnyState, call: &CallInfo) {
        if let Ok(state) = typed(state) {
            Plugin::log(self, state, call);
        }
    }
    fn describe(&self) -> Vec<String> {
        Plugin::describe(self)
    }
}

/// Per-call plugin state: one slot per chain position, plus how far the
/// request phase got (so a local answer runs the response hooks of exactly
/// the plugins whose request hooks ran).
#[derive(Default)]
pub struct Slots {
    pub(crate) states: Vec<Box<AnyState>>,
    request_ran: usize,
    /// The plugin that answered the call itself, if one did.
    responder: Option<usize>,
}

/// The plugin chain of one route, indexed per hook.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<dyn DynPlugin>>,
    by_hook: [Vec<usize>; 7],
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Chain {
    /// Builds a chain from plugins in run order.
    pub fn new(plugins: Vec<Arc<dyn DynPlugin>>) -> Self {
        let mut by_hook: [Vec<usize>; 7] = Default::default();
        for (position, plugin) in plugins.iter().enumerate() {
            for (hook_index, hook) in Hooks::ALL.iter().enumerate() {
                if plugin.hooks().contains(*hook) {
                    by_hook[hook_index].push(position);
                }
            }
        }
        Self { plugins, by_hook }
    }

    /// What each plugin adds to the route, for `protogate routes`: the
    /// plugin's name and its lines, for plugins that have any.
    pub fn describe(&self) -> Vec<(&'static str, Vec<String>)> {
        self.plugins
            .iter()
            .map(|p| (p.name(), p.describe()))
            .filter(|(_, lines)| !lines.is_empty())
            .collect()
    }

    /// The plugin names in run order.
    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// Fresh per-call state for every plugin. Plugins whose state is `()`
    /// cost no allocation (a zero-sized box does not allocate).
    pub fn new_slots(&self) -> Slots {
        Slots {
            states: self.plugins.iter().map(|p| p.new_state()).collect(),
            request_ran: 0,
            responder: None,
        }
    }

    fn positions(&self, hook: Hooks) -> &[usize] {
        // Each hook is one bit, in the order of `Hooks::ALL`.
        let index = hook.bit_index();
        self.by_hook.get(index).map_or(&[], Vec::as_slice)
    }

    /// Runs the request hooks in order until one answers or fails.
    /// `connector` is the way to the route's upstream for plugins that make
    /// their own call ([`RequestCx::call_upstream`]).
    pub async fn request(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        downstream: &mut dyn Downstream,
        connector: Option<&dyn UpstreamConnector>,
    ) -> Result<Flow, GatewayError> {
        for (position, plugin) in self.plugins.iter().enumerate() {
            slots.request_ran = position + 1;
            if !plugin.hooks().contains(Hooks::REQUEST) {
                continue;
            }
            // The running plugin's state leaves its slot for the duration of
            // its hook, so an upstream call it makes can run the other
            // plugins' hooks on the remaining slots. `Box<()>` does not allocate.
            let Some(slot) = slots.states.get_mut(position) else {
                return Err(GatewayError::internal(
                    "plugin state slots do not match the chain",
                ));
            };
            let mut state = std::mem::replace(slot, Box::new(()));
            let flow = {
                let mut cx = RequestCx {
                    call: &mut *call,
                    downstream: &mut *downstream,
                    chain: self,
                    slots: &mut *slots,
                    position,
                    connector,
                };
                plugin.request(state.as_mut(), &mut cx).await
            };
            if let Some(slot) = slots.states.get_mut(position) {
                std::mem::swap(slot, &mut state);
            }
            match flow? {
                Flow::Continue => {}
                answer @ Flow::Respond(_) => {
                    slots.responder = Some(position);
                    return Ok(answer);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs the request-body hooks in order.
    pub fn request_body(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError> {
        for &position in self.positions(Hooks::REQUEST_BODY) {
            self.plugins[position].request_body(slot(slots, position)?, call, body, eos)?;
        }
        Ok(())
    }

    /// Runs the upstream-request hooks in order.
    pub fn upstream_request(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        request: &mut RequestHeader,
    ) -> Result<(), GatewayError> {
        self.upstream_request_except(slots, call, request, usize::MAX)
    }

    /// Runs the upstream-request hooks in order, except the plugin at
    /// `skip` (the one making an out-of-pipeline call).
    pub(crate) fn upstream_request_except(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        request: &mut RequestHeader,
        skip: usize,
    ) -> Result<(), GatewayError> {
        for &position in self.positions(Hooks::UPSTREAM_REQUEST) {
            if position != skip {
                self.plugins[position].upstream_request(slot(slots, position)?, call, request)?;
            }
        }
        Ok(())
    }

    /// Runs the response hooks in reverse order, over the plugins whose
    /// request phase ran (all of them when the upstream answered).
    pub fn response(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        let ran = slots.request_ran;
        for &position in self.positions(Hooks::RESPONSE).iter().rev() {
            if position < ran {
                self.plugins[position].response(slot(slots, position)?, call, response)?;
            }
        }
        Ok(())
    }

    /// Runs the response-body hooks in reverse order.
    pub fn response_body(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        body: &mut Option<Bytes>,
        eos: bool,
    ) -> Result<(), GatewayError> {
        for &position in self.positions(Hooks::RESPONSE_BODY).iter().rev() {
            self.plugins[position].response_body(slot(slots, position)?, call, body, eos)?;
        }
        Ok(())
    }

    /// Runs the response-trailer hooks in reverse order.
    pub fn response_trailers(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        self.response_trailers_except(slots, call, trailers, usize::MAX)
    }

    /// Runs the response-trailer hooks in reverse order, except `skip`.
    pub(crate) fn response_trailers_except(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
        skip: usize,
    ) -> Result<(), GatewayError> {
        for &position in self.positions(Hooks::RESPONSE_TRAILERS).iter().rev() {
            if position != skip {
                self.plugins[position].response_trailers(slot(slots, position)?, call, trailers)?;
            }
        }
        Ok(())
    }

    /// Runs the response-trailer hooks, in reverse order, on the trailers a
    /// streamed local answer reported at its end: every plugin's but the
    /// one that answered (it saw them first).
    pub fn streamed_trailers(
        &self,
        slots: &mut Slots,
        call: &mut CallInfo,
        trailers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        let skip = slots.responder.unwrap_or(usize::MAX);
        self.response_trailers_except(slots, call, trailers, skip)
    }

    /// Runs every plugin's log hook, whether or not its request hook ran.
    pub fn log(&self, slots: &mut Slots, call: &CallInfo) {
        for &position in self.positions(Hooks::LOG) {
            if let Ok(state) = slot(slots, position) {
                self.plugins[position].log(state, call);
            }
        }
    }

    /// Marks the whole request phase as run: used when the call is proxied,
    /// so every plugin's response hooks run.
    pub fn mark_request_complete(&self, slots: &mut Slots) {
        slots.request_ran = self.plugins.len();
    }
}

fn slot(slots: &mut Slots, position: usize) -> Result<&mut AnyState, GatewayError> {
    slots
        .states
        .get_mut(position)
        .map(|b| b.as_mut())
        .ok_or_else(|| GatewayError::internal("plugin state slots do not match the chain"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalResponse;
    use protogate_grpc::status::Code;
    use std::sync::Mutex;

    /// Records every hook it sees into a shared journal.
    struct Recorder {
        name: &'static str,
        journal: Arc<Mutex<Vec<String>>>,
        refuse: bool,
    }

    #[derive(Default)]
    struct Count(u32);

    #[async_trait]
    impl Plugin for Recorder {
        type State = Count;
        fn name(&self) -> &'static str {
            self.name
        }
        fn hooks(&self) -> Hooks {
            Hooks::REQUEST | Hooks::RESPONSE | Hooks::LOG
        }
        async fn request(
            &self,
            state: &mut Count,
            _cx: &mut RequestCx<'_>,
        ) -> Result<Flow, GatewayError> {
            state.0 += 1;
            self.note("request");
            if self.refuse {
                let err = GatewayError::new(Code::ResourceExhausted, "no");
                return Ok(Flow::Respond(LocalResponse::Error(err)));
            }
            Ok(Flow::Continue)
        }
        fn response(
            &self,
            _state: &mut Count,
            _call: &mut CallInfo,
            _response: &mut ResponseHeader,
        ) -> Result<(), GatewayError> {
            self.note("response");
            Ok(())
        }
        fn log(&self, state: &mut Count, _call: &CallInfo) {
            self.note(&format!("log(requests={})", state.0));
        }
    }

    impl Recorder {
        fn note(&self, what: &str) {
            if let Ok(mut j) = self.journal.lock() {
                j.push(format!("{}.{what}", self.name));
            }
        }
    }

    struct NoBody(RequestHeader);

    #[async_trait]
    impl Downstream for NoBody {
        fn req_header(&self) -> &RequestHeader {
            &self.0
        }
        fn req_header_mut(&mut self) -> &mut RequestHeader {
            &mut self.0
        }
        async fn read_body(&mut self) -> Result<Option<Bytes>, GatewayError> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_refusal_stops_requests_unwinds_responses_and_logs_everyone() {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let mk = |name, refuse| -> Arc<dyn DynPlugin> {
            Arc::new(Recorder {
                name,
                journal: journal.clone(),
                refuse,
            })
        };
        let chain = Chain::new(vec![mk("a", false), mk("b", true), mk("c", false)]);
        let mut slots = chain.new_slots();
        let mut call = CallInfo::default();
        let mut ds = NoBody(RequestHeader::build("GET", b"/", None).expect("header"));
        let flow = chain
            .request(&mut slots, &mut call, &mut ds, None)
            .await
            .expect("flow");
        assert!(matches!(flow, Flow::Respond(LocalResponse::Error(_))));
        let mut resp = ResponseHeader::build(200, None).expect("header");
        chain
            .response(&mut slots, &mut call, &mut resp)
            .expect("response");
        chain.log(&mut slots, &call);
        let journal = journal.lock().expect("journal").clone();
        assert_eq!(
            journal,
            [
                "a.request",
                "b.request",
                "b.response",
                "a.response",
                "a.log(requests=1)",
                "b.log(requests=1)",
                "c.log(requests=0)",
            ]
        );
    }

    #[test]
    fn hooks_are_indexed_so_unimplemented_ones_are_skipped() {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let p: Arc<dyn DynPlugin> = Arc::new(Recorder {
            name: "a",
            journal,
            refuse: false,
        });
        let chain = Chain::new(vec![p]);
        assert_eq!(chain.positions(Hooks::REQUEST), &[0]);
        assert!(chain.positions(Hooks::RESPONSE_BODY).is_empty());
        assert_eq!(chain.names(), ["a"]);
    }

    /// Stamps the upstream request and notes the trailers it sees.
    struct Stamp(&'static str, Arc<Mutex<Vec<String>>>);

    #[async_trait]
    impl Plugin for Stamp {
        type State = ();
        fn name(&self) -> &'static str {
            self.0
        }
        fn hooks(&self) -> Hooks {
            Hooks::UPSTREAM_REQUEST | Hooks::RESPONSE_TRAILERS
        }
        fn upstream_request(
            &self,
            _state: &mut (),
            _call: &mut CallInfo,
            request: &mut RequestHeader,
        ) -> Result<(), GatewayError> {
            request
                .append_header("x-stamp", self.0)
                .map_err(|e| GatewayError::internal(e.to_string()))?;
            Ok(())
        }
        fn response_trailers(
            &self,
            _state: &mut (),
            _call: &mut CallInfo,
            trailers: &mut HeaderMap,
        ) -> Result<(), GatewayError> {
            let status = trailers
                .get("grpc-status")
                .map(|v| v.to_str().unwrap_or("?").to_owned());
            if let Ok(mut j) = self.1.lock() {
                j.push(format!(
                    "{}.trailers(grpc-status={})",
                    self.0,
                    status.unwrap_or_default()
                ));
            }
            Ok(())
        }
    }

    /// Makes its own upstream call and answers with the body it got.
    struct Caller;

    #[derive(Default)]
    struct CallerState(u32);

    #[async_trait]
    impl Plugin for Caller {
        type State = CallerState;
        fn name(&self) -> &'static str {
            "caller"
        }
        fn hooks(&self) -> Hooks {
            Hooks::REQUEST | Hooks::UPSTREAM_REQUEST | Hooks::RESPONSE_TRAILERS
        }
        async fn request(
            &self,
            state: &mut CallerState,
            cx: &mut RequestCx<'_>,
        ) -> Result<Flow, GatewayError> {
            state.0 += 1;
            let request = RequestHeader::build("POST", b"/pkg.Svc/M", None)
                .map_err(|e| GatewayError::internal(e.to_string()))?;
            let answer = cx
                .call_upstream(
                    request,
                    Bytes::from_static(b"in"),
                    crate::CallLimits {
                        max_response_bytes: 1024,
                    },
                )
                .await?;
            Ok(Flow::Respond(LocalResponse::Http {
                header: Box::new(answer.header),
                body: answer.body,
            }))
        }
        fn upstream_request(
            &self,
            _state: &mut CallerState,
            _call: &mut CallInfo,
            _request: &mut RequestHeader,
        ) -> Result<(), GatewayError> {
            Err(GatewayError::internal(
                "the calling plugin's own hooks must not run",
            ))
        }
    }

    /// Answers in process: this tests the chain's hook order, not a network.
    struct Echoing(Arc<Mutex<Vec<String>>>);

    #[async_trait]
    impl UpstreamConnector for Echoing {
        async fn open(
            &self,
            _call: &mut CallInfo,
            _request: RequestHeader,
        ) -> Result<Box<dyn crate::UpstreamStream>, GatewayError> {
            Err(GatewayError::internal("streaming is not used here"))
        }

        async fn send(
            &self,
            _call: &mut CallInfo,
            request: RequestHeader,
            body: Bytes,
            _limits: crate::CallLimits,
        ) -> Result<crate::UpstreamResponse, GatewayError> {
            let stamps: Vec<&str> = request
                .headers
                .get_all("x-stamp")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if let Ok(mut j) = self.0.lock() {
                j.push(format!("send(stamps={})", stamps.join(",")));
            }
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            Ok(crate::UpstreamResponse {
                header: ResponseHeader::build(200, None)
                    .map_err(|e| GatewayError::internal(e.to_string()))?,
                body,
                trailers: Some(trailers),
            })
        }
    }

    #[tokio::test]
    async fn an_out_of_pipeline_call_runs_the_other_plugins_hooks() {
        let journal = Arc::new(Mutex::new(Vec::new()));
        let chain = Chain::new(vec![
            Arc::new(Stamp("a", journal.clone())) as Arc<dyn DynPlugin>,
            Arc::new(Caller),
            Arc::new(Stamp("c", journal.clone())),
        ]);
        let mut slots = chain.new_slots();
        let mut call = CallInfo::default();
        let mut ds = NoBody(RequestHeader::build("GET", b"/", None).expect("header"));
        let connector = Echoing(journal.clone());
        let flow = chain
            .request(&mut slots, &mut call, &mut ds, Some(&connector))
            .await
            .expect("flow");
        let Flow::Respond(LocalResponse::Http { body, .. }) = flow else {
            panic!("the caller answers itself");
        };
        assert_eq!(body, Bytes::from_static(b"in"));
        assert_eq!(
            journal.lock().expect("journal").clone(),
            [
                "send(stamps=a,c)",
                "c.trailers(grpc-status=0)",
                "a.trailers(grpc-status=0)"
            ]
        );
        // The caller's state went back into its slot after the hook.
        let state = slots.states[1]
            .downcast_ref::<CallerState>()
            .expect("state restored");
        assert_eq!(state.0, 1);
    }
}
