//! Counts finished gRPC calls by outcome, as a wrapper around a tonic service.
//!
//! Load generators such as `h2load` see HTTP/2 streams, not `grpc-status`,
//! so a benchmark cannot tell from them alone that every call succeeded.
//! The upstream can: [`CountCalls`] reads the status of every response it
//! sends (from the trailers, or from the headers of a trailers-only
//! response) and adds it to a shared [`CallCounter`]. A call whose response
//! body fails, ends without trailers or is dropped before its trailers (the
//! client went away) counts as failed.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http_body::{Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service};
use tonic::server::NamedService;
use tonic::Status;

/// Shared tallies of finished calls; clones count into the same totals.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl CallCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls that ended with `grpc-status: 0`.
    pub fn ok(&self) -> u64 {
        self.counts.ok.load(Ordering::Relaxed)
    }

    /// Calls that ended with any other status, or with none.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Every finished call.
    pub fn calls(&self) -> u64 {
        self.ok() + self.failed()
    }

    fn record(&self, status: Option<&HeaderValue>) {
        let tally = if status.is_some_and(|value| value.as_bytes() == b"0") {
            &self.counts.ok
        } else {
            &self.counts.failed
        };
        tally.fetch_add(1, Ordering::Relaxed);
    }
}

/// Wraps a generated tonic server (keeping its service name) and counts
/// every call it answers into a [`CallCounter`]. With no counter it passes
/// responses through untouched.
#[derive(Clone, Debug)]
pub struct CountCalls<S> {
    inner: S,
    counter: Option<CallCounter>,
}

impl<S> CountCalls<S> {
    /// Counts the calls `inner` answers into `counter`, if any.
    pub fn new(inner: S, counter: Option<CallCounter>) -> Self {
        Self { inner, counter }
    }
}

impl<S: NamedService> NamedService for CountCalls<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for CountCalls<S>
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
        let counter = self.counter.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let Some(counter) = counter else {
                return Ok(response);
            };
            if let Some(status) = response.headers().get("grpc-status") {
                // Trailers-only response: its headers are the trailers.
                counter.record(Some(status));
                return Ok(response);
            }
            Ok(response.map(|body| {
                Body::new(Counted {
                    inner: body,
                    counter: Some(counter),
                })
            }))
        })
    }
}

/// A response body that records the call's status when its trailers pass.
struct Counted {
    inner: Body,
    /// Taken once the call has been recorded.
    counter: Option<CallCounter>,
}

impl Counted {
    fn record(&mut self, status: Option<&HeaderValue>) {
        if let Some(counter) = self.counter.take() {
            counter.record(status);
        }
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.record(trailers.get("grpc-status"));
                }
            }
            Some(Err(_)) | None => this.record(None),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // Dropped before its trailers: the call did not finish.
        self.record(None);
    }
}

#[cfg(test)]
mod tests {
    use super::CallCounter;
    use http::HeaderValue;

    #[test]
    fn only_status_zero_counts_as_ok() {
        let counter = CallCounter::new();
        let clone = counter.clone();
        clone.record(Some(&HeaderValue::from_static("0")));
        clone.record(Some(&HeaderValue::from_static("14")));
        clone.record(None);
        assert_eq!((counter.ok(), counter.failed(), counter.calls()), (1, 2, 3));
    }
}
