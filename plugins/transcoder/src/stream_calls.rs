//! Streaming methods over REST.
//!
//! - **Client streaming** (and the request side of bidi): the request body
//!   is newline-delimited JSON, one message per line, each sent upstream as
//!   soon as its line is complete; or a JSON array (read whole, then sent
//!   element by element). `max_body` limits each line, or the whole array.
//!   Path variables and query parameters fill every message (the message's
//!   own fields win). A bad line ends the call with a 400 naming its line
//!   number; the upstream call is cancelled.
//! - **Server streaming** (and the response side of bidi):
//!   [`crate::streaming::MessageStream`] writes each message as it arrives.
//!
//! Bidi calls are half-duplex over REST: every request message is sent
//! before the first answer is read, as with grpc-gateway.

use bytes::{Bytes, BytesMut};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;
use protogate_core::{GatewayError, RequestCx, ResponseHeader, UpstreamResponse, UpstreamStream};

use crate::bindings::Binding;
use crate::filter::{answer_header, frame, set, Answer, Transcoder};
use crate::metadata::return_metadata;
use crate::request::{build_message, Incoming};
use crate::response::CallError;
use crate::streaming::{Format, MessageStream, Start};
use crate::template::Captures;

/// What every request message of a client stream is built from.
pub(crate) struct Requests<'a> {
    pub binding: &'a Binding,
    pub captures: &'a Captures,
    pub query: Option<&'a str>,
}

impl Requests<'_> {
    fn message(
        &self,
        json: &[u8],
        unknown: crate::config::UnknownFields,
        line: usize,
    ) -> Result<Bytes, GatewayError> {
        let incoming = Incoming {
            captures: self.captures,
            query: self.query,
            body: json,
            content_type: Some("application/json"),
        };
        let message = build_message(self.binding, incoming, unknown).map_err(|mut e| {
            e.message = format!("message {line}: {}", e.message).into();
            e
        })?;
        Ok(frame(&message))
    }
}

impl Transcoder {
    /// Reads the caller's body as a stream of messages and sends each
    /// upstream, then closes the request side.
    pub(crate) async fn send_request_stream(
        &self,
        cx: &mut RequestCx<'_>,
        requests: &Requests<'_>,
        upstream: &mut dyn UpstreamStream,
    ) -> Result<(), GatewayError> {
        let mut buffer = BytesMut::new();
        let mut array: Option<bool> = None;
        let mut line = 0usize;
        // The messages of one body chunk go upstream together, in one DATA
        // frame: a frame per message would trip HTTP/2 servers' guards
        // against floods of small frames (h2's `too_many_data_frames`).
        let mut batch = BytesMut::new();
        while let Some(chunk) = cx.downstream.read_body().await? {
            buffer.extend_from_slice(&chunk);
            if array.is_none() {
                array = buffer
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .map(|&b| b == b'[');
            }
            if array == Some(true) {
                if buffer.len() > self.max_body {
                    return Err(self.too_large("the JSON array body"));
                }
                continue;
            }
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let text = buffer.split_to(end + 1);
                line += 1;
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                batch.extend_from_slice(&requests.message(&text, self.unknown, line)?);
            }
            if buffer.len() > self.max_body {
                return Err(self.too_large(&format!("line {}", line + 1)));
            }
            if !batch.is_empty() {
                upstream.send(batch.split().freeze(), false).await?;
            }
        }
        if array == Some(true) {
            let elements: Vec<&serde_json::value::RawValue> = serde_json::from_slice(&buffer)
                .map_err(|e| {
                    GatewayError::invalid_argument(format!("invalid JSON array body: {e}"))
                })?;
            for (index, element) in elements.iter().enumerate() {
                batch.extend_from_slice(&requests.message(
                    element.get().as_bytes(),
                    self.unknown,
                    index + 1,
                )?);
            }
        } else if !buffer.iter().all(u8::is_ascii_whitespace) {
            batch.extend_from_slice(&requests.message(&buffer, self.unknown, line + 1)?);
        }
        // The last messages carry END_STREAM themselves.
        upstream.send(batch.freeze(), true).await
    }

    /// 413: `what` is over `max_body`.
    pub(crate) fn too_large(&self, what: &str) -> GatewayError {
        GatewayError::too_large(format!(
            "{what} is larger than the route's max_body of {} bytes",
            self.max_body
        ))
    }

    /// Reads a client-streaming call's one answer to the end.
    pub(crate) async fn read_whole_answer(
        &self,
        cx: &mut RequestCx<'_>,
        binding: &Binding,
        mut upstream: Box<dyn UpstreamStream>,
    ) -> Result<Answer, GatewayError> {
        let header = upstream.response_header().await?;
        let mut body = BytesMut::new();
        if !header.headers.contains_key("grpc-status") {
            while let Some(chunk) = upstream.next_chunk().await? {
                if body.len() + chunk.len() > self.max_body.saturating_add(5) {
                    return Err(GatewayError::new(
                        protogate_core::Code::ResourceExhausted,
                        "the upstream's answer is larger than the route's max_body",
                    )
                    .with_http_status(502));
                }
                body.extend_from_slice(&chunk);
            }
        }
        let mut trailers = if header.headers.contains_key("grpc-status") {
            None
        } else {
            upstream.trailers().await?
        };
        if let Some(trailers) = trailers.as_mut() {
            cx.trailer_hooks(trailers)?;
        }
        let status = trailers
            .as_ref()
            .and_then(|t| t.get("grpc-status"))
            .or_else(|| header.headers.get("grpc-status"));
        cx.call.grpc_status =
            status.and_then(|v| protogate_grpc::status::parse_grpc_status(v.as_bytes()));
        self.answer(
            binding,
            UpstreamResponse {
                header,
                body: body.freeze(),
                trailers,
            },
        )
    }

    /// Streams a server-streaming call's answer to the caller, message by
    /// message, once the first message (or the end) has arrived.
    pub(crate) async fn stream_answer(
        &self,
        cx: &mut RequestCx<'_>,
        binding: &Binding,
        mut upstream: Box<dyn UpstreamStream>,
    ) -> Result<Answer, GatewayError> {
        let format = Format::negotiate(cx.downstream.req_header());
        let header = upstream.response_header().await?;
        if header.headers.contains_key("grpc-status") {
            // Trailers-only: no message will come.
            let error = CallError::from_trailers(Some(&header.headers));
            cx.call.grpc_status = header
                .headers
                .get("grpc-status")
                .and_then(|v| protogate_grpc::status::parse_grpc_status(v.as_bytes()));
            return match error {
                Some(error) => self.error_answer(&error, &header.headers, None),
                None => self
                    .stream_header(&header, format)
                    .map(|header| Answer::Complete {
                        header,
                        body: Bytes::new(),
                    }),
            };
        }
        if header.status.as_u16() != 200 {
            let status = header.status.as_u16();
            return Err(GatewayError::new(
                protogate_core::Code::from_http_status(status),
                format!("the upstream answered HTTP {status} without a grpc-status"),
            ));
        }
        let max_message = u32::try_from(self.max_body).unwrap_or(u32::MAX);
        let stream = MessageStream::new(
            upstream,
            binding.method.output(),
            binding.response_body.clone(),
            self.printer.clone(),
            self.pool.clone(),
            format,
            max_message,
        );
        match stream.start().await {
            Start::Streaming(stream) | Start::Empty(stream) => Ok(Answer::Stream {
                header: self.stream_header(&header, format)?,
                body: Box::new(stream),
            }),
            Start::Failed(error) => {
                cx.call.grpc_status = Some(error.code);
                self.error_answer(&error, &header.headers, None)
            }
        }
    }

    /// The header of a streamed answer.
    fn stream_header(
        &self,
        upstream: &ResponseHeader,
        format: Format,
    ) -> Result<ResponseHeader, GatewayError> {
        let mut out = answer_header(200, 8)?;
        return_metadata(&upstream.headers, None, &mut out)?;
        set(
            &mut out,
            CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )?;
        set(
            &mut out,
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        )?;
        Ok(out)
    }
}
