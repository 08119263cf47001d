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

#[tokio::test]
async fn traffic_bytes_latency_split_and_open_streams() {
    use prost::Message;
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    let request = SimpleRequest {
        response_size: 700,
        payload: Some(Payload { body: vec![7; 300] }),
        ..Default::default()
    };
    let mut response_len = 0;
    for _ in 0..3 {
        let reply = client.unary_call(request.clone()).await.unwrap();
        response_len = reply.into_inner().encoded_len();
    }
    // Each body is one gRPC message: a 5-byte prefix, then the protobuf.
    let received = 3 * (5 + request.encoded_len());
    let sent = 3 * (5 + response_len);
    let route = r#"{route="interop"}"#;
    let metrics = metrics_when(
        &gateway,
        &format!("protogate_gateway_overhead_seconds_count{route}"),
        3.0,
    )
    .await;
    let value = |name: &str| value_of(&metrics, &format!("{name}{route}"));
    assert_eq!(
        value("protogate_received_bytes_total"),
        Some(received as f64),
        "{metrics}"
    );
    assert_eq!(
        value("protogate_sent_bytes_total"),
        Some(sent as f64),
        "{metrics}"
    );
    assert_eq!(
        value("protogate_upstream_latency_seconds_count"),
        Some(3.0),
        "{metrics}"
    );
    // The gateway's own share is a fraction of the whole call.
    let overhead = value("protogate_gateway_overhead_seconds_sum").unwrap();
    let total = value_of(
        &metrics,
        r#"grpc_server_handling_seconds_sum{grpc_method="UnaryCall",grpc_service="grpc.testing.TestService",grpc_type="unary",route="interop"}"#,
    )
    .unwrap();
    assert!(overhead > 0.0 && overhead < total, "{overhead} of {total}");
    assert_eq!(value("protogate_open_streams"), Some(0.0), "{metrics}");
    assert!(
        value_of(&metrics, "protogate_open_connections") >= Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "protogate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );

    // A bidi stream held open counts as one stream in flight until it ends.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut replies = client
        .full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 1,
            interval_us: 0,
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    replies.message().await.unwrap().unwrap();
    let open = format!("protogate_open_streams{route}");
    let during = metrics_when(&gateway, &open, 1.0).await;
    assert_eq!(value_of(&during, &open), Some(1.0), "{during}");
    drop(tx);
    while replies.message().await.unwrap().is_some() {}
    let after = metrics_when(&gateway, &open, 0.0).await;
    assert_eq!(value_of(&after, &open), Some(0.0), "{after}");
}
