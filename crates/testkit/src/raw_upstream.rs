//! A raw HTTP/2 upstream written with the `h2` crate, for behaviour a real
//! gRPC server does not show on demand: refusing streams, resetting
//! mid-stream, hanging, reporting the headers it received.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the server does with every call whose path ends in a given method.
///
/// - `/…/Echo`: answers with the request body as the response body, the
///   received `grpc-timeout` in an `x-seen-grpc-timeout` header, and
///   `grpc-status: 0` trailers.
/// - `/…/Refuse`: resets the stream with REFUSED_STREAM before reading it.
/// - `/…/ResetMid`: sends headers and one message, then resets the stream
///   with INTERNAL_ERROR.
/// - `/…/Hang`: sends nothing until the caller gives up.
/// - `/…/GoQuiet`: sends headers and two messages, then nothing until the
///   caller gives up (a stream that goes quiet).
pub struct RawUpstream {
    /// Where it listens.
    pub addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    authorities: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl RawUpstream {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> Self {
        Self::start_refusing(false).await
    }

    /// Starts a server that refuses every stream (REFUSED_STREAM), whatever
    /// the method: a target that is up but will not take calls.
    pub async fn start_refusing(refuse_all: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind raw upstream");
        let addr = listener.local_addr().expect("addr");
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let authorities = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (task_calls, task_seen) = (calls.clone(), seen.clone());
        let task_authorities = authorities.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((socket, _)) = accepted else { continue };
                let (calls, seen) = (task_calls.clone(), task_seen.clone());
                let authorities = task_authorities.clone();
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        calls.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut s) = seen.lock() {
                            s.push(request.headers().clone());
                        }
                        if let Ok(mut a) = authorities.lock() {
                            let authority = request.uri().authority().map(|a| a.to_string());
                            a.push(authority.unwrap_or_default());
                        }
                        tokio::spawn(serve_call(request, respond, refuse_all));
                    }
                });
            }
        });
        Self {
            addr,
            calls,
            seen,
            authorities,
            stop: Some(stop),
        }
    }

    /// How many streams it accepted (refused ones included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The request headers of every stream, in arrival order.
    pub fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The `:authority` of every stream, in arrival order (empty if none).
    pub fn authorities(&self) -> Vec<String> {
        self.authorities
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve_call(
    request: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    refuse_all: bool,
) {
    let path = request.uri().path().to_owned();
    let method = path.rsplit('/').next().unwrap_or_default().to_owned();
    if refuse_all || method == "Refuse" {
        respond.send_reset(h2::Reason::REFUSED_STREAM);
        return;
    }
    let timeout_seen = request.headers().get("grpc-timeout").cloned();
    let mut body = request.into_body();
    match method.as_str() {
        "Hang" => {
            // Hold the stream open until the peer resets it.
            let _ = std::future::poll_fn(|cx| respond.poll_reset(cx)).await;
        }
        "GoQuiet" => {
            let Ok(mut send) = respond.send_response(grpc_ok_header(None), false) else {
                return;
            };
            let _ = send.send_data(
                Bytes::from_static(b"\0\0\0\0\x02\x08\x01\0\0\0\0\x02\x08\x02"),
                false,
            );
            let _ = std::future::poll_fn(|cx| send.poll_reset(cx)).await;
        }
        "Malformed" => {
            // A frame whose compressed flag is neither 0 nor 1, then OK.
            let Ok(mut send) = respond.send_response(grpc_ok_header(None), false) else {
                return;
            };
            let _ = send.send_data(Bytes::from_static(b"\x07\0\0\0\x01\x08"), false);
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let _ = send.send_trailers(trailers);
        }
        "ResetMid" => {
            let Ok(mut send) = respond.send_response(grpc_ok_header(None), false) else {
                return;
            };
            let _ = send.send_data(Bytes::from_static(b"\0\0\0\0\x02\x08\x01"), false);
            // Let the message reach the caller before the reset.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            send.send_reset(h2::Reason::INTERNAL_ERROR);
        }
        _ => {
            let mut received = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                received.extend_from_slice(&chunk);
            }
            let Ok(mut send) = respond.send_response(grpc_ok_header(timeout_seen), false) else {
                return;
            };
            let _ = send.send_data(Bytes::from(received), false);
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let _ = send.send_trailers(trailers);
        }
    }
}

fn grpc_ok_header(timeout_seen: Option<http::HeaderValue>) -> Response<()> {
    let mut response = Response::new(());
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/grpc"),
    );
    if let Some(seen) = timeout_seen {
        response.headers_mut().insert("x-seen-grpc-timeout", seen);
    }
    response
}
