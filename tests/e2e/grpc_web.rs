//! gRPC-Web end to end, in raw HTTP: binary and text, HTTP/1.1 and h2,
//! unary and server streaming, errors from the upstream and from the
//! gateway, and the CORS preflight. The browser test (`grpc_web_browser`)
//! runs a real client library against the same gateway.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Method};
use http_body_util::BodyExt;
use prost::Message;
use protogate_demo::pb::ecommerce::v1::{GetProductRequest, Product};
use protogate_demo::pb::protogate::testing::v1::{FailRequest, Kitchen, StreamRequest};
use protogate_demo::{stream_state, StreamState};
use protogate_testkit::{free_port, DemoUpstream, Gateway, HttpClient, HttpReply};

use crate::support::{protos_dir, SERVER};

const ECHO: &str = "/protogate.testing.v1.EchoService";
const BINARY: &str = "application/grpc-web+proto";
const TEXT: &str = "application/grpc-web-text+proto";

pub(crate) fn config(upstream: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{upstream}"], connect_timeout: 500ms }}
  dead: {{ protocol: grpc, targets: ["127.0.0.1:{dead}"], connect_timeout: 500ms }}
routes:
  - name: echo
    match: {{ grpc_service: protogate.testing.v1.EchoService }}
    upstream: demo
    timeout: 5s
  - name: products
    match: {{ grpc_service: ecommerce.v1.ProductService }}
    upstream: demo
    plugins:
      - grpc_proxy:
          grpc_web:
            cors: {{ allow_origins: ["https://app.example.com"], expose_headers: [x-seen-metadata] }}
  - name: hang
    match: {{ grpc_method: protogate.testing.v1.EchoService/Hang }}
    upstream: demo
    timeout: 300ms
  - name: dead
    match: {{ grpc_method: protogate.testing.v1.EchoService/Download }}
    upstream: dead
  - name: web-off
    match: {{ grpc_method: protogate.testing.v1.EchoService/Unannotated }}
    upstream: demo
    plugins:
      - grpc_proxy: {{ grpc_web: false }}
"#,
        protos = protos_dir(),
        dead = free_port(),
    )
}

pub(crate) async fn start() -> (Gateway, DemoUpstream) {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&config(&upstream.addr.to_string())).await;
    (gateway, upstream)
}

/// One gRPC message frame.
fn frame(message: &impl Message) -> Bytes {
    let payload = message.encode_to_vec();
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out.freeze()
}

/// Decodes a text-mode body by 4-character groups, each on its own, so
/// padding inside the stream is accepted wherever it falls.
fn unbase64(text: &[u8]) -> Vec<u8> {
    assert_eq!(text.len() % 4, 0, "whole base64 groups");
    text.chunks(4)
        .flat_map(|group| STANDARD.decode(group).expect("base64"))
        .collect()
}

/// A gRPC-Web body split into its messages and its trailer frame.
#[derive(Debug)]
struct WebBody {
    messages: Vec<Bytes>,
    trailers: Option<HeaderMap>,
}

fn parse_body(mut body: &[u8]) -> WebBody {
    let mut messages = Vec::new();
    let mut trailers = None;
    while !body.is_empty() {
        assert!(trailers.is_none(), "nothing may follow the trailer frame");
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let (payload, rest) = body.split_at(len);
        body = rest;
        if flag & 0x80 == 0 {
            messages.push(Bytes::copy_from_slice(payload));
            continue;
        }
        let mut map = HeaderMap::new();
        for line in std::str::from_utf8(payload).unwrap().split("\r\n") {
            if let Some((name, value)) = line.split_once(": ") {
                map.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
        }
        trailers = Some(map);
    }
    WebBody { messages, trailers }
}

fn body_of(reply: &HttpReply) -> WebBody {
    let content_type = reply.headers["content-type"].to_str().unwrap();
    if content_type.starts_with("application/grpc-web-text") {
        parse_body(&unbase64(&reply.body))
    } else {
        parse_body(&reply.body)
    }
}

/// The call's status and (decoded) message: from the trailer frame, or
/// from the header of a trailers-only answer.
fn status_of(reply: &HttpReply) -> (String, String) {
    let body = body_of(reply);
    let map = body.trailers.as_ref().unwrap_or(&reply.headers);
    let get = |name: &str| {
        map.get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let message = protogate_grpc::decode_grpc_message(get("grpc-message").as_bytes()).into_owned();
    (get("grpc-status"), message)
}

async fn web_call(
    client: &HttpClient,
    gateway: &Gateway,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    frames: Bytes,
) -> HttpReply {
    let body = if content_type.starts_with("application/grpc-web-text") {
        Bytes::from(STANDARD.encode(&frames))
    } else {
        frames
    };
    let mut all = vec![("content-type", content_type), ("x-grpc-web", "1")];
    all.extend_from_slice(headers);
    client
        .send(
            Method::POST,
            &format!("{}{path}", gateway.url()),
            &all,
            body,
        )
        .await
}

fn kitchen(id: &str) -> Kitchen {
    Kitchen {
        id: id.to_owned(),
        name: "from a browser".to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn unary_calls_in_both_encodings_on_both_http_versions() {
    let (gateway, _upstream) = start().await;
    for (client, version) in [(HttpClient::http1(), "h1"), (HttpClient::http2(), "h2")] {
        for content_type in [BINARY, TEXT] {
            let reply = web_call(
                &client,
                &gateway,
                &format!("{ECHO}/Echo"),
                content_type,
                &[
                    ("x-grpc-test-echo-initial", "hello"),
                    ("x-grpc-test-echo-trailing-bin", "AAEC"),
                ],
                frame(&kitchen("k-1")),
            )
            .await;
            let what = format!("{version} {content_type}");
            assert_eq!(reply.status, 200, "{what}");
            assert_eq!(reply.headers["content-type"], content_type, "{what}");
            assert_eq!(reply.headers["x-grpc-test-echo-initial"], "hello", "{what}");
            assert!(reply.trailers.is_none(), "{what}: no HTTP trailers");
            let body = body_of(&reply);
            assert_eq!(body.messages.len(), 1, "{what}");
            assert_eq!(
                Kitchen::decode(body.messages[0].clone()).unwrap(),
                kitchen("k-1"),
                "{what}"
            );
            let trailers = body.trailers.expect("a trailer frame");
            assert_eq!(trailers["grpc-status"], "0", "{what}");
            assert_eq!(
                trailers["x-grpc-test-echo-trailing-bin"], "AAEC",
                "{what}: trailing metadata in the trailer frame"
            );
            // The caller's own metadata reached the upstream (the native
            // request the upstream got is checked on the raw upstream below).
            let seen = reply.headers["x-seen-metadata"].to_str().unwrap();
            assert!(seen.contains("x-grpc-web"), "{what}: {seen}");
        }
    }
}

#[tokio::test]
async fn the_upstream_gets_native_grpc_with_te_trailers_from_an_http1_caller() {
    let raw = protogate_testkit::RawUpstream::start().await;
    let gateway = Gateway::start(&format!(
        r#"
{SERVER}upstreams:
  raw: {{ protocol: grpc, targets: ["{addr}"] }}
routes:
  - name: raw
    match: {{ grpc_service: test.Raw }}
    upstream: raw
"#,
        addr = raw.addr
    ))
    .await;
    let reply = web_call(
        &HttpClient::http1(),
        &gateway,
        "/test.Raw/Echo",
        TEXT,
        &[],
        frame(&kitchen("raw")),
    )
    .await;
    assert_eq!(status_of(&reply).0, "0");
    let seen = raw.seen();
    let request = seen.last().unwrap();
    assert_eq!(request["content-type"], "application/grpc+proto");
    assert_eq!(request["te"], "trailers");
    assert!(request.get("content-length").is_none());
    let echoed = body_of(&reply);
    assert_eq!(
        Kitchen::decode(echoed.messages[0].clone()).unwrap(),
        kitchen("raw"),
        "the text body reached the upstream decoded"
    );
}

#[tokio::test]
async fn server_streaming_reaches_the_page_message_by_message() {
    let (gateway, _upstream) = start().await;
    for (content_type, tag) in [(BINARY, "web-stream-bin"), (TEXT, "web-stream-text")] {
        let request = StreamRequest {
            count: 3,
            interval_ms: 10,
            tag: tag.to_owned(),
            hold_last_ms: 1_500,
            ..Default::default()
        };
        let body = if content_type == TEXT {
            Bytes::from(STANDARD.encode(frame(&request)))
        } else {
            frame(&request)
        };
        let response = HttpClient::http1()
            .open(
                Method::POST,
                &format!("{}{ECHO}/StreamProducts", gateway.url()),
                &[("content-type", content_type)],
                body,
            )
            .await;
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
        let mut body = response.into_body();
        let mut received = Vec::new();
        // Two messages arrive while the server still holds the third back.
        while parse_prefix(&received, content_type) < 2 {
            let chunk = body.frame().await.unwrap().unwrap();
            received.extend_from_slice(chunk.data_ref().unwrap());
        }
        assert_eq!(stream_state(tag), Some(StreamState::Running), "{tag}");
        while let Some(chunk) = body.frame().await {
            received.extend_from_slice(chunk.unwrap().data_ref().unwrap());
        }
        let raw = if content_type == TEXT {
            unbase64(&received)
        } else {
            received
        };
        let parsed = parse_body(&raw);
        let ids: Vec<String> = parsed
            .messages
            .iter()
            .map(|m| Product::decode(m.clone()).unwrap().id)
            .collect();
        assert_eq!(ids, ["p-1", "p-2", "p-3"], "{content_type}");
        assert_eq!(parsed.trailers.unwrap()["grpc-status"], "0");
    }
}

/// Messages complete in what arrived so far (text mode: whole base64
/// groups decoded).
fn parse_prefix(received: &[u8], content_type: &str) -> usize {
    let raw = if content_type == TEXT {
        unbase64(&received[..received.len() - received.len() % 4])
    } else {
        received.to_vec()
    };
    let mut rest = &raw[..];
    let mut count = 0;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if rest.len() < 5 + len {
            break;
        }
        count += 1;
        rest = &rest[5 + len..];
    }
    count
}

#[tokio::test]
async fn upstream_errors_keep_their_status_message_and_details() {
    let (gateway, _upstream) = start().await;
    let client = HttpClient::http1();
    // Unary error: trailers-only, the status in the header.
    let fail = FailRequest {
        code: 5,
        message: "no such thing".to_owned(),
        with_details: true,
    };
    for content_type in [BINARY, TEXT] {
        let reply = web_call(
            &client,
            &gateway,
            &format!("{ECHO}/Fail"),
            content_type,
            &[("origin", "https://page.test")],
            frame(&fail),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], content_type);
        assert_eq!(
            status_of(&reply),
            ("5".to_owned(), "no such thing".to_owned())
        );
        assert!(reply.headers.contains_key("grpc-status-details-bin"));
        let exposed = reply.headers["access-control-expose-headers"]
            .to_str()
            .unwrap();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            assert!(exposed.contains(name), "{exposed}");
        }
    }
    // A stream that fails after two messages: the status in the trailer frame.
    let request = StreamRequest {
        count: 5,
        fail_after: 2,
        fail_code: 10,
        ..Default::default()
    };
    let reply = web_call(
        &client,
        &gateway,
        &format!("{ECHO}/StreamProducts"),
        TEXT,
        &[],
        frame(&request),
    )
    .await;
    let body = body_of(&reply);
    assert_eq!(body.messages.len(), 2);
    assert_eq!(body.trailers.unwrap()["grpc-status"], "10");
}

#[tokio::test]
async fn gateway_errors_come_in_grpc_web_form() {
    let (gateway, _upstream) = start().await;
    let client = HttpClient::http1();
    let cases = [
        ("/nowhere.Service/Call", vec![], "12", "unknown service"),
        (
            "/protogate.testing.v1.EchoService/Download",
            vec![],
            "14",
            "upstream `dead` unreachable",
        ),
        (
            "/protogate.testing.v1.EchoService/Hang",
            vec![("grpc-timeout", "200m")],
            "4",
            "deadline exceeded",
        ),
        (
            "/protogate.testing.v1.EchoService/Unannotated",
            vec![],
            "12",
            "gRPC-Web is turned off on this route",
        ),
    ];
    for (path, headers, code, message) in cases {
        for content_type in [BINARY, TEXT] {
            let reply = tokio::time::timeout(
                Duration::from_secs(20),
                web_call(
                    &client,
                    &gateway,
                    path,
                    content_type,
                    &headers,
                    frame(&kitchen("x")),
                ),
            )
            .await
            .expect("an answer");
            assert_eq!(reply.status, 200, "{path}");
            assert_eq!(reply.headers["content-type"], content_type, "{path}");
            let (status, text) = status_of(&reply);
            assert_eq!(status, code, "{path}: {text}");
            assert!(text.contains(message), "{path}: {text}");
        }
    }
}

#[tokio::test]
async fn a_deadline_that_passes_mid_stream_ends_it_with_a_trailer_frame() {
    let (gateway, _upstream) = start().await;
    let request = StreamRequest {
        count: 100,
        interval_ms: 100,
        ..Default::default()
    };
    for client in [HttpClient::http1(), HttpClient::http2()] {
        for content_type in [BINARY, TEXT] {
            let reply = web_call(
                &client,
                &gateway,
                &format!("{ECHO}/StreamProducts"),
                content_type,
                &[("grpc-timeout", "350m")],
                frame(&request),
            )
            .await;
            let body = body_of(&reply);
            assert!(!body.messages.is_empty(), "messages before the deadline");
            assert!(body.messages.len() < 100);
            let trailers = body.trailers.expect("the gateway's trailer frame");
            assert_eq!(trailers["grpc-status"], "4", "{content_type}");
        }
    }
}

#[tokio::test]
async fn malformed_text_is_invalid_argument_and_the_gateway_carries_on() {
    let (gateway, _upstream) = start().await;
    let client = HttpClient::http1();
    for body in ["AAAA!AAA", "AAAAAAA"] {
        let reply = client
            .send(
                Method::POST,
                &format!("{}{ECHO}/Echo", gateway.url()),
                &[("content-type", TEXT)],
                Bytes::from(body),
            )
            .await;
        let (status, message) = status_of(&reply);
        assert_eq!(status, "3", "{body}: {message}");
        assert!(message.contains("base64"), "{message}");
    }
    let reply = web_call(
        &client,
        &gateway,
        &format!("{ECHO}/Echo"),
        TEXT,
        &[],
        frame(&kitchen("after")),
    )
    .await;
    assert_eq!(status_of(&reply).0, "0");
}

#[tokio::test]
async fn preflights_are_answered_by_the_route_policy() {
    let (gateway, _upstream) = start().await;
    let client = HttpClient::http1();
    let preflight = |path: &'static str, origin: &'static str| {
        let client = client.clone();
        let url = format!("{}{path}", gateway.url());
        async move {
            client
                .send(
                    Method::OPTIONS,
                    &url,
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        (
                            "access-control-request-headers",
                            "content-type,x-grpc-web,x-user-agent",
                        ),
                    ],
                    Bytes::new(),
                )
                .await
        }
    };
    // The default policy: any origin, the requested headers allowed.
    let open = preflight(
        "/protogate.testing.v1.EchoService/Echo",
        "http://localhost:3000",
    )
    .await;
    assert_eq!(open.status, 204);
    assert_eq!(open.headers["access-control-allow-origin"], "*");
    assert_eq!(
        open.headers["access-control-allow-headers"],
        "content-type,x-grpc-web,x-user-agent"
    );
    assert!(open.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    // A narrowed route: its origin passes, another is refused.
    let allowed = preflight(
        "/ecommerce.v1.ProductService/GetProduct",
        "https://app.example.com",
    )
    .await;
    assert_eq!(allowed.status, 204);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight(
        "/ecommerce.v1.ProductService/GetProduct",
        "https://evil.test",
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.text().contains("https://evil.test"),
        "{}",
        refused.text()
    );
    // The call itself from a refused origin gets no CORS headers (the
    // browser blocks the page from reading it); from the allowed origin,
    // the listed header is exposed along with the status.
    let product = GetProductRequest {
        id: "p-1".to_owned(),
    };
    for (origin, allowed) in [
        ("https://evil.test", false),
        ("https://app.example.com", true),
    ] {
        let reply = web_call(
            &client,
            &gateway,
            "/ecommerce.v1.ProductService/GetProduct",
            BINARY,
            &[("origin", origin)],
            frame(&product),
        )
        .await;
        assert_eq!(
            reply.headers.contains_key("access-control-allow-origin"),
            allowed
        );
        if allowed {
            assert_eq!(
                reply.headers["access-control-expose-headers"],
                "x-seen-metadata, grpc-status, grpc-message, grpc-status-details-bin"
            );
        }
    }
    // A preflight on a route with gRPC-Web off is refused.
    let off = preflight(
        "/protogate.testing.v1.EchoService/Unannotated",
        "http://localhost:3000",
    )
    .await;
    assert_eq!(off.status, 403);
}

#[tokio::test]
async fn a_page_that_leaves_mid_stream_cancels_the_upstream_call() {
    let (gateway, _upstream) = start().await;
    for (client, tag) in [
        (HttpClient::http1(), "web-leave-h1"),
        (HttpClient::http2(), "web-leave-h2"),
    ] {
        let request = StreamRequest {
            count: 100_000,
            interval_ms: 5,
            tag: tag.to_owned(),
            ..Default::default()
        };
        let response = client
            .open(
                Method::POST,
                &format!("{}{ECHO}/StreamProducts", gateway.url()),
                &[("content-type", BINARY)],
                frame(&request),
            )
            .await;
        let mut body = response.into_body();
        let mut received = Vec::new();
        while parse_prefix(&received, BINARY) < 2 {
            let chunk = body.frame().await.unwrap().unwrap();
            received.extend_from_slice(chunk.data_ref().unwrap());
        }
        drop(body);
        drop(client);
        protogate_testkit::eventually(
            "the upstream stream is cancelled",
            Duration::from_secs(5),
            || async { (stream_state(tag) == Some(StreamState::Cancelled)).then_some(()) },
        )
        .await;
    }
    // Both calls are counted in the gRPC families, as cancelled by the caller.
    let series = r#"grpc_server_handled_total{grpc_code="Canceled",grpc_method="StreamProducts",grpc_service="protogate.testing.v1.EchoService",grpc_type="server_stream",route="echo"}"#;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = gateway.metrics().await;
        if metrics.lines().any(|l| l == format!("{series} 2")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected `{series} 2` in:\n{metrics}");
}
