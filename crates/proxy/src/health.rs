//! Active health checks: every target of an upstream with a
//! `health_check` is probed every `interval`, each target on its own task.
//! `unhealthy_threshold` failed probes in a row (default 1) take the target
//! out of rotation (calls skip it); `healthy_threshold` passed ones
//! (default 1) bring it back. When every target is out, calls get
//! UNAVAILABLE (503) at once. `protogate_upstream_target_healthy` shows the
//! verdicts.
//!
//! - `grpc` / `grpcs`: `grpc.health.v1.Health/Check` for `service` (`""`,
//!   the whole server, by default); healthy when the answer is SERVING.
//! - `http` / `https`: a GET of `path` (`/` by default); healthy on 2xx.
//!
//! Probes go through Pingora's connector with the target's own peer, so
//! they use the same TLS settings as calls, on a connection pool of their
//! own. They run on one thread with its own tokio runtime, started the
//! first time a runtime with health checks is served. A task ends when its
//! upstream is gone (a reload replaced it), and the new runtime's targets
//! start healthy and are probed at once.

use std::sync::{Arc, OnceLock, Weak};

use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_http::RequestHeader;
use prost::Message as _;
use protogate_config::HealthCheckConfig;
use protogate_grpc::frame::FrameDecoder;
use protogate_metrics::{IntGauge, Metrics};

use crate::connect::{address_request, failure_reason};
use crate::upstream_call::{exchange, Exchange};
use crate::{Runtime, Upstream};

/// The path of the gRPC health check.
const GRPC_HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// `HealthCheckResponse.status` SERVING.
const SERVING: u64 = 1;
/// The largest answer a probe reads.
const MAX_ANSWER: usize = 64 * 1024;

/// Starts the health checks of every upstream of `runtime` that has one.
pub fn start(runtime: &Runtime, metrics: &Metrics) {
    let upstreams = runtime.upstreams();
    if upstreams.iter().all(|u| u.health_check.is_none()) {
        return;
    }
    let Some(handle) = checker_runtime() else {
        return;
    };
    let pool = Arc::new(Connector::new(None));
    for upstream in upstreams {
        if upstream.health_check.is_none() {
            continue;
        }
        for (index, target) in upstream.targets().iter().enumerate() {
            let gauge = metrics.target_health(&upstream.name, &target.label);
            gauge.set(1);
            handle.spawn(watch(
                Arc::downgrade(&upstream),
                index,
                gauge,
                Arc::clone(&pool),
            ));
        }
    }
}

/// The health-check thread's runtime, started once.
fn checker_runtime() -> Option<tokio::runtime::Handle> {
    static HANDLE: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .inspect_err(|e| log::error!("health checks: no runtime: {e}"))
                .ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("protogate-health".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .inspect_err(|e| log::error!("health checks: no thread: {e}"))
                .ok()?;
            Some(handle)
        })
        .clone()
}

/// Probes one target every interval while its upstream lives.
async fn watch(upstream: Weak<Upstream>, index: usize, gauge: IntGauge, pool: Arc<Connector>) {
    let mut streak = Streak::default();
    loop {
        let Some(upstream) = upstream.upgrade() else {
            return;
        };
        let (Some(check), Some(target)) = (&upstream.health_check, upstream.targets().get(index))
        else {
            return;
        };
        let interval = check.interval;
        let verdict = match tokio::time::timeout(
            check.timeout,
            probe(&pool, &upstream, index, check),
        )
        .await
        {
            Ok(verdict) => verdict,
            Err(_) => Err(format!("no answer within {:?}", check.timeout)),
        };
        let changed = streak.record(
            verdict.is_ok(),
            check.unhealthy_threshold,
            check.healthy_threshold,
        );
        if let Some(healthy) = changed {
            gauge.set(i64::from(healthy));
            target.set_healthy(healthy);
            match &verdict {
                Ok(()) => log::info!(
                    "upstream `{}` target {} passes its health check again: back in rotation",
                    upstream.name,
                    target.label
                ),
                Err(why) => log::warn!(
                    "upstream `{}` target {} fails its health check ({why}): out of rotation",
                    upstream.name,
                    target.label
                ),
            }
        } else if let Err(why) = &verdict {
            if streak.healthy {
                log::debug!(
                    "upstream `{}` target {} failed a health check ({why}); still in rotation",
                    upstream.name,
                    target.label
                );
            }
        }
        drop(upstream);
        tokio::time::sleep(interval).await;
    }
}

/// A target's standing in the rotation, from its probes: it changes only
/// after enough probes in a row disagree with it (`unhealthy_threshold`
/// failures take it out, `healthy_threshold` passes bring it back), so one
/// lost probe does not flap a target. Targets start healthy.
#[derive(Debug)]
struct Streak {
    healthy: bool,
    against: u32,
}

impl Default for Streak {
    fn default() -> Self {
        Self {
            healthy: true,
            against: 0,
        }
    }
}

impl Streak {
    /// Records one probe; the new standing when it changes.
    fn record(&mut self, passed: bool, to_fail: u32, to_pass: u32) -> Option<bool> {
        if passed == self.healthy {
            self.against = 0;
            return None;
        }
        self.against += 1;
        let needed = if passed { to_pass } else { to_fail };
        if self.against < needed.max(1) {
            return None;
        }
        self.healthy = passed;
        self.against = 0;
        Some(passed)
    }
}

/// One probe of the target at `index`.
async fn probe(
    pool: &Connector,
    upstream: &Upstream,
    index: usize,
    check: &HealthCheckConfig,
) -> Result<(), String> {
    let target = upstream
        .targets()
        .get(index)
        .ok_or_else(|| "no such target".to_owned())?;
    let peer = target.peer();
    let (mut session, _reused) = pool
        .get_http_session(&*peer)
        .await
        .map_err(|e| failure_reason(&e))?;
    let (mut request, body) = if upstream.is_grpc() {
        grpc_check(check.service.as_deref().unwrap_or(""))?
    } else {
        http_check(check.path.as_deref().unwrap_or("/"))?
    };
    address_request(&mut request, upstream, &target.label, None)
        .map_err(|e| e.message.to_string())?;
    let answer = match exchange(&mut session, request, body, MAX_ANSWER).await {
        Ok(answer) => answer,
        Err(Exchange::Failed(e)) => return Err(failure_reason(&e)),
        Err(Exchange::TooLarge) => return Err("the answer is too large".into()),
    };
    if session.response_done() {
        pool.release_http_session(session, &*peer, None).await;
    }
    if upstream.is_grpc() {
        let status = answer
            .trailers
            .as_ref()
            .and_then(|t| t.get("grpc-status"))
            .or_else(|| answer.header.headers.get("grpc-status"))
            .map(|v| v.as_bytes().to_vec());
        if status.as_deref() != Some(b"0") {
            let shown = status.map_or_else(
                || "none".into(),
                |s| String::from_utf8_lossy(&s).into_owned(),
            );
            return Err(format!("grpc-status {shown}"));
        }
        match serving_status(&answer.body) {
            Some(SERVING) => Ok(()),
            Some(other) => Err(format!("health status {other} (not SERVING)")),
            None => Err("an unreadable HealthCheckResponse".into()),
        }
    } else if answer.header.status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", answer.header.status))
    }
}

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse` (its status as the enum's number).
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `POST /grpc.health.v1.Health/Check` with `HealthCheckRequest{service}`.
fn grpc_check(service: &str) -> Result<(RequestHeader, Bytes), String> {
    let mut request = RequestHeader::build("POST", GRPC_HEALTH_CHECK.as_bytes(), None)
        .map_err(|e| e.to_string())?;
    for (name, value) in [("content-type", "application/grpc"), ("te", "trailers")] {
        request
            .insert_header(name, value)
            .map_err(|e| e.to_string())?;
    }
    let message = HealthCheckRequest {
        service: service.to_owned(),
    }
    .encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + message.len());
    protogate_grpc::frame::try_encode(&message, false, &mut frame).map_err(|e| e.to_string())?;
    Ok((request, frame.freeze()))
}

/// `GET path`.
fn http_check(path: &str) -> Result<(RequestHeader, Bytes), String> {
    let request = RequestHeader::build("GET", path.as_bytes(), None).map_err(|e| e.to_string())?;
    Ok((request, Bytes::new()))
}

/// `HealthCheckResponse.status` from a gRPC answer body: one uncompressed
/// frame. An absent field is UNKNOWN (0).
fn serving_status(body: &[u8]) -> Option<u64> {
    let mut frames = FrameDecoder::new(MAX_ANSWER as u32);
    frames.push(Bytes::copy_from_slice(body));
    let message = frames.next_message().ok()??;
    if message.compressed {
        return None;
    }
    let response = HealthCheckResponse::decode(message.data).ok()?;
    u64::try_from(response.status).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_changes_standing_only_after_enough_probes_in_a_row() {
        let mut streak = Streak::default();
        // Out after three failures in a row; a pass in between resets.
        assert_eq!(streak.record(false, 3, 2), None);
        assert_eq!(streak.record(false, 3, 2), None);
        assert_eq!(streak.record(true, 3, 2), None);
        assert_eq!(streak.record(false, 3, 2), None);
        assert_eq!(streak.record(false, 3, 2), None);
        assert_eq!(streak.record(false, 3, 2), Some(false));
        assert_eq!(streak.record(false, 3, 2), None);
        // Back after two passes in a row.
        assert_eq!(streak.record(true, 3, 2), None);
        assert_eq!(streak.record(false, 3, 2), None);
        assert_eq!(streak.record(true, 3, 2), None);
        assert_eq!(streak.record(true, 3, 2), Some(true));
    }

    #[test]
    fn thresholds_of_one_follow_every_probe() {
        let mut streak = Streak::default();
        assert_eq!(streak.record(false, 1, 1), Some(false));
        assert_eq!(streak.record(true, 1, 1), Some(true));
        assert_eq!(streak.record(true, 1, 1), None);
    }

    #[test]
    fn the_check_request_carries_the_service() {
        let (request, body) = grpc_check("pkg.Svc").expect("request");
        assert_eq!(request.uri.path(), GRPC_HEALTH_CHECK);
        assert_eq!(&body[..], b"\x00\x00\x00\x00\x09\x0a\x07pkg.Svc");
        let (_, empty) = grpc_check("").expect("request");
        assert_eq!(&empty[..], b"\x00\x00\x00\x00\x00");
    }

    #[test]
    fn serving_is_read_from_the_answer() {
        assert_eq!(
            serving_status(b"\x00\x00\x00\x00\x02\x08\x01"),
            Some(SERVING)
        );
        assert_eq!(serving_status(b"\x00\x00\x00\x00\x02\x08\x02"), Some(2));
        assert_eq!(serving_status(b"\x00\x00\x00\x00\x00"), Some(0));
        assert_eq!(serving_status(b"\x01\x00\x00\x00\x02\x08\x01"), None);
        assert_eq!(serving_status(b"\x00\x00\x00\x00\x09\x08"), None);
    }
}
