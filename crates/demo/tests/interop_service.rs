//! `grpc.testing.TestService` over a real loopback connection, case by
//! case as the Python interop client runs them, plus gzip.

mod common;

use std::time::{Duration, Instant};

use common::{DemoServer, TestResult};
use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_demo::pb::grpc::testing::unimplemented_service_client::UnimplementedServiceClient;
use protogate_demo::pb::grpc::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use protogate_demo::{encode_status_details, MAX_MESSAGE_SIZE};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{BinaryMetadataValue, MetadataValue};
use tonic::transport::Channel;
use tonic::{Code, Request};

const SIZES: [i32; 4] = [27182, 8, 1828, 45904];
const RESPONSE_SIZES: [i32; 4] = [31415, 9, 2653, 58979];
const FOUR_MIB: usize = 4 * 1024 * 1024;
const ECHO_INITIAL: &str = "test_initial_metadata_value";
const ECHO_TRAILING: &[u8] = b"\xab\xab\xab";

async fn client(
    server: &DemoServer,
) -> Result<TestServiceClient<Channel>, tonic::transport::Error> {
    Ok(TestServiceClient::new(server.channel().await?)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}

fn payload(size: i32) -> Option<Payload> {
    Some(Payload {
        body: vec![0; usize::try_from(size).unwrap_or(0)],
    })
}

fn ask(size: i32) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size,
            interval_us: 0,
        }],
        payload: payload(size),
        response_status: None,
    }
}

fn echo_status(code: i32, message: &str) -> Option<EchoStatus> {
    Some(EchoStatus {
        code,
        message: message.to_owned(),
    })
}

/// Adds both echo headers to a request.
fn with_echo_metadata<T>(
    message: T,
) -> Result<Request<T>, Box<dyn std::error::Error + Send + Sync>> {
    let mut request = Request::new(message);
    let initial: MetadataValue<_> = ECHO_INITIAL.parse()?;
    request
        .metadata_mut()
        .insert("x-grpc-test-echo-initial", initial);
    request.metadata_mut().insert_bin(
        "x-grpc-test-echo-trailing-bin",
        BinaryMetadataValue::from_bytes(ECHO_TRAILING),
    );
    Ok(request)
}

#[tokio::test]
async fn empty_unary() -> TestResult {
    let server = DemoServer::start().await?;
    let response = client(&server).await?.empty_call(Empty {}).await?;
    assert_eq!(response.into_inner(), Empty {});
    server.stop().await
}

#[tokio::test]
async fn large_unary() -> TestResult {
    let server = DemoServer::start().await?;
    let request = SimpleRequest {
        response_size: FOUR_MIB as i32,
        payload: payload(FOUR_MIB as i32),
        response_status: None,
    };
    let response = client(&server).await?.unary_call(request).await?;
    let body = response.into_inner().payload.ok_or("no payload")?.body;
    assert_eq!(body.len(), FOUR_MIB);
    assert!(body.iter().all(|&b| b == 0));
    server.stop().await
}

#[tokio::test]
async fn gzip_both_ways() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server)
        .await?
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let request = SimpleRequest {
        response_size: 100_000,
        payload: payload(100_000),
        response_status: None,
    };
    let response = client.unary_call(request).await?;
    assert_eq!(
        response
            .metadata()
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    assert_eq!(
        response
            .into_inner()
            .payload
            .ok_or("no payload")?
            .body
            .len(),
        100_000
    );

    let mut stream = client
        .full_duplex_call(tokio_stream::iter(vec![ask(31415)]))
        .await?
        .into_inner();
    let first = stream.message().await?.ok_or("no response")?;
    assert_eq!(first.payload.ok_or("no payload")?.body.len(), 31415);
    server.stop().await
}

#[tokio::test]
async fn client_streaming() -> TestResult {
    let server = DemoServer::start().await?;
    let requests = SIZES.map(|size| StreamingInputCallRequest {
        payload: payload(size),
    });
    let response = client(&server)
        .await?
        .streaming_input_call(tokio_stream::iter(requests))
        .await?;
    assert_eq!(response.into_inner().aggregated_payload_size, 74922);
    server.stop().await
}

#[tokio::test]
async fn server_streaming_honours_sizes_and_intervals() -> TestResult {
    let server = DemoServer::start().await?;
    let request = StreamingOutputCallRequest {
        response_parameters: RESPONSE_SIZES
            .map(|size| ResponseParameters {
                size,
                interval_us: 30_000,
            })
            .to_vec(),
        payload: None,
        response_status: None,
    };
    let started = Instant::now();
    let mut stream = client(&server)
        .await?
        .streaming_output_call(request)
        .await?
        .into_inner();
    let mut sizes = Vec::new();
    while let Some(response) = stream.message().await? {
        sizes.push(response.payload.map_or(0, |p| p.body.len() as i32));
    }
    assert_eq!(sizes, RESPONSE_SIZES);
    assert!(started.elapsed() >= Duration::from_millis(120));
    server.stop().await
}

#[tokio::test]
async fn ping_pong() -> TestResult {
    let server = DemoServer::start().await?;
    let (tx, rx) = mpsc::channel(1);
    let mut stream = client(&server)
        .await?
        .full_duplex_call(ReceiverStream::new(rx))
        .await?
        .into_inner();
    for size in RESPONSE_SIZES {
        tx.send(ask(size)).await?;
        let response = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await??
            .ok_or("stream ended early")?;
        assert_eq!(response.payload.map_or(0, |p| p.body.len() as i32), size);
    }
    drop(tx);
    assert!(stream.message().await?.is_none());
    server.stop().await
}

#[tokio::test]
async fn half_duplex_answers_after_half_close() -> TestResult {
    let server = DemoServer::start().await?;
    let mut stream = client(&server)
        .await?
        .half_duplex_call(tokio_stream::iter(RESPONSE_SIZES.map(ask)))
        .await?
        .into_inner();
    let mut sizes = Vec::new();
    while let Some(response) = stream.message().await? {
        sizes.push(response.payload.map_or(0, |p| p.body.len() as i32));
    }
    assert_eq!(sizes, RESPONSE_SIZES);
    server.stop().await
}

#[tokio::test]
async fn empty_stream() -> TestResult {
    let server = DemoServer::start().await?;
    let mut stream = client(&server)
        .await?
        .full_duplex_call(tokio_stream::iter(Vec::<StreamingOutputCallRequest>::new()))
        .await?
        .into_inner();
    assert!(stream.message().await?.is_none());
    server.stop().await
}

#[tokio::test]
async fn status_code_and_message_with_details() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;
    let expected_details = encode_status_details(2, "test status message");
    assert_eq!(expected_details.len(), 95);

    let unary = client
        .unary_call(SimpleRequest {
            response_status: echo_status(2, "test status message"),
            ..Default::default()
        })
        .await
        .err()
        .ok_or("expected an error")?;
    assert_eq!(unary.code(), Code::Unknown);
    assert_eq!(unary.message(), "test status message");
    assert_eq!(unary.details(), expected_details.as_slice());

    let request = StreamingOutputCallRequest {
        response_status: echo_status(2, "test status message"),
        ..Default::default()
    };
    let mut stream = client
        .full_duplex_call(tokio_stream::iter(vec![request]))
        .await?
        .into_inner();
    let duplex = stream.message().await.err().ok_or("expected an error")?;
    assert_eq!(duplex.code(), Code::Unknown);
    assert_eq!(duplex.message(), "test status message");
    assert_eq!(duplex.details(), expected_details.as_slice());
    server.stop().await
}

#[tokio::test]
async fn special_status_message_round_trips() -> TestResult {
    let server = DemoServer::start().await?;
    let message = "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n";
    let err = client(&server)
        .await?
        .unary_call(SimpleRequest {
            response_status: echo_status(2, message),
            ..Default::default()
        })
        .await
        .err()
        .ok_or("expected an error")?;
    assert_eq!(err.code(), Code::Unknown);
    assert_eq!(err.message(), message);
    server.stop().await
}

#[tokio::test]
async fn custom_metadata_on_unary() -> TestResult {
    let server = DemoServer::start().await?;
    let request = with_echo_metadata(SimpleRequest {
        response_size: 314_159,
        payload: payload(271_828),
        response_status: None,
    })?;
    let response = client(&server).await?.unary_call(request).await?;
    // Tonic merges headers and trailers into one map for unary calls.
    let metadata = response.metadata();
    assert_eq!(
        metadata
            .get("x-grpc-test-echo-initial")
            .map(|v| v.to_str())
            .transpose()?,
        Some(ECHO_INITIAL)
    );
    let trailing = metadata
        .get_bin("x-grpc-test-echo-trailing-bin")
        .ok_or("no trailing echo")?
        .to_bytes()?;
    assert_eq!(trailing.as_ref(), ECHO_TRAILING);
    server.stop().await
}

#[tokio::test]
async fn custom_metadata_on_full_duplex() -> TestResult {
    let server = DemoServer::start().await?;
    let request = with_echo_metadata(tokio_stream::iter(vec![ask(314_159)]))?;
    let response = client(&server).await?.full_duplex_call(request).await?;
    assert_eq!(
        response
            .metadata()
            .get("x-grpc-test-echo-initial")
            .map(|v| v.to_str())
            .transpose()?,
        Some(ECHO_INITIAL)
    );
    let mut stream = response.into_inner();
    while stream.message().await?.is_some() {}
    let trailers = stream.trailers().await?.ok_or("no trailers")?;
    let trailing = trailers
        .get_bin("x-grpc-test-echo-trailing-bin")
        .ok_or("no trailing echo")?
        .to_bytes()?;
    assert_eq!(trailing.as_ref(), ECHO_TRAILING);
    server.stop().await
}

#[tokio::test]
async fn custom_metadata_on_error_is_in_trailers_only() -> TestResult {
    let server = DemoServer::start().await?;
    let request = with_echo_metadata(SimpleRequest {
        response_status: echo_status(5, "nope"),
        ..Default::default()
    })?;
    let err = client(&server)
        .await?
        .unary_call(request)
        .await
        .err()
        .ok_or("expected an error")?;
    assert_eq!(err.code(), Code::NotFound);
    let trailing = err
        .metadata()
        .get_bin("x-grpc-test-echo-trailing-bin")
        .ok_or("no trailing echo")?
        .to_bytes()?;
    assert_eq!(trailing.as_ref(), ECHO_TRAILING);
    server.stop().await
}

#[tokio::test]
async fn unimplemented_method_and_service() -> TestResult {
    let server = DemoServer::start().await?;
    let method = client(&server)
        .await?
        .unimplemented_call(Empty {})
        .await
        .err()
        .ok_or("expected UNIMPLEMENTED")?;
    assert_eq!(method.code(), Code::Unimplemented);

    let service = UnimplementedServiceClient::new(server.channel().await?)
        .unimplemented_call(Empty {})
        .await
        .err()
        .ok_or("expected UNIMPLEMENTED")?;
    assert_eq!(service.code(), Code::Unimplemented);
    server.stop().await
}

#[tokio::test]
async fn negative_response_size_is_invalid_argument() -> TestResult {
    let server = DemoServer::start().await?;
    let err = client(&server)
        .await?
        .unary_call(SimpleRequest {
            response_size: -1,
            ..Default::default()
        })
        .await
        .err()
        .ok_or("expected INVALID_ARGUMENT")?;
    assert_eq!(err.code(), Code::InvalidArgument);
    server.stop().await
}
