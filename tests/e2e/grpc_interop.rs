//! The gRPC interop cases through the gateway with a tonic client
//! (empty_unary ... unimplemented_service), plus gzip and reflection.

use protogate_demo::pb::grpc::testing::unimplemented_service_client::UnimplementedServiceClient;
use protogate_demo::pb::grpc::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use tokio_stream::StreamExt;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{BinaryMetadataValue, MetadataValue};
use tonic::{Code, Request};

use crate::support::{channel, gateway_with_demo, test_client};

fn payload(size: usize) -> Option<Payload> {
    Some(Payload {
        body: vec![0; size],
    })
}

fn params(sizes: &[i32]) -> Vec<ResponseParameters> {
    sizes
        .iter()
        .map(|&size| ResponseParameters {
            size,
            interval_us: 0,
        })
        .collect()
}

#[tokio::test]
async fn empty_unary() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let reply = client.empty_call(Empty {}).await.unwrap();
    assert_eq!(reply.into_inner(), Empty {});
}

#[tokio::test]
async fn large_unary_with_4_mib_messages() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let size = 4 * 1024 * 1024;
    let reply = client
        .unary_call(SimpleRequest {
            response_size: size as i32,
            payload: payload(size),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.payload.unwrap().body.len(), size);
}

#[tokio::test]
async fn client_streaming() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let requests = [27182, 8, 1828, 45904].map(|size| StreamingInputCallRequest {
        payload: payload(size),
    });
    let reply = client
        .streaming_input_call(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.aggregated_payload_size, 74922);
}

#[tokio::test]
async fn server_streaming() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let sizes = [31415, 9, 2653, 58979];
    let mut stream = client
        .streaming_output_call(StreamingOutputCallRequest {
            response_parameters: params(&sizes),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        got.push(message.payload.unwrap().body.len());
    }
    assert_eq!(got, sizes.map(|s| s as usize));
}

#[tokio::test]
async fn ping_pong_interleaves_request_and_response() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut responses = client
        .full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    for (request_size, response_size) in [(27182, 31415), (8, 9), (1828, 2653), (45904, 58979)] {
        tx.send(StreamingOutputCallRequest {
            response_parameters: params(&[response_size]),
            payload: payload(request_size),
            ..Default::default()
        })
        .await
        .unwrap();
        // The answer must arrive before the next request is sent: a proxy
        // that buffered either direction would stall here.
        let answer = responses.message().await.unwrap().unwrap();
        assert_eq!(answer.payload.unwrap().body.len(), response_size as usize);
    }
    drop(tx);
    assert!(responses.message().await.unwrap().is_none());
}

#[tokio::test]
async fn empty_stream() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let mut responses = client
        .full_duplex_call(tokio_stream::empty::<StreamingOutputCallRequest>())
        .await
        .unwrap()
        .into_inner();
    assert!(responses.message().await.unwrap().is_none());
}

#[tokio::test]
async fn status_code_and_message_with_details() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let status = Some(EchoStatus {
        code: 2,
        message: "test status message".into(),
    });
    let error = client
        .unary_call(SimpleRequest {
            response_status: status.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unknown);
    assert_eq!(error.message(), "test status message");
    assert_eq!(
        error.details(),
        protogate_demo::encode_status_details(2, "test status message").as_slice(),
        "grpc-status-details-bin must pass byte for byte"
    );

    let mut responses = client
        .full_duplex_call(tokio_stream::iter([StreamingOutputCallRequest {
            response_status: status,
            ..Default::default()
        }]))
        .await
        .unwrap()
        .into_inner();
    let error = loop {
        match responses.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without the requested status"),
            Err(error) => break error,
        }
    };
    assert_eq!(error.code(), Code::Unknown);
    assert_eq!(error.message(), "test status message");
}

#[tokio::test]
async fn special_status_message() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
    let error = client
        .unary_call(SimpleRequest {
            response_status: Some(EchoStatus {
                code: 2,
                message: message.into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unknown);
    assert_eq!(error.message(), message);
}

fn with_metadata<T>(mut request: Request<T>) -> Request<T> {
    let md = request.metadata_mut();
    md.insert(
        "x-grpc-test-echo-initial",
        MetadataValue::from_static("test_initial_metadata_value"),
    );
    md.insert_bin(
        "x-grpc-test-echo-trailing-bin",
        BinaryMetadataValue::from_bytes(b"\xab\xab\xab"),
    );
    request
}

#[tokio::test]
async fn custom_metadata_on_unary_and_full_duplex() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let request = with_metadata(Request::new(SimpleRequest {
        response_size: 314159,
        payload: payload(271828),
        ..Default::default()
    }));
    let response = client.unary_call(request).await.unwrap();
    assert_eq!(
        response.metadata().get("x-grpc-test-echo-initial").unwrap(),
        "test_initial_metadata_value"
    );

    let request = with_metadata(Request::new(tokio_stream::iter([
        StreamingOutputCallRequest {
            response_parameters: params(&[314159]),
            payload: payload(271828),
            ..Default::default()
        },
    ])));
    let response = client.full_duplex_call(request).await.unwrap();
    assert_eq!(
        response.metadata().get("x-grpc-test-echo-initial").unwrap(),
        "test_initial_metadata_value"
    );
    let mut stream = response.into_inner();
    while stream.message().await.unwrap().is_some() {}
    let trailers = stream.trailers().await.unwrap().expect("trailers");
    assert_eq!(
        trailers
            .get_bin("x-grpc-test-echo-trailing-bin")
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        b"\xab\xab\xab"
    );
}

#[tokio::test]
async fn unimplemented_method_and_service() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let error = client.unimplemented_call(Empty {}).await.unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);

    let mut other = UnimplementedServiceClient::new(channel(&gateway).await);
    let error = other.unimplemented_call(Empty {}).await.unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
}

#[tokio::test]
async fn gzip_compressed_messages_pass_through() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway)
        .await
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let reply = client
        .unary_call(SimpleRequest {
            response_size: 100_000,
            payload: payload(100_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().payload.unwrap().body.len(), 100_000);
}

#[tokio::test]
async fn reflection_lists_the_upstream_services() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = ServerReflectionClient::new(channel(&gateway).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"ecommerce.v1.ProductService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.testing.TestService".to_owned()),
        "{names:?}"
    );
}
