//! Route precedence and the no-route answers, in each caller's protocol.

use bytes::Bytes;
use http::Method;
use protogate_demo::pb::grpc::testing::{Empty, SimpleRequest};
use protogate_testkit::HttpClient;

use crate::support::{gateway_with_demo, test_client};

fn started_count(metrics: &str, method: &str, route: &str) -> u64 {
    let needle = format!("grpc_method=\"{method}\",grpc_service=\"grpc.testing.TestService\",grpc_type=\"unary\",route=\"{route}\"}}");
    metrics
        .lines()
        .filter(|l| l.starts_with("grpc_server_started_total{") && l.contains(&needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_method_route_beats_its_service_route() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let mut client = test_client(&gateway).await;
    client.empty_call(Empty {}).await.unwrap();
    client.unary_call(SimpleRequest::default()).await.unwrap();
    let metrics = gateway.metrics().await;
    assert_eq!(
        started_count(&metrics, "EmptyCall", "empty-call"),
        1,
        "{metrics}"
    );
    assert_eq!(
        started_count(&metrics, "EmptyCall", "interop"),
        0,
        "{metrics}"
    );
    assert_eq!(
        started_count(&metrics, "UnaryCall", "interop"),
        1,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_grpc_caller_with_no_route_gets_unimplemented_trailers_only() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let reply = HttpClient::http2()
        .send(
            Method::POST,
            &format!("{}/acme.Nowhere/Call", gateway.url()),
            &[("content-type", "application/grpc"), ("te", "trailers")],
            Bytes::from_static(b"\0\0\0\0\0"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["grpc-status"], "12", "{:?}", reply.headers);
    assert_eq!(
        reply.headers["grpc-message"],
        "unknown service or method: /acme.Nowhere/Call"
    );
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn an_http_caller_with_no_route_gets_a_json_404() {
    let (gateway, _upstream) = gateway_with_demo().await;
    for client in [HttpClient::http1(), HttpClient::http2()] {
        let reply = client.get(&format!("{}/nowhere?x=1", gateway.url())).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(
            reply.text(),
            r#"{"code":12,"message":"no route for GET /nowhere","details":[]}"#
        );
    }
}

#[tokio::test]
async fn grpc_service_routes_do_not_match_http_callers() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let reply = HttpClient::http1()
        .send(
            Method::POST,
            &format!("{}/grpc.testing.TestService/EmptyCall", gateway.url()),
            &[("content-type", "application/json")],
            Bytes::from_static(b"{}"),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text());
}

#[tokio::test]
async fn native_grpc_over_http1_is_refused_with_a_grpc_status() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let reply = HttpClient::http1()
        .send(
            Method::POST,
            &format!("{}/grpc.testing.TestService/EmptyCall", gateway.url()),
            &[("content-type", "application/grpc")],
            Bytes::from_static(b"\0\0\0\0\0"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["grpc-status"], "13");
    assert!(
        reply.headers["grpc-message"]
            .to_str()
            .unwrap()
            .contains("HTTP/2"),
        "{:?}",
        reply.headers
    );
}
