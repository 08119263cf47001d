//! Out-of-pipeline upstream calls against a real tonic upstream on loopback.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora_core::connectors::http::Connector;
use pingora_http::RequestHeader;
use prost::Message;
use protogate_core::{CallInfo, CallLimits, Code, UpstreamConnector};
use protogate_demo::pb::grpc::testing::{EchoStatus, SimpleRequest, SimpleResponse};
use protogate_metrics::Metrics;
use protogate_proxy::{RouteConnector, Upstream};
use protogate_testkit::{free_port, DemoUpstream};

const LIMITS: CallLimits = CallLimits {
    max_response_bytes: 8 << 20,
};

fn upstream(targets: &[String]) -> Upstream {
    let quoted: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let yaml = format!(
        "server:\n  listen: [{{ address: \"127.0.0.1:0\" }}]\nupstreams:\n  demo: {{ protocol: grpc, targets: [{}], connect_timeout: 500ms }}\n",
        quoted.join(", ")
    );
    let config = protogate_config::parse_str(&yaml, Path::new("test.yaml")).unwrap();
    Upstream::build(&config.upstreams[0], &Default::default()).unwrap()
}

fn connector(upstream: Upstream) -> RouteConnector {
    RouteConnector {
        pool: Arc::new(Connector::new(None)),
        upstream: Arc::new(upstream),
        metrics: Arc::new(Metrics::new().unwrap()),
        timeout: protogate_config::Timeout::Off,
    }
}

fn unary_request(message: &SimpleRequest) -> (RequestHeader, Bytes) {
    let mut header =
        RequestHeader::build("POST", b"/grpc.testing.TestService/UnaryCall", None).unwrap();
    header
        .insert_header("content-type", "application/grpc")
        .unwrap();
    header.insert_header("te", "trailers").unwrap();
    let mut body = BytesMut::new();
    protogate_grpc::frame::encode(&message.encode_to_vec(), false, &mut body);
    (header, body.freeze())
}

fn decode_reply(body: &Bytes) -> SimpleResponse {
    assert!(body.len() >= 5, "a gRPC frame");
    SimpleResponse::decode(&body[5..]).unwrap()
}

#[tokio::test]
async fn a_unary_call_returns_body_and_trailers_and_records_the_status() {
    let demo = DemoUpstream::start().await;
    let upstream = upstream(&[demo.addr.to_string()]);
    let connector = connector(upstream);
    for _ in 0..3 {
        let mut call = CallInfo::default();
        let (header, body) = unary_request(&SimpleRequest {
            response_size: 175,
            ..Default::default()
        });
        let reply = connector
            .send(&mut call, header, body, LIMITS)
            .await
            .unwrap();
        assert_eq!(reply.header.status, 200);
        assert_eq!(decode_reply(&reply.body).payload.unwrap().body.len(), 175);
        assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
        assert_eq!(call.grpc_status, Some(Code::Ok));
    }

    let mut call = CallInfo::default();
    let failing = SimpleRequest {
        response_status: Some(EchoStatus {
            code: 5,
            message: "gone".into(),
        }),
        ..Default::default()
    };
    let (header, body) = unary_request(&failing);
    connector
        .send(&mut call, header, body, LIMITS)
        .await
        .unwrap();
    assert_eq!(call.grpc_status, Some(Code::NotFound));
}

#[tokio::test]
async fn a_dead_target_is_skipped_and_counted() {
    let demo = DemoUpstream::start().await;
    let dead = format!("127.0.0.1:{}", free_port());
    let upstream = upstream(&[dead.clone(), demo.addr.to_string()]);
    let connector = connector(upstream);
    for _ in 0..4 {
        let mut call = CallInfo::default();
        let (header, body) = unary_request(&SimpleRequest::default());
        let reply = connector
            .send(&mut call, header, body, LIMITS)
            .await
            .unwrap();
        assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
    }
    let text = String::from_utf8(connector.metrics.render()).unwrap();
    let series = format!(
        "protogate_upstream_connect_failures_total{{target=\"{dead}\",upstream=\"demo\"}} 2"
    );
    assert!(text.contains(&series), "{text}");
}

#[tokio::test]
async fn every_target_dead_is_unavailable() {
    let dead = format!("127.0.0.1:{}", free_port());
    let upstream = upstream(std::slice::from_ref(&dead));
    let connector = connector(upstream);
    let mut call = CallInfo::default();
    let (header, body) = unary_request(&SimpleRequest::default());
    let error = connector
        .send(&mut call, header, body, LIMITS)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::Unavailable);
    assert!(
        error.message.contains("upstream `demo` unreachable"),
        "{}",
        error.message
    );
    assert!(error.message.contains(&dead), "{}", error.message);
}
