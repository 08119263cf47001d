//! gRPC edge semantics: gateway errors, deadlines, message limits, safe
//! retries. A raw HTTP/2 client is used where a real client's own timer or
//! framing would hide what the gateway does.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protogate_testkit::{frame, free_port, Gateway, RawClient, RawUpstream};

use crate::support::SERVER;

/// A gateway in front of raw upstreams: `raw` (target list as given) with
/// a 1 KiB message limit.
async fn gateway_for(targets: &[std::net::SocketAddr], route_timeout: &str) -> Gateway {
    let targets: Vec<String> = targets.iter().map(|a| format!("\"{a}\"")).collect();
    Gateway::start(&format!(
        r#"
{SERVER}upstreams:
  raw: {{ protocol: grpc, targets: [{targets}], connect_timeout: 500ms }}
routes:
  - name: raw
    match: {{ grpc_service: test.Raw }}
    upstream: raw
    timeout: {route_timeout}
    plugins:
      - grpc_proxy: {{ max_message_size: 1KiB }}
"#,
        targets = targets.join(", ")
    ))
    .await
}

/// Waits for a raw call with a generous bound: the bound only keeps a
/// broken gateway from hanging the suite; nothing here asserts a timing.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the gateway answered")
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_trailers_only_unavailable() {
    let dead = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let gateway = gateway_for(&[dead], "off").await;
    let client = RawClient::connect(gateway.port).await;
    let reply = bounded(client.call("/test.Raw/Echo", &[], frame(b"hi"))).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.trailers.is_none(),
        "trailers-only: the status rides the headers"
    );
    assert_eq!(reply.grpc_status(), Some("14"));
    let message = reply.grpc_message().unwrap();
    assert!(message.contains("upstream `raw` unreachable"), "{message}");
}

#[tokio::test]
async fn an_upstream_reset_mid_stream_is_unavailable_not_cancelled() {
    let raw = RawUpstream::start().await;
    let gateway = gateway_for(&[raw.addr], "off").await;
    let client = RawClient::connect(gateway.port).await;
    let reply = bounded(client.call("/test.Raw/ResetMid", &[], frame(b""))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        &reply.body[..],
        b"\0\0\0\0\x02\x08\x01",
        "the message before the reset arrives"
    );
    assert_eq!(reply.grpc_status(), Some("14"), "{reply:?}");
    assert!(
        reply.trailers.is_some(),
        "the status comes as trailers after the headers"
    );
}

#[tokio::test]
async fn a_deadline_ends_only_its_own_call_and_the_upstream_hears_the_budget_left() {
    let raw = RawUpstream::start().await;
    let gateway = gateway_for(&[raw.addr], "off").await;
    let client = RawClient::connect(gateway.port).await;

    // The budget the upstream saw is what was left, not the caller's 10 s.
    let reply =
        bounded(client.call("/test.Raw/Echo", &[("grpc-timeout", "10S")], frame(b"x"))).await;
    assert_eq!(reply.grpc_status(), Some("0"));
    let seen = reply.headers["x-seen-grpc-timeout"]
        .to_str()
        .unwrap()
        .to_owned();
    let seen = protogate_grpc::timeout::parse_grpc_timeout(seen.as_bytes()).unwrap();
    assert!(
        seen < Duration::from_secs(10) && seen > Duration::from_secs(5),
        "{seen:?}"
    );

    // A call that hangs upstream, with no timer in this client: the gateway
    // ends it with DEADLINE_EXCEEDED. Meanwhile a second call on the same
    // client connection and the same upstream connection completes.
    let hanging = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call("/test.Raw/Hang", &[("grpc-timeout", "300m")], frame(b""))
                .await
        })
    };
    let echo = bounded(client.call("/test.Raw/Echo", &[], frame(b"still here"))).await;
    assert_eq!(echo.grpc_status(), Some("0"));
    assert_eq!(&echo.body[5..], b"still here");
    let reply = bounded(hanging).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.grpc_status(), Some("4"), "{reply:?}");
    assert_eq!(
        reply.grpc_message().as_deref(),
        Some("deadline exceeded (the caller's grpc-timeout)")
    );
    // The hang, the echo and the first echo share one upstream connection:
    // a deadline must not have cost the others theirs.
    let after = bounded(client.call("/test.Raw/Echo", &[], frame(b"after"))).await;
    assert_eq!(after.grpc_status(), Some("0"));
}

#[tokio::test]
async fn a_call_without_grpc_timeout_is_capped_by_the_route_timeout() {
    let raw = RawUpstream::start().await;
    let gateway = gateway_for(&[raw.addr], "200ms").await;
    let client = RawClient::connect(gateway.port).await;
    let reply = bounded(client.call("/test.Raw/Hang", &[], frame(b""))).await;
    assert_eq!(reply.grpc_status(), Some("4"));
    assert_eq!(
        reply.grpc_message().as_deref(),
        Some("deadline exceeded (the route's timeout)")
    );
    let seen = raw.seen();
    assert_eq!(
        seen.last().unwrap()["te"],
        "trailers",
        "the grpc_proxy hook ran on the forwarded request"
    );
    let told = seen.last().unwrap()["grpc-timeout"]
        .to_str()
        .unwrap()
        .to_owned();
    let told = protogate_grpc::timeout::parse_grpc_timeout(told.as_bytes()).unwrap();
    assert!(
        told <= Duration::from_millis(200),
        "the upstream is told the route's cap: {told:?}"
    );
}

#[tokio::test]
async fn a_stream_that_goes_quiet_past_its_deadline_is_ended() {
    let raw = RawUpstream::start().await;
    let gateway = gateway_for(&[raw.addr], "off").await;
    let client = RawClient::connect(gateway.port).await;
    // Two messages at once, then silence: the deadline falls in the gap.
    let reply =
        bounded(client.call("/test.Raw/GoQuiet", &[("grpc-timeout", "500m")], frame(b""))).await;
    assert_eq!(&reply.body[..], b"\0\0\0\0\x02\x08\x01\0\0\0\0\x02\x08\x02");
    assert!(
        reply.trailers.is_some(),
        "headers went out first, so the status is a trailer"
    );
    assert_eq!(reply.grpc_status(), Some("4"), "{reply:?}");
}

#[tokio::test]
async fn message_limits_and_malformed_frames_get_a_grpc_status_and_the_gateway_serves_on() {
    let raw = RawUpstream::start().await;
    let gateway = gateway_for(&[raw.addr], "off").await;
    let client = RawClient::connect(gateway.port).await;

    let at_limit = bounded(client.call("/test.Raw/Echo", &[], frame(&[7; 1024]))).await;
    assert_eq!(at_limit.grpc_status(), Some("0"), "exactly 1 KiB passes");

    let over = bounded(client.call("/test.Raw/Echo", &[], frame(&[7; 1025]))).await;
    assert_eq!(over.grpc_status(), Some("8"), "{over:?}");
    assert!(over
        .grpc_message()
        .unwrap()
        .contains("1025 bytes is over the limit of 1024"));

    // A prefix that announces more than the limit, with no message behind it:
    // refused from the prefix alone.
    let announced =
        bounded(client.call("/test.Raw/Echo", &[], Bytes::from_static(b"\0\x10\0\0\0"))).await;
    assert_eq!(announced.grpc_status(), Some("8"));

    let truncated =
        bounded(client.call("/test.Raw/Echo", &[], Bytes::from_static(b"\0\0\0"))).await;
    assert_eq!(truncated.grpc_status(), Some("3"), "{truncated:?}");

    let mut garbage = BytesMut::from(&frame(b"ok")[..]);
    garbage.extend_from_slice(b"junk after the last frame");
    let garbage = bounded(client.call("/test.Raw/Echo", &[], garbage.freeze())).await;
    assert_eq!(garbage.grpc_status(), Some("3"), "{garbage:?}");

    // The upstream's malformed frame is its fault, not the caller's.
    let upstream_bug = bounded(client.call("/test.Raw/Malformed", &[], frame(b"x"))).await;
    assert_eq!(upstream_bug.grpc_status(), Some("13"), "{upstream_bug:?}");
    assert!(
        upstream_bug
            .grpc_message()
            .unwrap()
            .contains("malformed gRPC response frame: compressed flag 7"),
        "{upstream_bug:?}"
    );

    let fine = bounded(client.call("/test.Raw/Echo", &[], frame(b"fine"))).await;
    assert_eq!(fine.grpc_status(), Some("0"));
    assert_eq!(&fine.body[5..], b"fine");
}

#[tokio::test]
async fn a_refused_call_is_retried_on_the_healthy_target_and_nothing_else_is() {
    let refusing = RawUpstream::start_refusing(true).await;
    let healthy = RawUpstream::start().await;
    let gateway = gateway_for(&[refusing.addr, healthy.addr], "off").await;
    let client = RawClient::connect(gateway.port).await;
    for i in 0..6 {
        let body = format!("call {i}");
        let reply = bounded(client.call("/test.Raw/Echo", &[], frame(body.as_bytes()))).await;
        assert_eq!(reply.grpc_status(), Some("0"), "{reply:?}");
        assert_eq!(&reply.body[5..], body.as_bytes());
    }
    assert_eq!(healthy.calls(), 6);
    assert!(
        refusing.calls() >= 1,
        "round robin sent some calls to the refusing target first"
    );

    // A replayed call tells the next target the budget left after the
    // refused attempt, not the budget the refused target was told.
    let before = refusing.seen().len();
    let mut compared = false;
    for _ in 0..4 {
        let reply = bounded(client.call(
            "/test.Raw/Echo",
            &[("grpc-timeout", "5S")],
            frame(b"budget"),
        ))
        .await;
        assert_eq!(reply.grpc_status(), Some("0"), "{reply:?}");
        let seen = refusing.seen();
        if seen.len() == before {
            continue;
        }
        let told = |value: &http::HeaderValue| {
            protogate_grpc::timeout::parse_grpc_timeout(value.as_bytes()).unwrap()
        };
        let refused = told(&seen[seen.len() - 1]["grpc-timeout"]);
        let replayed = told(&reply.headers["x-seen-grpc-timeout"]);
        assert!(replayed < refused, "{replayed:?} !< {refused:?}");
        compared = true;
        break;
    }
    assert!(compared, "no call went to the refusing target first");

    // A reset after the upstream started answering is never retried.
    let healthy_before = healthy.calls();
    let reply = bounded(client.call("/test.Raw/ResetMid", &[], frame(b""))).await;
    assert_eq!(reply.grpc_status(), Some("14"));
    assert_eq!(
        healthy.calls(),
        healthy_before + 1,
        "ResetMid ran once, on the healthy target"
    );
}

#[tokio::test]
async fn stream_and_header_limits_are_announced_and_enforced() {
    let raw = RawUpstream::start().await;
    let gateway = Gateway::start(&format!(
        r#"
{SERVER}  max_concurrent_streams: 7
upstreams:
  raw: {{ protocol: grpc, targets: ["{raw}"] }}
routes:
  - name: raw
    match: {{ grpc_service: test.Raw }}
    upstream: raw
"#,
        raw = raw.addr
    ))
    .await;
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .unwrap();
    let (send, connection) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // One call so the server's SETTINGS have certainly arrived.
    let client = RawClient::connect(gateway.port).await;
    let ok = bounded(client.call("/test.Raw/Echo", &[], frame(b"x"))).await;
    assert_eq!(ok.grpc_status(), Some("0"));
    let mut send = send.ready().await.unwrap();
    let request = http::Request::post("http://gateway/test.Raw/Echo")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(request, false).unwrap();
    body.send_data(frame(b"y"), true).unwrap();
    let _ = bounded(response).await.unwrap();
    assert_eq!(
        send.current_max_send_streams(),
        7,
        "the configured stream limit is announced"
    );

    // A header list over 64 KiB is refused before it reaches the upstream.
    let calls_before = raw.calls();
    let big = "v".repeat(70 * 1024);
    let request = http::Request::post("http://gateway/test.Raw/Echo")
        .header("content-type", "application/grpc")
        .header("x-big", big.as_str())
        .body(())
        .unwrap();
    let mut send = send.ready().await.unwrap();
    let refused = match send.send_request(request, true) {
        Err(_) => true,
        Ok((response, _)) => match bounded(response).await {
            Err(_) => true,
            Ok(response) => response.status() == 431,
        },
    };
    assert!(refused, "an oversize header list must be refused");
    assert_eq!(raw.calls(), calls_before, "nothing reached the upstream");
    let after = bounded(client.call("/test.Raw/Echo", &[], frame(b"z"))).await;
    assert_eq!(after.grpc_status(), Some("0"));
}
