//! A real OTLP trace receiver: over OTLP/HTTP it decodes every `POST
//! /v1/traces` body as the OTLP protobuf `ExportTraceServiceRequest`, and
//! over OTLP/gRPC it serves the collector's `TraceService` with tonic; both
//! with the OpenTelemetry project's own generated types. It keeps the
//! spans, and can be stopped, for tests of a dead collector.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

/// Spans received, with the `service.name` of their resource.
pub type Received = Arc<Mutex<Vec<(String, OtlpSpan)>>>;

/// The receiver.
pub struct OtlpReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    spans: Received,
    stop: Option<watch::Sender<bool>>,
    scheme: &'static str,
}

impl OtlpReceiver {
    /// Starts one on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind otlp");
        let addr = listener.local_addr().expect("otlp addr");
        let spans: Received = Arc::default();
        let stop = serve(listener, Arc::clone(&spans));
        Self {
            addr,
            spans,
            stop: Some(stop),
            scheme: "http",
        }
    }

    /// Starts one that speaks OTLP/gRPC (tonic's server for the
    /// collector's `TraceService`).
    pub async fn start_grpc() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind otlp");
        let addr = listener.local_addr().expect("otlp addr");
        let spans: Received = Arc::default();
        let (stop, mut stopped) = watch::channel(false);
        let service = TraceServiceServer::new(GrpcReceiver {
            spans: Arc::clone(&spans),
        });
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                    let _ = stopped.changed().await;
                })
                .await;
        });
        Self {
            addr,
            spans,
            stop: Some(stop),
            scheme: "grpc",
        }
    }

    /// The endpoint to configure: `http://127.0.0.1:PORT`, or
    /// `grpc://127.0.0.1:PORT` for one started with [`Self::start_grpc`].
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Every span received so far, with its service name.
    pub fn spans(&self) -> Vec<(String, OtlpSpan)> {
        self.spans.lock().expect("spans").clone()
    }

    /// Waits (bounded) until `count` spans arrived, and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<(String, OtlpSpan)> {
        crate::eventually(
            &format!("{count} spans at the OTLP receiver"),
            Duration::from_secs(15),
            || async {
                let spans = self.spans();
                (spans.len() >= count).then_some(spans)
            },
        )
        .await
    }

    /// Stops listening and closes every open connection (a dead
    /// collector: new connections are refused).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, spans: Received) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let mut accepting = stopped.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = accepting.changed() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            let spans = Arc::clone(&spans);
            let mut closing = stopped.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| receive(request, Arc::clone(&spans)));
                let builder = auto::Builder::new(TokioExecutor::new());
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                // Dropping the connection closes it: a stopped collector
                // keeps no kept-alive connection answering.
                tokio::select! {
                    _ = connection => {}
                    _ = closing.changed() => {}
                }
            });
        }
    });
    stop
}

async fn receive(
    request: Request<Incoming>,
    spans: Received,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let answer = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if request.method() != http::Method::POST || request.uri().path() != "/v1/traces" {
        return Ok(answer(StatusCode::NOT_FOUND, Vec::new()));
    }
    let Ok(body) = request.into_body().collect().await else {
        return Ok(answer(StatusCode::BAD_REQUEST, Vec::new()));
    };
    let Ok(export) = ExportTraceServiceRequest::decode(body.to_bytes()) else {
        return Ok(answer(StatusCode::BAD_REQUEST, Vec::new()));
    };
    keep(export, &spans);
    Ok(answer(
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    ))
}

/// The OTLP/gRPC side.
struct GrpcReceiver {
    spans: Received,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(request.into_inner(), &self.spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Keeps the spans of `export`, each with its resource's `service.name`.
fn keep(export: ExportTraceServiceRequest, spans: &Received) {
    let mut received = spans.lock().expect("spans");
    for resource_spans in export.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => {
                    Some(s.clone())
                }
                _ => None,
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push((service.clone(), span));
            }
        }
    }
}
