//! The `rate_limit` plugin: checks the call's key in its request hook,
//! refuses in the caller's protocol or lets it through, and puts the
//! `RateLimit` fields on the answer.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::HeaderValue;
use protogate_core::{
    CallInfo, Flow, GatewayError, Hooks, LocalResponse, Plugin, RequestCx, ResponseHeader,
};
use protogate_metrics::{Metrics, RateLimitMetrics};

use crate::answer;
use crate::breaker::Route;
use crate::config::{Limit, Mode, OnError, RateLimitConfig, Store};
use crate::gcra::Decision;
use crate::inflight::{Inflight, InflightGuard};
use crate::key;
use crate::local::LocalStore;
use crate::redis_store::{RedisStore, StoreError, TICKS_PER_SECOND as REDIS_TICKS};
use protogate_core::registry::Registry;

/// Nanoseconds: the local store's tick.
const LOCAL_TICKS: u64 = 1_000_000_000;

static LOCAL_STORES: Registry<LocalStore> = Registry::new();
static REDIS_STORES: Registry<SharedStore> = Registry::new();
static INFLIGHT: Registry<Inflight> = Registry::new();

/// A Redis store with the local budgets it falls back to.
struct SharedStore {
    redis: RedisStore,
    fallback: LocalStore,
    on_error: OnError,
    open_for: std::time::Duration,
}

/// One route's `rate_limit`.
pub struct RateLimiter {
    config: RateLimitConfig,
    budgets: Budgets,
    inflight: Option<Arc<Inflight>>,
    policy: Option<HeaderValue>,
    metrics: RateLimitMetrics,
    route: Arc<str>,
}

enum Budgets {
    None,
    Local(Arc<LocalStore>),
    Shared(Arc<SharedStore>),
}

/// Per call: what the check said (for the answer's headers) and the
/// call's place under the concurrency limit, given back when it ends.
#[derive(Default)]
pub struct CallState {
    decision: Option<(Decision, u64)>,
    _in_flight: Option<InflightGuard>,
}

impl RateLimiter {
    /// The plugin for `route`. `scope` names whose budgets these are: the
    /// route's own name, or `global` for the global plugin list (one budget
    /// across routes). Budgets of an unchanged scope, key and limits
    /// survive a reload.
    pub fn new(
        config: RateLimitConfig,
        scope: &str,
        route: &str,
        metrics: &Metrics,
    ) -> Result<Self, String> {
        let identity = format!("{scope}|{:?}|{}", config.key, signatures(&config.limits));
        let budgets = match &config.store {
            _ if config.limits.is_empty() => Budgets::None,
            Store::Local => {
                Budgets::Local(LOCAL_STORES.shared(identity, || LocalStore::new(&config.limits)))
            }
            Store::Redis(redis) => {
                let redis_store = RedisStore::new(scope, &config.limits, redis)?;
                let shares: Vec<Limit> = config
                    .limits
                    .iter()
                    .map(|l| l.share(redis.instances))
                    .collect();
                let identity = format!("{identity}|{redis:?}");
                Budgets::Shared(REDIS_STORES.shared(identity, || SharedStore {
                    redis: redis_store,
                    fallback: LocalStore::new(&shares),
                    on_error: redis.on_error,
                    open_for: redis.breaker_open_for,
                }))
            }
        };
        let inflight = config.concurrency.map(|max| {
            INFLIGHT.shared(format!("{scope}|{:?}|{max}", config.key), || {
                Inflight::new(max)
            })
        });
        let names: Vec<&str> = config.limits.iter().map(|l| l.name.as_str()).collect();
        Ok(Self {
            policy: answer::policy_value(&config.limits).filter(|_| config.headers),
            metrics: metrics.rate_limit(route, &names),
            route: Arc::from(route),
            config,
            budgets,
            inflight,
        })
    }

    /// Checks the budgets of `key`: the decision and its clock's ticks per
    /// second, or why the shared store could not say.
    async fn check(&self, key: &str) -> Result<Option<(Decision, u64)>, StoreError> {
        match &self.budgets {
            Budgets::None => Ok(None),
            Budgets::Local(store) => Ok(Some((store.check(key, store.now()), LOCAL_TICKS))),
            Budgets::Shared(shared) => self.check_shared(shared, key).await.map(Some),
        }
    }

    async fn check_shared(
        &self,
        shared: &SharedStore,
        key: &str,
    ) -> Result<(Decision, u64), StoreError> {
        let breaker = &shared.redis.breaker;
        if breaker.route(Instant::now()) == Route::Fallback {
            let fallback = &shared.fallback;
            return Ok((fallback.check(key, fallback.now()), LOCAL_TICKS));
        }
        let started = Instant::now();
        let result = shared.redis.check(key).await;
        let finished = Instant::now();
        self.metrics
            .redis_seconds
            .observe(finished.duration_since(started).as_secs_f64());
        if let Err(error) = &result {
            match error {
                StoreError::Timeout => self.metrics.redis_timeouts.inc(),
                StoreError::Failed(_) => self.metrics.redis_errors.inc(),
            }
        }
        if let Some(open) = breaker.record(result.is_ok(), finished) {
            self.metrics.breaker_open.set(i64::from(open));
            match (&result, open) {
                (Err(error), true) => log::warn!(
                    target: "protogate::rate_limit",
                    "route {}: Redis breaker opened ({error}); local fallback for {:?}",
                    self.route,
                    shared.open_for
                ),
                _ => log::info!(
                    target: "protogate::rate_limit",
                    "route {}: Redis is back; breaker closed",
                    self.route
                ),
            }
        }
        result.map(|decision| (decision, REDIS_TICKS))
    }

    fn count(&self, decision: &Decision) {
        let shadow = self.config.mode == Mode::Shadow;
        for index in 0..decision.len {
            let counter = match (decision.allowed, decision.refused[index], shadow) {
                (true, _, _) => &self.metrics.allowed[index],
                (false, true, false) => &self.metrics.refused[index],
                (false, true, true) => &self.metrics.shadow_refused[index],
                (false, false, _) => continue,
            };
            counter.inc();
        }
    }

    /// A refusal, or in shadow mode a log line and `None`.
    fn refuse(&self, error: GatewayError, call: &mut CallInfo, key: &str) -> Option<Flow> {
        let shadow = self.config.mode == Mode::Shadow;
        call.events.push(protogate_core::CallEvent::now(
            if shadow {
                "rate_limited_shadow"
            } else {
                "rate_limited"
            },
            vec![
                ("protogate.rate_limit.message", error.message.to_string()),
                ("rpc.response.status_code", error.code.name().to_owned()),
            ],
        ));
        if shadow {
            log::info!(
                target: "protogate::rate_limit",
                "shadow: route {} key {} would be refused: {}",
                self.route,
                key::readable(key),
                error.message
            );
            return None;
        }
        log::debug!(
            target: "protogate::rate_limit",
            "route {} refused {}/{}: {}",
            self.route,
            call.grpc_service,
            call.grpc_method,
            error.message
        );
        Some(Flow::Respond(LocalResponse::Error(error)))
    }

    fn state_header(&self, decision: &Decision, ticks: u64) -> Option<HeaderValue> {
        self.policy.as_ref()?;
        answer::state_value(&self.config.limits, decision, ticks)
    }
}

#[async_trait]
impl Plugin for RateLimiter {
    type State = CallState;

    fn name(&self) -> &'static str {
        crate::NAME
    }

    fn hooks(&self) -> Hooks {
        if self.config.headers {
            Hooks::REQUEST | Hooks::RESPONSE
        } else {
            Hooks::REQUEST
        }
    }

    async fn request(
        &self,
        state: &mut CallState,
        cx: &mut RequestCx<'_>,
    ) -> Result<Flow, GatewayError> {
        let key = key::build(&self.config.key, cx.call, cx.downstream.req_header());
        let code = self.config.grpc_status;
        if let Some(inflight) = &self.inflight {
            match inflight.acquire(&key) {
                Some(guard) => state._in_flight = Some(guard),
                None => {
                    let shadow = self.config.mode == Mode::Shadow;
                    if shadow {
                        self.metrics.concurrency_shadow.inc();
                    } else {
                        self.metrics.concurrency_refused.inc();
                    }
                    let error = answer::too_many_in_flight(code, inflight.max());
                    if let Some(flow) = self.refuse(error, cx.call, &key) {
                        return Ok(flow);
                    }
                }
            }
        }
        let checked = match self.check(&key).await {
            Ok(checked) => checked,
            Err(error) => {
                let Budgets::Shared(shared) = &self.budgets else {
                    return Ok(Flow::Continue);
                };
                if shared.on_error == OnError::Allow {
                    return Ok(Flow::Continue);
                }
                let refusal = answer::store_down(code, shared.open_for, &error.to_string());
                return Ok(self
                    .refuse(refusal, cx.call, &key)
                    .unwrap_or(Flow::Continue));
            }
        };
        let Some((decision, ticks)) = checked else {
            return Ok(Flow::Continue);
        };
        self.count(&decision);
        state.decision = Some((decision, ticks));
        if decision.allowed {
            return Ok(Flow::Continue);
        }
        let headers = self
            .policy
            .as_ref()
            .and_then(|policy| Some((policy, self.state_header(&decision, ticks)?)));
        let error = answer::refusal(code, &self.config.limits, &decision, ticks, headers);
        Ok(self.refuse(error, cx.call, &key).unwrap_or(Flow::Continue))
    }

    fn response(
        &self,
        state: &mut CallState,
        _call: &mut CallInfo,
        response: &mut ResponseHeader,
    ) -> Result<(), GatewayError> {
        let (Some(policy), Some((decision, ticks))) = (&self.policy, &state.decision) else {
            return Ok(());
        };
        let Some(value) = self.state_header(decision, *ticks) else {
            return Ok(());
        };
        // `insert`, not `append`: a refusal already carries both. A header
        // without a case map (every gRPC answer) is edited through its
        // inner map, where a write parses no name.
        if response.has_case() {
            // Valid names and values: inserting cannot fail.
            let _ = response.insert_header(answer::POLICY, policy.clone());
            let _ = response.insert_header(answer::STATE, value);
        } else {
            let _ = protogate_core::parts::edit_response(response, |map| {
                map.insert(answer::POLICY, policy.clone());
                map.insert(answer::STATE, value);
            });
        }
        Ok(())
    }

    fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .config
            .limits
            .iter()
            .map(|l| {
                format!(
                    "limit {}: {} per {}, burst {}",
                    l.name,
                    l.requests,
                    crate::config::short_duration(l.per),
                    l.burst
                )
            })
            .collect();
        if let Some(max) = self.config.concurrency {
            lines.push(format!("concurrency: at most {max} in flight per key"));
        }
        let store = match &self.config.store {
            Store::Local => "store: local (this process)".to_owned(),
            Store::Redis(redis) => format!(
                "store: redis (timeout {:?}, on_error {:?}, fallback 1/{} of each limit while the breaker is open)",
                redis.timeout, redis.on_error, redis.instances
            ),
        };
        lines.push(store);
        let key: Vec<String> = self.config.key.iter().map(ToString::to_string).collect();
        lines.push(format!("key: {}", key.join(", ")));
        if self.config.mode == Mode::Shadow {
            lines.push("mode: shadow (counts and logs, refuses nothing)".to_owned());
        }
        lines
    }
}

fn signatures(limits: &[Limit]) -> String {
    limits
        .iter()
        .map(Limit::signature)
        .collect::<Vec<_>>()
        .join(",")
}
