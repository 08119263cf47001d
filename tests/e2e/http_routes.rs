//! Plain HTTP routes (no transcoding) to `http` upstreams, for HTTP/1.1 and
//! h2 callers.

use bytes::Bytes;
use http::Method;
use protogate_testkit::{Gateway, HttpClient, HttpEcho};

use crate::support::SERVER;

fn config(echo: &HttpEcho) -> String {
    format!(
        r#"
{SERVER}upstreams:
  legacy: {{ protocol: http, targets: ["{addr}"] }}
routes:
  - name: legacy
    match: {{ path_prefix: /legacy/ }}
    upstream: legacy
  - name: legacy-host
    match: {{ host: "*.example.com", path_prefix: / }}
    upstream: legacy
"#,
        addr = echo.addr
    )
}

#[tokio::test]
async fn http1_and_h2_callers_reach_an_http_upstream() {
    let echo = HttpEcho::start().await;
    let gateway = Gateway::start(&config(&echo)).await;
    for client in [HttpClient::http1(), HttpClient::http2()] {
        let url = format!("{}/legacy/items?page=2", gateway.url());
        let reply = client.get(&url).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "GET /legacy/items?page=2\n");
        assert_eq!(reply.headers["x-echo-version"], "HTTP/1.1");

        // Twice on purpose: the second POST reuses the upstream connection,
        // which a doubled chunk terminator (pingora issue 935) would poison.
        for _ in 0..2 {
            let reply = client
                .send(
                    Method::POST,
                    &format!("{}/legacy/items", gateway.url()),
                    &[("content-type", "application/json")],
                    Bytes::from_static(br#"{"name":"lamp"}"#),
                )
                .await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.text(), "POST /legacy/items\n{\"name\":\"lamp\"}");
        }
    }
}

#[tokio::test]
async fn a_host_wildcard_route_matches_subdomains_only() {
    let echo = HttpEcho::start().await;
    let gateway = Gateway::start(&config(&echo)).await;
    let client = HttpClient::http1();
    let reply = client
        .send(
            Method::GET,
            &format!("{}/anything", gateway.url()),
            &[("host", "shop.example.com")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "GET /anything\n");
    let reply = client
        .send(
            Method::GET,
            &format!("{}/anything", gateway.url()),
            &[("host", "example.com")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn a_dead_http_upstream_gets_a_json_503() {
    let echo = HttpEcho::start().await;
    let cfg = config(&echo);
    drop(echo);
    let gateway = Gateway::start(&cfg).await;
    let reply = HttpClient::http1()
        .get(&format!("{}/legacy/x", gateway.url()))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.text().contains(r#""code":14"#), "{}", reply.text());
}
