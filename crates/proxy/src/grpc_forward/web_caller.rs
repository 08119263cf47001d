//! A gRPC-Web caller (a browser), on HTTP/1.1 or HTTP/2.
//!
//! The forwarding loop sees native gRPC; this side translates:
//!
//! - the request body is passed as it is (binary) or base64-decoded
//!   (`application/grpc-web-text`), chunk by chunk as it arrives; bad
//!   base64 ends the call with INVALID_ARGUMENT;
//! - the response header gets the gRPC-Web content type and loses its
//!   length (the body changes); HTTP/1.1 answers are chunked, so each
//!   message reaches the page as it arrives;
//! - response chunks are passed or base64-encoded, each chunk padded;
//! - the trailers become the last body frame (`0x80`), and end the answer.
//!
//! A trailers-only answer (an upstream error before any message) keeps its
//! status in the header, which gRPC-Web allows, with an empty body.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Version};
use pingora_core::protocols::http::ServerSession;
use pingora_http::{RequestHeader, ResponseHeader};
use protogate_core::GatewayError;
use protogate_grpc::web::{
    caller_content_type, encode_text, trailer_frame, upstream_content_type, TextDecoder,
};

use super::caller::{Caller, CallerGone, Down};

/// The caller's side of a gRPC-Web call.
pub(crate) struct WebCaller<'s> {
    session: &'s mut ServerSession,
    /// Text mode: the decoder of the request body; the answer is encoded too.
    text: Option<TextDecoder>,
    http1: bool,
}

impl<'s> WebCaller<'s> {
    /// A caller in text mode when `text` (the request's content type was
    /// `application/grpc-web-text`).
    pub(crate) fn new(session: &'s mut ServerSession, text: bool) -> Self {
        let http1 = session.req_header().version != Version::HTTP_2;
        Self {
            session,
            text: text.then(TextDecoder::new),
            http1,
        }
    }

    /// Turns the caller's gRPC-Web request header into the native gRPC one
    /// the upstream gets: the content type names the same codec, and the
    /// length goes (text mode changes it; HTTP/2 frames the body anyway).
    pub(crate) fn upstream_request(request: &mut RequestHeader) {
        let content_type = request
            .headers
            .get(CONTENT_TYPE)
            .map(|v| upstream_content_type(v.as_bytes()));
        if let Some(content_type) = content_type {
            // A valid value replacing another: cannot fail.
            let _ = request.insert_header(CONTENT_TYPE, content_type);
        }
        request.remove_header(&CONTENT_LENGTH);
    }

    fn decode(&mut self, chunk: Bytes) -> Result<Bytes, GatewayError> {
        let Some(decoder) = self.text.as_mut() else {
            return Ok(chunk);
        };
        decoder
            .feed(&chunk)
            .map_err(|e| GatewayError::invalid_argument(e.to_string()))
    }

    fn check_text_end(&self) -> Result<(), GatewayError> {
        match &self.text {
            Some(decoder) => decoder
                .finish()
                .map_err(|e| GatewayError::invalid_argument(e.to_string())),
            None => Ok(()),
        }
    }

    fn encode(&self, chunk: Bytes) -> Bytes {
        if self.text.is_some() {
            encode_text(&chunk)
        } else {
            chunk
        }
    }
}

impl Caller for WebCaller<'_> {
    fn body_done(&mut self) -> bool {
        self.session.is_body_done()
    }

    async fn next(&mut self, body_done: bool) -> Down {
        if body_done {
            // Returns only when the caller closes or resets.
            let _ = self.session.read_body_or_idle(true).await;
            return Down::Gone;
        }
        loop {
            let chunk = match self.session.read_body_or_idle(false).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    return match self.check_text_end() {
                        Ok(()) => Down::End,
                        Err(error) => Down::Invalid(error),
                    }
                }
                Err(_) => return Down::Gone,
            };
            let decoded = match self.decode(chunk) {
                Ok(decoded) => decoded,
                Err(error) => return Down::Invalid(error),
            };
            let done = self.session.is_body_done();
            if done {
                if let Err(error) = self.check_text_end() {
                    return Down::Invalid(error);
                }
            }
            // A text chunk shorter than one base64 group decodes to nothing.
            if !decoded.is_empty() || done {
                return Down::Chunk(decoded);
            }
        }
    }

    async fn write_header(
        &mut self,
        mut header: ResponseHeader,
        end: bool,
    ) -> Result<(), CallerGone> {
        let content_type = caller_content_type(
            header.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
            self.text.is_some(),
        );
        // Valid static values: inserting cannot fail.
        let _ = header.insert_header(CONTENT_TYPE, content_type);
        header.remove_header(&CONTENT_LENGTH);
        if self.http1 {
            // The upstream's header says HTTP/2, which HTTP/1.1 cannot write.
            header.set_version(Version::HTTP_11);
            let _ = if end {
                header.insert_header(CONTENT_LENGTH, HeaderValue::from(0))
            } else {
                header.insert_header(TRANSFER_ENCODING, HeaderValue::from_static("chunked"))
            };
        }
        self.session
            .write_response_header(Box::new(header))
            .await
            .map_err(|_| CallerGone)?;
        if end {
            self.session
                .write_response_body(Bytes::new(), true)
                .await
                .map_err(|_| CallerGone)?;
        }
        Ok(())
    }

    async fn write_body(&mut self, chunk: Bytes) -> Result<(), CallerGone> {
        let chunk = self.encode(chunk);
        self.session
            .write_response_body(chunk, false)
            .await
            .map_err(|_| CallerGone)
    }

    async fn write_trailers(&mut self, trailers: HeaderMap) -> Result<(), CallerGone> {
        let frame = self.encode(trailer_frame(&trailers));
        self.session
            .write_response_body(frame, true)
            .await
            .map_err(|_| CallerGone)
    }
}
