//! Server streaming over REST: each upstream message is written to the
//! caller as soon as it arrives, as one line of newline-delimited JSON
//! (the default) or one Server-Sent Event (`Accept: text/event-stream`).
//!
//! The first message is awaited before the answer starts, so an error that
//! ends the call before any message gets the ordinary JSON error with its
//! HTTP status. After that the status line has gone out, and an error
//! arrives in-band: a last `{"error": {...}}` line, or an `event: error`.
//!
//! Messages already received are written together (one write for all
//! that a read brought), and the next upstream read waits until the caller
//! has taken the previous write: a slow caller slows the upstream through
//! HTTP/2 flow control, and nothing is buffered beyond that.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::FutureExt as _;
use http::HeaderMap;
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor};
use protogate_core::{Code, RequestHeader, ResponseStream, UpstreamStream};
use protogate_grpc::frame::FrameDecoder;

use crate::response::{Body, CallError, Printer};
use crate::wire_json::Scratch;

/// Output buffered before a write, at most (a burst of small messages is
/// written in pieces of about this size).
const BATCH_BYTES: usize = 64 * 1024;

/// How each message is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/x-ndjson`: one JSON document per line.
    Ndjson,
    /// `text/event-stream`: `data: {...}` events, `event: error` at the end
    /// of a failed stream.
    Sse,
}

impl Format {
    /// SSE when the caller's `Accept` asks for `text/event-stream`.
    pub fn negotiate(request: &RequestHeader) -> Self {
        let wants_sse = request
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/event-stream"));
        if wants_sse {
            Format::Sse
        } else {
            Format::Ndjson
        }
    }

    /// The answer's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Sse => "text/event-stream",
        }
    }

    fn message(self, json: &[u8], out: &mut Vec<u8>) {
        match self {
            Format::Ndjson => {
                out.extend_from_slice(json);
                out.push(b'\n');
            }
            Format::Sse => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(json);
                out.extend_from_slice(b"\n\n");
            }
        }
    }

    fn error(self, error_json: &[u8], out: &mut Vec<u8>) {
        match self {
            Format::Ndjson => {
                out.extend_from_slice(b"{\"error\":");
                out.extend_from_slice(error_json);
                out.extend_from_slice(b"}\n");
            }
            Format::Sse => {
                out.extend_from_slice(b"event: error\ndata: ");
                out.extend_from_slice(error_json);
                out.extend_from_slice(b"\n\n");
            }
        }
    }
}

/// The messages of one server-streaming answer, as the caller's body.
pub struct MessageStream {
    upstream: Box<dyn UpstreamStream>,
    decoder: FrameDecoder,
    output: MessageDescriptor,
    response_body: Option<FieldDescriptor>,
    printer: Printer,
    pool: DescriptorPool,
    format: Format,
    /// Rendered output not yet handed to the caller (the first message).
    pending: Option<Vec<u8>>,
    trailers: Option<HeaderMap>,
    upstream_done: bool,
    finished: bool,
    scratch: Scratch,
}

/// What the first read found.
pub enum Start {
    /// At least one message: stream it.
    Streaming(MessageStream),
    /// The stream ended with OK before any message: an empty answer.
    Empty(MessageStream),
    /// The stream failed before any message.
    Failed(CallError),
}

impl MessageStream {
    /// A stream over `upstream`, whose response header has been read.
    pub fn new(
        upstream: Box<dyn UpstreamStream>,
        output: MessageDescriptor,
        response_body: Option<FieldDescriptor>,
        printer: Printer,
        pool: DescriptorPool,
        format: Format,
        max_message: u32,
    ) -> Self {
        Self {
            upstream,
            decoder: FrameDecoder::new(max_message),
            output,
            response_body,
            printer,
            pool,
            format,
            pending: None,
            trailers: None,
            upstream_done: false,
            finished: false,
            scratch: Scratch::default(),
        }
    }

    /// Reads until the first message or the end.
    pub async fn start(mut self) -> Start {
        loop {
            let mut out = Vec::new();
            match self.render_buffered(&mut out) {
                Ok(0) => {}
                Ok(_) => {
                    self.pending = Some(out);
                    return Start::Streaming(self);
                }
                Err(e) => return Start::Failed(e),
            }
            if self.upstream_done {
                return match self.end_status() {
                    Some(e) => Start::Failed(e),
                    None => {
                        self.finished = true;
                        Start::Empty(self)
                    }
                };
            }
            if let Err(e) = self.read_more().await {
                return Start::Failed(e);
            }
        }
    }

    /// Renders every complete message buffered, up to [`BATCH_BYTES`].
    fn render_buffered(&mut self, out: &mut Vec<u8>) -> Result<usize, CallError> {
        let mut count = 0;
        while out.len() < BATCH_BYTES {
            let message = match self.decoder.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    return Err(CallError {
                        code: e.code(),
                        message: format!("the upstream's stream is malformed: {e}"),
                        details: None,
                        http_status: Some(502),
                    })
                }
            };
            if message.compressed {
                return Err(CallError {
                    code: Code::Internal,
                    message: "the upstream sent a compressed message, though none was asked for"
                        .to_owned(),
                    details: None,
                    http_status: Some(502),
                });
            }
            match self
                .printer
                .body_from_wire(
                    &self.output,
                    message.data,
                    self.response_body.as_ref(),
                    &mut self.scratch,
                )
                .map_err(CallError::from)?
            {
                Body::Json(json) => self.format.message(&json, out),
                Body::Raw { data, .. } => out.extend_from_slice(&data),
            }
            count += 1;
        }
        Ok(count)
    }

    /// One more upstream read; at the end, the trailers.
    async fn read_more(&mut self) -> Result<(), CallError> {
        match self.upstream.next_chunk().await? {
            Some(chunk) => {
                self.decoder.push(chunk);
                // Take whatever else has already arrived, so a burst of
                // messages leaves in one write.
                while self.decoder.buffered_len() < BATCH_BYTES {
                    match self.upstream.next_chunk().now_or_never() {
                        Some(Ok(Some(more))) => self.decoder.push(more),
                        Some(Ok(None)) => return self.read_trailers().await,
                        Some(Err(e)) => return Err(e.into()),
                        None => break,
                    }
                }
                Ok(())
            }
            None => self.read_trailers().await,
        }
    }

    async fn read_trailers(&mut self) -> Result<(), CallError> {
        self.trailers = self.upstream.trailers().await?;
        self.upstream_done = true;
        Ok(())
    }

    /// The error the finished upstream stream reports, if any.
    fn end_status(&self) -> Option<CallError> {
        if let Err(e) = self.decoder.finish() {
            return Some(CallError {
                code: e.code(),
                message: format!("the upstream's stream is malformed: {e}"),
                details: None,
                http_status: Some(502),
            });
        }
        CallError::from_trailers(self.trailers.as_ref())
    }

    fn error_chunk(&mut self, error: &CallError) -> Bytes {
        let json = self.printer.error(
            error.code,
            &error.message,
            error.details.as_deref(),
            &self.pool,
        );
        let mut out = Vec::with_capacity(json.len() + 16);
        self.format.error(&json, &mut out);
        self.finished = true;
        if self.trailers.is_none() {
            // The stream failed in the gateway (a deadline, a reset): report
            // its code as the call's status, for metrics and logs.
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", error.code.header_value());
            self.trailers = Some(trailers);
        }
        Bytes::from(out)
    }
}

#[async_trait]
impl ResponseStream for MessageStream {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(first) = self.pending.take() {
            return Some(Bytes::from(first));
        }
        loop {
            if self.finished {
                return None;
            }
            let mut out = Vec::new();
            match self.render_buffered(&mut out) {
                Ok(0) => {}
                Ok(_) => return Some(Bytes::from(out)),
                Err(e) => return Some(self.error_chunk(&e)),
            }
            if self.upstream_done {
                return match self.end_status() {
                    Some(e) => Some(self.error_chunk(&e)),
                    None => {
                        self.finished = true;
                        None
                    }
                };
            }
            if let Err(e) = self.read_more().await {
                return Some(self.error_chunk(&e));
            }
        }
    }

    fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }
}
