//! The caller's side of a forwarded call, in the forwarding loop's terms.
//!
//! The loop ([`super::pump`]) speaks native gRPC; a [`Caller`] turns the
//! caller's protocol into that and back. A native caller on HTTP/2
//! ([`NativeCaller`]) needs no translation at all; a gRPC-Web caller, on
//! HTTP/1.1 or HTTP/2, goes through [`super::web_caller::WebCaller`].

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use pingora_core::protocols::http::v2::server::HttpSession as H2Session;
use pingora_http::ResponseHeader;
use protogate_core::GatewayError;

/// What the caller did next.
pub(crate) enum Down {
    /// A chunk of the request body (native gRPC bytes).
    Chunk(Bytes),
    /// The request body ended.
    End,
    /// The caller reset the stream or closed the connection.
    Gone,
    /// The caller sent something that cannot be translated.
    Invalid(GatewayError),
}

/// The caller went away while the gateway was writing to it.
pub(crate) struct CallerGone;

/// One caller of a forwarded call.
pub(crate) trait Caller {
    /// True once the request body has been read to its end.
    fn body_done(&mut self) -> bool;

    /// The next request body event. Once the body is done (`body_done`),
    /// waits for the caller to go away instead. Cancel-safe: the loop
    /// drops it when the upstream has news first.
    async fn next(&mut self, body_done: bool) -> Down;

    /// Writes the response header; `end` when it is the whole answer (a
    /// trailers-only response carrying `grpc-status`).
    async fn write_header(&mut self, header: ResponseHeader, end: bool) -> Result<(), CallerGone>;

    /// Writes one chunk of the response body (native gRPC bytes).
    async fn write_body(&mut self, chunk: Bytes) -> Result<(), CallerGone>;

    /// Ends the answer with the upstream's trailers.
    async fn write_trailers(&mut self, trailers: HeaderMap) -> Result<(), CallerGone>;
}

/// A native gRPC caller on HTTP/2: bytes, headers and trailers pass as they are.
pub(crate) struct NativeCaller<'s> {
    down: &'s mut H2Session,
}

impl<'s> NativeCaller<'s> {
    pub(crate) fn new(down: &'s mut H2Session) -> Self {
        Self { down }
    }
}

impl Caller for NativeCaller<'_> {
    fn body_done(&mut self) -> bool {
        self.down.is_body_done()
    }

    async fn next(&mut self, body_done: bool) -> Down {
        poll_fn(|cx| poll_h2(self.down, body_done, cx)).await
    }

    async fn write_header(&mut self, header: ResponseHeader, end: bool) -> Result<(), CallerGone> {
        self.down
            .write_response_header(Box::new(header), end)
            .map_err(|_| CallerGone)
    }

    async fn write_body(&mut self, chunk: Bytes) -> Result<(), CallerGone> {
        self.down
            .write_body(chunk, false)
            .await
            .map_err(|_| CallerGone)
    }

    async fn write_trailers(&mut self, trailers: HeaderMap) -> Result<(), CallerGone> {
        self.down.write_trailers(trailers).map_err(|_| CallerGone)
    }
}

/// The caller's next body chunk, or, once the body is done, the caller
/// resetting or closing the stream.
fn poll_h2(down: &mut H2Session, body_done: bool, cx: &mut Context<'_>) -> Poll<Down> {
    if body_done {
        let mut idle = down.idle();
        return Pin::new(&mut idle).poll(cx).map(|_| Down::Gone);
    }
    match down.poll_read_body_bytes(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Down::Chunk(chunk)),
        Poll::Ready(None) => Poll::Ready(Down::End),
        Poll::Ready(Some(Err(_))) => Poll::Ready(Down::Gone),
    }
}
