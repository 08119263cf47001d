//! `grpc.testing.TestService`: the server half of the gRPC interop cases.
//!
//! Payloads are zero bytes of the requested size. A request whose
//! `response_status` has a non-zero code makes the call fail with that code,
//! that message and the details of [`crate::encode_status_details`].
//! Metadata echo (`x-grpc-test-echo-*`) is done by [`crate::EchoMetadata`],
//! which wraps this service in [`crate::serve`].

use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::pb::grpc::testing::test_service_server::TestService;
use crate::pb::grpc::testing::{
    Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use crate::server::MAX_MESSAGE_SIZE;
use crate::status_details::requested_error;

/// A boxed stream of streaming-call responses.
pub type OutputStream =
    Pin<Box<dyn Stream<Item = Result<StreamingOutputCallResponse, Status>> + Send + 'static>>;

/// Sender half feeding an [`OutputStream`] from a spawned task.
type OutputSender = mpsc::Sender<Result<StreamingOutputCallResponse, Status>>;

/// The interop `TestService`; stateless.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestServiceImpl;

#[tonic::async_trait]
impl TestService for TestServiceImpl {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let request = request.into_inner();
        if let Some(status) = requested_error(request.response_status.as_ref()) {
            return Err(status);
        }
        Ok(Response::new(SimpleResponse {
            payload: Some(zero_payload(request.response_size)?),
        }))
    }

    type StreamingOutputCallStream = OutputStream;

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<Self::StreamingOutputCallStream>, Status> {
        let request = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            answer(&tx, &request).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let mut incoming = request.into_inner();
        let mut total: usize = 0;
        while let Some(message) = incoming.message().await? {
            total += message.payload.map_or(0, |p| p.body.len());
        }
        let aggregated_payload_size = i32::try_from(total)
            .map_err(|_| Status::invalid_argument("aggregated payload size overflows int32"))?;
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size,
        }))
    }

    type FullDuplexCallStream = OutputStream;

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<Self::FullDuplexCallStream>, Status> {
        let mut incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                match incoming.message().await {
                    Ok(Some(request)) => {
                        if !answer(&tx, &request).await {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type HalfDuplexCallStream = OutputStream;

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<Self::HalfDuplexCallStream>, Status> {
        let mut incoming = request.into_inner();
        let mut buffered = Vec::new();
        while let Some(message) = incoming.message().await? {
            buffered.push(message);
        }
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            for request in &buffered {
                if !answer(&tx, request).await {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn unimplemented_call(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "grpc.testing.TestService/UnimplementedCall is never implemented",
        ))
    }
}

/// Sends one response per `response_parameters` entry (after its
/// `interval_us` pause), then the requested error if any. Returns whether
/// the stream should go on: false once an error was sent or the client left.
async fn answer(tx: &OutputSender, request: &StreamingOutputCallRequest) -> bool {
    for params in &request.response_parameters {
        let response = shaped_response(params).await;
        let failed = response.is_err();
        if tx.send(response).await.is_err() || failed {
            return false;
        }
    }
    match requested_error(request.response_status.as_ref()) {
        Some(status) => {
            let _ = tx.send(Err(status)).await;
            false
        }
        None => true,
    }
}

/// Waits `interval_us`, then builds a response with `size` zero bytes.
async fn shaped_response(
    params: &ResponseParameters,
) -> Result<StreamingOutputCallResponse, Status> {
    if let Ok(micros) = u64::try_from(params.interval_us) {
        if micros > 0 {
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
    }
    Ok(StreamingOutputCallResponse {
        payload: Some(zero_payload(params.size)?),
    })
}

/// A payload of `size` zero bytes; negative or oversized sizes are
/// `INVALID_ARGUMENT`.
fn zero_payload(size: i32) -> Result<Payload, Status> {
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("response size {size} is negative")))?;
    if size > MAX_MESSAGE_SIZE {
        return Err(Status::invalid_argument(format!(
            "response size {size} exceeds the {MAX_MESSAGE_SIZE}-byte message limit"
        )));
    }
    Ok(Payload {
        body: vec![0; size],
    })
}
