//! Baseline metrics as a Prometheus scrape sees them.

use bytes::Bytes;
use http::Method;
use protogate_demo::pb::grpc::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use protogate_testkit::{Gateway, HttpClient};

use crate::support::{gateway_with_demo, interop_config, metrics_when, test_client, value_of};

#[tokio::test]
async fn grpc_calls_are_counted_with_go_grpc_prometheus_labels() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    client.unary_call(SimpleRequest::default()).await.unwrap();
    client.unary_call(SimpleRequest::default()).await.unwrap();
    let _ = client
        .unary_call(SimpleRequest {
            response_status: Some(EchoStatus {
                code: 5,
                message: "nope".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let labels = r#"grpc_method="UnaryCall",grpc_service="grpc.testing.TestService",grpc_type="unary",route="interop""#;
    let count = format!("grpc_server_handling_seconds_count{{{labels}}}");
    let metrics = metrics_when(&gateway, &count, 3.0).await;
    assert_eq!(
        value_of(&metrics, &format!("grpc_server_started_total{{{labels}}}")),
        Some(3.0),
        "{metrics}"
    );
    let ok = format!(r#"grpc_server_handled_total{{grpc_code="OK",{labels}}}"#);
    assert_eq!(value_of(&metrics, &ok), Some(2.0), "{metrics}");
    let not_found = format!(r#"grpc_server_handled_total{{grpc_code="NotFound",{labels}}}"#);
    assert_eq!(value_of(&metrics, &not_found), Some(1.0), "{metrics}");
    assert_eq!(value_of(&metrics, &count), Some(3.0), "{metrics}");
}

#[tokio::test]
async fn unknown_methods_share_one_label_value() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let client = HttpClient::http2();
    for i in 0..20 {
        let reply = client
            .send(
                Method::POST,
                &format!("{}/scanner{i}.Probe/Method{i}", gateway.url()),
                &[("content-type", "application/grpc"), ("te", "trailers")],
                Bytes::from_static(b"\0\0\0\0\0"),
            )
            .await;
        assert_eq!(reply.headers["grpc-status"], "12");
    }
    let series = r#"grpc_server_handled_total{grpc_code="Unimplemented",grpc_method="unknown",grpc_service="unknown",grpc_type="unknown",route=""}"#;
    let metrics = metrics_when(&gateway, series, 20.0).await;
    assert!(
        !metrics.contains("scanner"),
        "scanned names leaked into labels:\n{metrics}"
    );
    assert_eq!(value_of(&metrics, series), Some(20.0), "{metrics}");
}

#[tokio::test]
async fn http_requests_and_connect_failures_are_counted() {
    let dead = format!("127.0.0.1:{}", protogate_testkit::free_port())
        .parse()
        .unwrap();
    let gateway = Gateway::start(&interop_config(&[dead])).await;
    let mut client = test_client(&gateway).await;
    let error = client.empty_call(Empty {}).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable);
    let reply = HttpClient::http1()
        .get(&format!("{}/nope", gateway.url()))
        .await;
    assert_eq!(reply.status, 404);
    // The histogram is observed after the counter: wait for it.
    let observed = r#"protogate_http_request_duration_seconds_count{route="",status="404"}"#;
    let metrics = metrics_when(&gateway, observed, 1.0).await;
    let failures =
        format!(r#"protogate_upstream_connect_failures_total{{target="{dead}",upstream="demo"}}"#);
    assert_eq!(value_of(&metrics, &failures), Some(1.0), "{metrics}");
    let requests = r#"protogate_http_requests_total{route="",status="404"}"#;
    assert_eq!(value_of(&metrics, requests), Some(1.0), "{metrics}");
    assert!(
        metrics.contains("protogate_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn stream_messages_are_counted_both_ways() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let sizes = [ResponseParameters {
        size: 3,
        interval_us: 0,
    }; 4];
    let mut stream = client
        .streaming_output_call(StreamingOutputCallRequest {
            response_parameters: sizes.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while stream.message().await.unwrap().is_some() {}
    let requests = [27, 8, 1828].map(|n| StreamingInputCallRequest {
        payload: Some(Payload { body: vec![0; n] }),
    });
    client
        .streaming_input_call(tokio_stream::iter(requests))
        .await
        .unwrap();

    let output = r#"grpc_method="StreamingOutputCall",grpc_service="grpc.testing.TestService",grpc_type="server_stream",route="interop""#;
    let input = r#"grpc_method="StreamingInputCall",grpc_service="grpc.testing.TestService",grpc_type="client_stream",route="interop""#;
    let done = format!("grpc_server_handling_seconds_count{{{input}}}");
    let metrics = metrics_when(&gateway, &done, 1.0).await;
    let sent =
        |labels: &str| value_of(&metrics, &format!("grpc_server_msg_sent_total{{{labels}}}"));
    let received = |labels: &str| {
        value_of(
            &metrics,
            &format!("grpc_server_msg_received_total{{{labels}}}"),
        )
    };
    assert_eq!(
        (received(output), sent(output)),
        (Some(1.0), Some(4.0)),
        "{metrics}"
    );
    assert_eq!(
        (received(input), sent(input)),
        (Some(3.0), Some(1.0)),
        "{metrics}"
    );
}
