//! Many streams at once, and an upstream that dies under an open stream.

use std::time::Duration;

use futures_util::future::join_all;
use protogate_demo::pb::ecommerce::v1::product_service_client::ProductServiceClient;
use protogate_demo::pb::ecommerce::v1::GetProductRequest;
use protogate_demo::pb::grpc::testing::{ResponseParameters, StreamingOutputCallRequest};
use protogate_testkit::{free_port, DemoProcess, DemoUpstream, Gateway};
use tonic::Code;

use crate::support::{channel, gateway_with_demo, protos_dir, test_client, SERVER};

#[tokio::test]
async fn a_thousand_concurrent_streams_share_one_client_connection() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let client = test_client(&gateway).await; // one Channel = one HTTP/2 connection
    let mut held = Vec::with_capacity(1000);
    let opened = join_all((0..1000).map(|i| {
        let mut client = client.clone();
        async move {
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tx.send(StreamingOutputCallRequest {
                response_parameters: vec![ResponseParameters {
                    size: i % 50,
                    interval_us: 0,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
            let mut responses = client
                .full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner();
            let first = responses.message().await.unwrap().unwrap();
            assert_eq!(first.payload.unwrap().body.len(), (i % 50) as usize);
            (tx, responses)
        }
    }))
    .await;
    // All 1,000 streams are open at this point: each answered and none closed.
    held.extend(opened);
    assert_eq!(held.len(), 1000);
    let closed = join_all(held.into_iter().map(|(tx, mut responses)| async move {
        drop(tx);
        responses.message().await.unwrap().is_none()
    }))
    .await;
    assert!(closed.into_iter().all(|ended| ended));
}

#[tokio::test]
async fn an_upstream_killed_under_an_open_stream_fails_that_stream_only() {
    let doomed_addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut doomed = DemoProcess::spawn(doomed_addr).await;
    let healthy = DemoUpstream::start().await;
    let protos = protos_dir();
    let gateway = Gateway::start(&format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/grpc/testing/interop.proto
    import_paths: [{protos}]
upstreams:
  doomed: {{ protocol: grpc, targets: ["{doomed_addr}"] }}
  healthy: {{ protocol: grpc, targets: ["{healthy}"] }}
routes:
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: doomed
  - name: products
    match: {{ grpc_service: ecommerce.v1.ProductService }}
    upstream: healthy
"#,
        healthy = healthy.addr
    ))
    .await;

    let mut client = test_client(&gateway).await;
    let mut stream = client
        .streaming_output_call(StreamingOutputCallRequest {
            response_parameters: (0..50)
                .map(|_| ResponseParameters {
                    size: 10,
                    interval_us: 100_000,
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        stream.message().await.unwrap().is_some(),
        "first message arrives"
    );
    doomed.kill();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream must end promptly once the upstream is gone");
    let error = outcome.expect_err("a stream cut by a dead upstream must fail, not end cleanly");
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");

    // The gateway keeps serving everyone else.
    let mut products = ProductServiceClient::new(channel(&gateway).await);
    let product = products
        .get_product(GetProductRequest {
            id: protogate_demo::SEED_PRODUCT_IDS[0].to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(product.id, protogate_demo::SEED_PRODUCT_IDS[0]);

    // And a new call to the dead upstream gets UNAVAILABLE as a gRPC status.
    let error = client
        .empty_call(protogate_demo::pb::grpc::testing::Empty {})
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{error:?}");
    assert!(error.message().contains("doomed"), "{}", error.message());
}
