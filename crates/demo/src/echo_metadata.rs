//! Echo of the interop test metadata, as a wrapper around a tonic service.
//!
//! The interop `custom_metadata` case sends `x-grpc-test-echo-initial` and
//! `x-grpc-test-echo-trailing-bin` and expects the first back as a response
//! header and the second as a trailer. Tonic handlers cannot add trailers to
//! a successful response, so this wrapper works at the HTTP level: it copies
//! the initial value into the response headers and appends the trailing one
//! to the trailers frame (or to the headers of a trailers-only response).
//! Values are copied as received, so binary metadata stays base64 as sent.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body::{Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service};
use tonic::server::NamedService;
use tonic::Status;

/// Request header echoed back as a response header.
pub const ECHO_INITIAL_HEADER: &str = "x-grpc-test-echo-initial";
/// Request header (binary metadata) echoed back as a response trailer.
pub const ECHO_TRAILING_HEADER: &str = "x-grpc-test-echo-trailing-bin";

/// Wraps a generated tonic server (keeping its service name) and echoes the
/// interop metadata on every call it handles.
#[derive(Clone, Debug)]
pub struct EchoMetadata<S> {
    inner: S,
}

impl<S> EchoMetadata<S> {
    /// Echo metadata around `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: NamedService> NamedService for EchoMetadata<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for EchoMetadata<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let initial = request.headers().get(ECHO_INITIAL_HEADER).cloned();
        let trailing = request.headers().get(ECHO_TRAILING_HEADER).cloned();
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            if let Some(value) = initial {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(ECHO_INITIAL_HEADER), value);
            }
            if let Some(value) = trailing {
                let name = HeaderName::from_static(ECHO_TRAILING_HEADER);
                if response.headers().contains_key("grpc-status") {
                    // Trailers-only response: its headers are the trailers.
                    response.headers_mut().insert(name, value);
                } else {
                    response = response.map(|body| {
                        Body::new(WithTrailer {
                            inner: body,
                            extra: Some((name, value)),
                        })
                    });
                }
            }
            Ok(response)
        })
    }
}

/// A response body that adds one header to its trailers.
struct WithTrailer {
    inner: Body,
    /// Taken once it has been written.
    extra: Option<(HeaderName, HeaderValue)>,
}

impl http_body::Body for WithTrailer {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    if let Some((name, value)) = this.extra.take() {
                        trailers.insert(name, value);
                    }
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Some(Err(status)) => Poll::Ready(Some(Err(status))),
            // The inner body had no trailers: send ours on their own.
            None => Poll::Ready(this.extra.take().map(|(name, value)| {
                let mut trailers = http::HeaderMap::new();
                trailers.insert(name, value);
                Ok(Frame::trailers(trailers))
            })),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.extra.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
