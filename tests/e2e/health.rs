//! Active health checks end to end: real demo upstreams (tonic, with
//! tonic-health) killed and restarted, and the gateway's rotation, gauges
//! and answers watched from outside.

use std::time::Duration;

use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_demo::pb::grpc::testing::Empty;
use protogate_testkit::{eventually, DemoUpstream, Gateway};

use crate::support::{channel, interop_config, value_of};

/// The interop config with a fast health check on its upstream.
fn checked_config(targets: &[std::net::SocketAddr], check: &str) -> String {
    interop_config(targets).replace(
        "    connect_timeout: 500ms\n",
        &format!("    connect_timeout: 500ms\n    health_check: {{ {check} }}\n"),
    )
}

fn healthy_series(target: std::net::SocketAddr) -> String {
    format!("protogate_upstream_target_healthy{{target=\"{target}\",upstream=\"demo\"}}")
}

/// Waits (bounded) until the target's gauge shows `healthy`.
async fn gauge_becomes(gateway: &Gateway, target: std::net::SocketAddr, healthy: bool) {
    let series = healthy_series(target);
    let want = if healthy { 1.0 } else { 0.0 };
    eventually(
        &format!("{series} = {want}"),
        Duration::from_secs(15),
        || async { (value_of(&gateway.metrics().await, &series) == Some(want)).then_some(()) },
    )
    .await;
}

fn connect_failures(metrics: &str, target: std::net::SocketAddr) -> f64 {
    let series = format!(
        "protogate_upstream_connect_failures_total{{target=\"{target}\",upstream=\"demo\"}}"
    );
    value_of(metrics, &series).unwrap_or(0.0)
}

#[tokio::test]
async fn a_dead_target_leaves_the_rotation_and_comes_back_when_it_recovers() {
    let (first, _) = DemoUpstream::start_counted().await;
    let (second, second_calls) = DemoUpstream::start_counted().await;
    let first_addr = first.addr;
    let config = checked_config(
        &[first.addr, second.addr],
        "interval: 100ms, timeout: 500ms",
    );
    let gateway = Gateway::start(&config).await;
    gauge_becomes(&gateway, first_addr, true).await;

    first.stop().await;
    gauge_becomes(&gateway, first_addr, false).await;
    let failures_before = connect_failures(&gateway.metrics().await, first_addr);
    let mut client = TestServiceClient::new(channel(&gateway).await);
    let before = second_calls.calls();
    for _ in 0..20 {
        client
            .empty_call(Empty {})
            .await
            .expect("served by the live target");
    }
    assert_eq!(
        second_calls.calls() - before,
        20,
        "every call went to the live target"
    );
    assert_eq!(
        connect_failures(&gateway.metrics().await, first_addr),
        failures_before,
        "no call was even tried on the dead target"
    );

    let (_restarted, restarted_calls) = DemoUpstream::start_counted_on(first_addr).await;
    gauge_becomes(&gateway, first_addr, true).await;
    for _ in 0..20 {
        client.empty_call(Empty {}).await.expect("served");
    }
    assert!(
        restarted_calls.calls() >= 5,
        "the recovered target is back in rotation ({} calls)",
        restarted_calls.calls()
    );
}

#[tokio::test]
async fn when_every_target_is_down_callers_get_unavailable_at_once() {
    let upstream = DemoUpstream::start().await;
    let addr = upstream.addr;
    let config = checked_config(&[addr], "interval: 100ms, timeout: 500ms");
    let gateway = Gateway::start(&config).await;
    let mut client = TestServiceClient::new(channel(&gateway).await);
    client
        .empty_call(Empty {})
        .await
        .expect("served while healthy");

    upstream.stop().await;
    gauge_becomes(&gateway, addr, false).await;
    let status = client
        .empty_call(Empty {})
        .await
        .expect_err("no healthy target");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status
            .message()
            .contains("every target is failing its health check"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_target_whose_health_service_is_not_serving_takes_no_calls() {
    // tonic-health answers NOT_FOUND for a service it does not know.
    let upstream = DemoUpstream::start().await;
    let config = checked_config(
        &[upstream.addr],
        "interval: 100ms, timeout: 500ms, service: nowhere.Service",
    );
    let gateway = Gateway::start(&config).await;
    gauge_becomes(&gateway, upstream.addr, false).await;
    let status = TestServiceClient::new(channel(&gateway).await)
        .empty_call(Empty {})
        .await
        .expect_err("the only target is out of rotation");
    assert_eq!(status.code(), tonic::Code::Unavailable);

    // The service the demo does report as SERVING.
    let config = checked_config(
        &[upstream.addr],
        "interval: 100ms, timeout: 500ms, service: grpc.testing.TestService",
    );
    let gateway = Gateway::start(&config).await;
    gauge_becomes(&gateway, upstream.addr, true).await;
    TestServiceClient::new(channel(&gateway).await)
        .empty_call(Empty {})
        .await
        .expect("served");
}

#[tokio::test]
async fn http_upstreams_are_checked_with_a_get_of_their_path() {
    use protogate_testkit::{HttpClient, HttpEcho};
    let echo = HttpEcho::start().await;
    let config = |path: &str| {
        format!(
            r#"
{SERVER}upstreams:
  legacy:
    protocol: http
    targets: ["{addr}"]
    health_check: {{ interval: 100ms, timeout: 500ms, path: {path} }}
routes:
  - name: legacy
    match: {{ path_prefix: /legacy/ }}
    upstream: legacy
"#,
            SERVER = crate::support::SERVER,
            addr = echo.addr,
        )
    };
    let series = format!(
        "protogate_upstream_target_healthy{{target=\"{}\",upstream=\"legacy\"}}",
        echo.addr
    );
    let failing = Gateway::start(&config("/status/503")).await;
    eventually("the failing check", Duration::from_secs(15), || async {
        (value_of(&failing.metrics().await, &series) == Some(0.0)).then_some(())
    })
    .await;
    let reply = HttpClient::http1()
        .get(&format!("{}/legacy/x", failing.url()))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());

    let passing = Gateway::start(&config("/healthz")).await;
    // Checked at least twice, and still in rotation.
    eventually("two passed checks", Duration::from_secs(15), || async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        (value_of(&passing.metrics().await, &series) == Some(1.0)).then_some(())
    })
    .await;
    let reply = HttpClient::http1()
        .get(&format!("{}/legacy/x", passing.url()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// `unhealthy_threshold: 3`: a dead target stays in rotation through two
/// failed probes and leaves on the third; `healthy_threshold: 2`: it comes
/// back on the second passed probe in a row. Read from the gateway's log,
/// which names every probe that did not yet change the rotation.
#[tokio::test]
async fn thresholds_need_that_many_probes_in_a_row() {
    let (first, _) = DemoUpstream::start_counted().await;
    let second = DemoUpstream::start().await;
    let first_addr = first.addr;
    let config = checked_config(
        &[first.addr, second.addr],
        "interval: 100ms, timeout: 500ms, unhealthy_threshold: 3, healthy_threshold: 2",
    );
    let gateway = protogate_testkit::GatewayBuilder::new(&config)
        .log_filter("warn,protogate_proxy::health=debug")
        .start()
        .await;
    first.stop().await;
    gauge_becomes(&gateway, first_addr, false).await;
    let log = gateway.log();
    let target = first_addr.to_string();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&target)).collect();
    let out = lines
        .iter()
        .position(|l| l.contains("out of rotation"))
        .unwrap_or_else(|| panic!("{log}"));
    let kept = lines[..out]
        .iter()
        .filter(|l| l.contains("still in rotation"))
        .count();
    assert_eq!(kept, 2, "two failed probes kept it in rotation:\n{log}");

    let _restarted = DemoUpstream::start_on(first_addr).await;
    gauge_becomes(&gateway, first_addr, true).await;
}

#[test]
fn a_zero_threshold_is_a_config_error() {
    let yaml = checked_config(&["127.0.0.1:1".parse().unwrap()], "unhealthy_threshold: 0")
        .replace("{listen}", "127.0.0.1:1")
        .replace("{admin}", "127.0.0.1:2");
    let (ok, _, errors) = crate::support::protogate_on("check", "t.yaml", &yaml);
    assert!(!ok);
    assert!(
        errors.contains("health_check.unhealthy_threshold: must be at least 1 (checks in a row)"),
        "{errors}"
    );
}
