//! The forwarding loop of one call.

use std::future::poll_fn;

use bytes::Bytes;
use http::HeaderMap;
use pingora_core::connectors::http::Connector;
use pingora_core::protocols::http::client::HttpSession;
use pingora_core::protocols::http::v2::client::Http2Session;
use pingora_http::RequestHeader;
use protogate_core::GatewayError;
use protogate_grpc::status::parse_grpc_status;
use protogate_metrics::Metrics;
use tokio::time::Instant;

use super::caller::{Caller, Down};
use super::open::{open_stream, OpenStream};
use super::{Ending, Guards};
use crate::ctx::RequestCtx;
use crate::deadline::{call_deadline, exceeded, tell_upstream, within};
use crate::CompiledRoute;

/// Request bytes kept for replaying a call the upstream refused unseen,
/// as Pingora's own retry buffer.
const REPLAY_LIMIT: usize = 64 * 1024;

/// Headers that belong to one HTTP connection and never travel on.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Where the upstream's answer is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Body,
    Trailers,
}

enum Up {
    Header,
    Body(Bytes),
    BodyEnd,
    Trailers(Option<HeaderMap>),
    Failed(UpFailure),
}

enum UpFailure {
    /// The upstream refused the stream or is going away without having
    /// processed it: safe to send elsewhere.
    Unprocessed(String),
    /// Anything else: the call may have been seen.
    Other(String),
}

/// The request body sent so far, kept while it is small enough to replay.
#[derive(Default)]
struct Replay {
    chunks: Vec<Bytes>,
    len: usize,
    truncated: bool,
}

impl Replay {
    fn keep(&mut self, chunk: &Bytes) {
        if self.truncated {
            return;
        }
        self.len += chunk.len();
        if self.len > REPLAY_LIMIT {
            self.truncated = true;
            self.chunks.clear();
        } else {
            self.chunks.push(chunk.clone());
        }
    }
}

/// Runs one call to completion, or to the reason it ended early.
/// `request` is the caller's request header, already in native gRPC terms.
pub(crate) async fn run<C: Caller>(
    down: &mut C,
    mut request: RequestHeader,
    ctx: &mut RequestCtx,
    route: &CompiledRoute,
    pool: &Connector,
    metrics: &Metrics,
    guards: &mut Guards,
) -> Result<(), Ending> {
    let Guards {
        requests,
        responses,
    } = guards;
    let started = Instant::from_std(ctx.call.started);
    let from_caller = request.headers.contains_key("grpc-timeout");
    let deadline = call_deadline(&request, started, route.default_timeout())?;

    strip_hop_by_hop(&mut request);
    if let Some(deadline) = deadline {
        tell_upstream(&mut request, deadline)?;
    }
    let upstream = &route.upstream;
    // Each attempt is a request of its own: a replay on the next target
    // runs the upstream-request hooks again, on the request as it was
    // before they ran (so `tracing` gives each attempt its CLIENT span and
    // `traceparent`, and header rules apply once). Kept only when there
    // is a next target to try.
    let pristine = (upstream.len() > 1).then(|| request.clone());
    route
        .chain
        .upstream_request(&mut ctx.slots, &mut ctx.call, &mut request)?;

    let mut down_done = down.body_done();
    let start = upstream.next_start();
    let mut attempts = 1;
    ctx.call.upstream_sent = Some(std::time::Instant::now());
    let mut stream = within(
        deadline,
        open_stream(pool, upstream, metrics, start, &request, down_done),
    )
    .await
    .map_err(|_| exceeded(from_caller))??;
    ctx.target = Some(stream.target.clone());

    let mut replay = Replay::default();
    let mut phase = Phase::Header;

    let timer = tokio::time::sleep_until(deadline.unwrap_or_else(far_future));
    tokio::pin!(timer);

    loop {
        enum Event {
            Deadline,
            Down(Down),
            Up(Up),
        }
        let event = tokio::select! {
            biased;
            () = &mut timer, if deadline.is_some() => Event::Deadline,
            down_event = down.next(down_done) => Event::Down(down_event),
            up_event = next_upstream(&mut stream.session, phase) => Event::Up(up_event),
        };
        match event {
            Event::Deadline => {
                give_back(pool, stream).await; // resets this stream only
                return Err(exceeded(from_caller).into());
            }
            Event::Down(Down::Gone) => {
                give_back(pool, stream).await;
                return Err(Ending::CallerGone);
            }
            Event::Down(Down::Invalid(error)) => {
                give_back(pool, stream).await;
                return Err(error.into());
            }
            Event::Down(event) => {
                // A chunk that ends the body goes out with END_STREAM in the
                // same frame: upstream h2 servers budget small DATA frames
                // that do not end the stream (h2's flood guard), and it saves
                // a frame per unary call.
                let (chunk, end) = match event {
                    Down::Chunk(chunk) => (Some(chunk), down.body_done()),
                    _ => (None, true),
                };
                let checked = match &chunk {
                    Some(chunk) => requests.check(chunk),
                    None => Ok(()),
                }
                .and_then(|()| if end { requests.finish() } else { Ok(()) });
                if let Err(error) = checked {
                    give_back(pool, stream).await;
                    return Err(error.into());
                }
                down_done |= end;
                let mut body = chunk;
                route
                    .chain
                    .request_body(&mut ctx.slots, &mut ctx.call, &mut body, end)?;
                let outgoing = match body {
                    Some(chunk) => Some(chunk),
                    None if end => Some(Bytes::new()),
                    None => None,
                };
                if let Some(chunk) = outgoing {
                    replay.keep(&chunk);
                    match within(deadline, stream.session.write_request_body(chunk, end)).await {
                        Err(_) => {
                            give_back(pool, stream).await;
                            return Err(exceeded(from_caller).into());
                        }
                        // The upstream stopped reading (it may have answered
                        // already): stop sending and read its answer.
                        Ok(Err(_)) => down_done = true,
                        Ok(Ok(())) => {}
                    }
                }
            }
            Event::Up(Up::Header) => {
                ctx.call.upstream_answered = Some(std::time::Instant::now());
                let Some(mut header) = stream.session.response_header().cloned() else {
                    give_back(pool, stream).await;
                    return Err(
                        GatewayError::unavailable("upstream answered without a header").into(),
                    );
                };
                let end = stream.session.response_finished();
                if let Some(status) = header.headers.get("grpc-status") {
                    ctx.call.grpc_status = parse_grpc_status(status.as_bytes());
                }
                route
                    .chain
                    .response(&mut ctx.slots, &mut ctx.call, &mut header)?;
                ctx.call.http_status = Some(header.status.as_u16());
                if down.write_header(header, end).await.is_err() {
                    give_back(pool, stream).await;
                    return Err(Ending::CallerGone);
                }
                if end {
                    ctx.call.upstream_finished = ctx.call.upstream_answered;
                    give_back(pool, stream).await;
                    return Ok(());
                }
                phase = Phase::Body;
            }
            Event::Up(Up::Body(chunk)) => {
                if let Err(error) = responses.check(&chunk) {
                    give_back(pool, stream).await;
                    return Err(error.into());
                }
                let mut body = Some(chunk);
                route
                    .chain
                    .response_body(&mut ctx.slots, &mut ctx.call, &mut body, false)?;
                if let Some(chunk) = body {
                    match within(deadline, down.write_body(chunk)).await {
                        Err(_) => {
                            give_back(pool, stream).await;
                            return Err(exceeded(from_caller).into());
                        }
                        Ok(Err(_)) => {
                            give_back(pool, stream).await;
                            return Err(Ending::CallerGone);
                        }
                        Ok(Ok(())) => {}
                    }
                }
            }
            Event::Up(Up::BodyEnd) => phase = Phase::Trailers,
            Event::Up(Up::Trailers(Some(mut trailers))) => {
                ctx.call.upstream_finished = Some(std::time::Instant::now());
                if let Err(error) = responses.finish() {
                    give_back(pool, stream).await;
                    return Err(error.into());
                }
                if let Some(status) = trailers.get("grpc-status") {
                    ctx.call.grpc_status = parse_grpc_status(status.as_bytes());
                }
                route
                    .chain
                    .response_trailers(&mut ctx.slots, &mut ctx.call, &mut trailers)?;
                // The upstream stream is complete: its connection goes back
                // to the pool before a slow caller is written to.
                give_back(pool, stream).await;
                return down
                    .write_trailers(trailers)
                    .await
                    .map_err(|_| Ending::CallerGone);
            }
            Event::Up(Up::Trailers(None)) => {
                give_back(pool, stream).await;
                return Err(GatewayError::internal(format!(
                    "upstream `{}` ({}) ended the stream without grpc-status",
                    upstream.name,
                    ctx.target.as_deref().unwrap_or("?")
                ))
                .into());
            }
            Event::Up(Up::Failed(UpFailure::Unprocessed(reason)))
                if phase == Phase::Header && !replay.truncated && attempts < upstream.len() =>
            {
                // The upstream never processed this stream: replay it on the
                // next target.
                log::debug!(
                    "upstream {} refused the call ({reason}); retrying",
                    stream.target
                );
                ctx.call.events.push(protogate_core::CallEvent::now(
                    "retry",
                    vec![
                        ("protogate.upstream.target", stream.target.to_string()),
                        ("protogate.retry.reason", reason.to_string()),
                    ],
                ));
                give_back(pool, stream).await;
                if let Some(pristine) = &pristine {
                    request = pristine.clone();
                    route
                        .chain
                        .upstream_request(&mut ctx.slots, &mut ctx.call, &mut request)?;
                }
                // The next target gets the budget left now, not the one
                // the refused attempt was told.
                if let Some(deadline) = deadline {
                    tell_upstream(&mut request, deadline)?;
                }
                let next = start.wrapping_add(attempts);
                attempts += 1;
                ctx.call.upstream_sent = Some(std::time::Instant::now());
                let resend_end = down_done && replay.chunks.is_empty();
                stream = within(
                    deadline,
                    open_stream(pool, upstream, metrics, next, &request, resend_end),
                )
                .await
                .map_err(|_| exceeded(from_caller))??;
                ctx.target = Some(stream.target.clone());
                let count = replay.chunks.len();
                for (index, chunk) in replay.chunks.iter().enumerate() {
                    let end = down_done && index + 1 == count;
                    let _ = stream.session.write_request_body(chunk.clone(), end).await;
                }
            }
            Event::Up(Up::Failed(UpFailure::Unprocessed(reason) | UpFailure::Other(reason))) => {
                let target = stream.target.clone();
                give_back(pool, stream).await;
                return Err(GatewayError::unavailable(format!(
                    "upstream `{}` ({target}): {reason}",
                    upstream.name
                ))
                .into());
            }
        }
    }
}

/// The request as the upstream gets it loses the headers that belong to
/// the caller's connection. (`te: trailers` is the `grpc_proxy` plugin's
/// `upstream_request` hook, which runs on it next.)
fn strip_hop_by_hop(request: &mut RequestHeader) {
    for name in HOP_BY_HOP {
        request.remove_header(*name);
    }
}

/// The upstream's next event in the current phase.
async fn next_upstream(session: &mut Http2Session, phase: Phase) -> Up {
    match phase {
        Phase::Header => match poll_fn(|cx| session.poll_read_response_header(cx)).await {
            Ok(()) => Up::Header,
            Err(e) => Up::Failed(classify_h2(&e)),
        },
        Phase::Body => match poll_fn(|cx| session.poll_read_response_body(cx)).await {
            Some(Ok(chunk)) => Up::Body(chunk),
            Some(Err(e)) => Up::Failed(classify_h2(&e)),
            None => Up::BodyEnd,
        },
        Phase::Trailers => match session.read_trailers().await {
            Ok(trailers) => Up::Trailers(trailers),
            Err(e) => Up::Failed(UpFailure::Other(format!(
                "stream failed: {}",
                e.etype().as_str()
            ))),
        },
    }
}

fn classify_h2(error: &h2::Error) -> UpFailure {
    let refused = error.reason() == Some(h2::Reason::REFUSED_STREAM) && error.is_remote();
    let going_away = error.is_go_away() && error.is_remote();
    if refused || going_away {
        UpFailure::Unprocessed(format!("stream refused ({error})"))
    } else if error.is_io() {
        UpFailure::Other(format!("connection lost ({error})"))
    } else {
        UpFailure::Other(format!("stream reset ({error})"))
    }
}

/// Hands the stream's connection back to the pool. An unfinished stream is
/// reset (the upstream call is cancelled); other streams on the same
/// connection carry on.
async fn give_back(pool: &Connector, stream: OpenStream) {
    pool.release_http_session(HttpSession::H2(stream.session), &*stream.peer, None)
        .await;
}

/// A timer that never fires within a call's life (used when there is no
/// deadline; the branch is disabled anyway).
fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86_400 * 365)
}
