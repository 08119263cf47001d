//! Streaming methods over REST, end to end: NDJSON and SSE answers written
//! as the upstream sends them, in-band errors, cancellation when the caller
//! leaves, and NDJSON or JSON-array uploads.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::Method;
use http_body_util::BodyExt;
use protogate_demo::{stream_state, StreamState};
use protogate_testkit::{eventually, DemoUpstream, Gateway, HttpClient};

use crate::python_interop::run_python;
use crate::support::{protos_dir, SERVER};
use crate::transcoding::{call, config, get, ndjson_ids, JSON};

async fn start() -> (Gateway, DemoUpstream) {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&config(&upstream.addr.to_string())).await;
    (gateway, upstream)
}

/// Reads a streamed body line by line.
struct Lines {
    body: hyper::body::Incoming,
    buffer: BytesMut,
}

impl Lines {
    async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                return Some(String::from_utf8(line[..end].to_vec()).unwrap());
            }
            let frame = self.body.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }
}

#[tokio::test]
async fn a_long_stream_arrives_line_by_line_before_the_upstream_has_sent_it_all() {
    let (gateway, _upstream) = start().await;
    for (client, tag) in [
        (HttpClient::http1(), "long-h1"),
        (HttpClient::http2(), "long-h2"),
    ] {
        let url = format!(
            "{}/v1/stream/products?count=10000&holdLastMs=1500&tag={tag}",
            gateway.url()
        );
        let response = client.open(Method::GET, &url, &[], Bytes::new()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let mut lines = Lines {
            body: response.into_body(),
            buffer: BytesMut::new(),
        };
        let first = lines.next().await.unwrap();
        assert!(
            first.starts_with(r#"{"id":"p-1","name":"Product 1","#),
            "{first}"
        );
        assert_eq!(
            stream_state(tag),
            Some(StreamState::Running),
            "the first line must arrive while the upstream still holds the last"
        );
        let mut count = 1;
        while let Some(line) = lines.next().await {
            count += 1;
            let product: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(product["id"], format!("p-{count}"));
        }
        assert_eq!(count, 10_000);
        assert_eq!(stream_state(tag), Some(StreamState::Completed));
    }
}

#[tokio::test]
async fn an_error_after_the_first_message_arrives_in_band_and_before_it_as_json() {
    let (gateway, _upstream) = start().await;
    let reply = get(
        &gateway,
        "/v1/stream/products?count=10&failAfter=2&failCode=10",
    )
    .await;
    assert_eq!(reply.status, 200);
    let lines: Vec<&str> = reply
        .body
        .split(|&b| b == b'\n')
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with(r#"{"id":"p-1","#));
    assert!(lines[1].starts_with(r#"{"id":"p-2","#));
    assert_eq!(
        lines[2],
        r#"{"error":{"code":10,"message":"failed after 2","details":[]}}"#
    );
    assert_eq!(lines[3], "");

    let reply = get(
        &gateway,
        "/v1/stream/products?count=10&failAfter=-1&failCode=5",
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(
        reply.text(),
        r#"{"code":5,"message":"failed after 0","details":[]}"#
    );

    // An empty stream is an empty answer.
    let reply = get(&gateway, "/v1/stream/products?count=0").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty(), "{}", reply.text());
}

/// An upstream message over the route's `max_body` is the upstream's
/// fault: the REST caller gets 502 (with the gRPC code, RESOURCE_EXHAUSTED,
/// in the body), not a 429 that would tell it to slow down.
#[tokio::test]
async fn an_oversize_upstream_message_is_a_bad_gateway_not_a_429() {
    let upstream = DemoUpstream::start().await;
    let yaml = format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{addr}"] }}
routes:
  - name: tiny
    match: {{ path_prefix: /v1/ }}
    upstream: demo
    plugins:
      - transcoder: {{ services: [protogate.testing.v1.EchoService], max_body: 8B }}
"#,
        protos = protos_dir(),
        addr = upstream.addr,
    );
    let gateway = Gateway::start(&yaml).await;
    let reply = get(&gateway, "/v1/stream/products?count=3").await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(
        reply.text().starts_with(
            r#"{"code":8,"message":"the upstream's stream is malformed: gRPC message of "#
        ),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn server_sent_events_are_read_by_a_real_sse_client() {
    let (gateway, _upstream) = start().await;
    let url = format!("{}/v1/stream/products?count=5", gateway.url());
    let (ok, stdout, stderr) = run_python("sse_client.py", vec![url]).await;
    assert!(ok, "{stderr}");
    let events: Vec<&str> = stdout.lines().collect();
    assert_eq!(events.len(), 5, "{stdout}");
    for (i, event) in events.iter().enumerate() {
        let (kind, data) = event.split_once('\t').unwrap();
        assert_eq!(kind, "message");
        let product: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(product["id"], format!("p-{}", i + 1));
    }

    let url = format!("{}/v1/stream/products?count=5&failAfter=3", gateway.url());
    let (ok, stdout, stderr) = run_python("sse_client.py", vec![url]).await;
    assert!(ok, "{stderr}");
    let events: Vec<&str> = stdout.lines().collect();
    assert_eq!(events.len(), 4, "{stdout}");
    assert_eq!(
        events[3],
        "error\t{\"code\":10,\"message\":\"failed after 3\",\"details\":[]}"
    );
}

#[tokio::test]
async fn a_caller_that_leaves_mid_stream_cancels_the_upstream_call() {
    let (gateway, _upstream) = start().await;
    for (client, tag) in [
        (HttpClient::http1(), "leave-h1"),
        (HttpClient::http2(), "leave-h2"),
    ] {
        let url = format!(
            "{}/v1/stream/products?count=100000&intervalMs=5&tag={tag}",
            gateway.url()
        );
        let response = client.open(Method::GET, &url, &[], Bytes::new()).await;
        let mut lines = Lines {
            body: response.into_body(),
            buffer: BytesMut::new(),
        };
        assert!(lines.next().await.is_some());
        assert!(lines.next().await.is_some());
        drop(lines);
        drop(client);
        eventually(
            "the upstream stream is cancelled",
            Duration::from_secs(5),
            || async { (stream_state(tag) == Some(StreamState::Cancelled)).then_some(()) },
        )
        .await;
    }
    // The gateway serves on.
    assert_eq!(get(&gateway, "/v1/echo/after").await.status, 200);
}

#[tokio::test]
async fn ndjson_and_array_uploads_reach_a_client_streaming_method() {
    let (gateway, _upstream) = start().await;
    let mut body = String::new();
    for i in 1..=10_000 {
        body.push_str(&format!(
            "{{\"id\":\"u-{i}\",\"name\":\"Upload {i}\",\"priceCents\":\"{i}\",\"tags\":[\"x\"]}}\n"
        ));
    }
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/collect",
        &[("content-type", "application/x-ndjson")],
        &body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.text(),
        r#"{"count":"10000","firstId":"u-1","lastId":"u-10000"}"#
    );

    let reply = call(
        &gateway,
        Method::POST,
        "/v1/collect",
        &[JSON],
        r#"[{"id":"a"},{"id":"b"}]"#,
    )
    .await;
    assert_eq!(reply.text(), r#"{"count":"2","firstId":"a","lastId":"b"}"#);

    let reply = call(
        &gateway,
        Method::POST,
        "/v1/collect",
        &[JSON],
        "{\"id\":\"a\"}\n{\"id\":7}\n",
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("message 2: invalid JSON body"),
        "{}",
        reply.text()
    );

    // Bidi, half-duplex: every line is answered.
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/chat",
        &[JSON],
        "{\"id\":\"c1\"}\n{\"id\":\"c2\"}\n",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(ndjson_ids(&reply), ["c1", "c2"]);
}
