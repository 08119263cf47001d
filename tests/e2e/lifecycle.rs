//! Live reload, graceful shutdown and graceful upgrade, without dropping a call.

use std::time::Duration;

use futures_util::future::join_all;
use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_demo::pb::grpc::testing::{
    Empty, ResponseParameters, SimpleRequest, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use protogate_testkit::{free_port, DemoUpstream, Gateway};
use tonic::transport::Channel;
use tonic::Code;

use crate::support::{test_client, SERVER};

/// A gateway config whose `interop` route goes to `target`, with extra
/// `server` lines.
fn config(target: &str, server_extra: &str) -> String {
    format!(
        r#"{SERVER}{server_extra}upstreams:
  demo: {{ protocol: grpc, targets: ["{target}"], connect_timeout: 500ms }}
routes:
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: demo
"#
    )
}

fn reloads(metrics: &str, result: &str) -> u64 {
    let series = format!("protogate_config_reloads_total{{result=\"{result}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_reloads(gateway: &Gateway, result: &str, count: u64) {
    protogate_testkit::eventually(
        &format!("{count} {result} reload(s)"),
        Duration::from_secs(15),
        || async { (reloads(&gateway.metrics().await, result) >= count).then_some(()) },
    )
    .await;
}

/// Opens a server stream of `messages` spaced by `interval` and reads its
/// first message, so the call is certainly in flight.
async fn started_stream(
    client: &mut TestServiceClient<Channel>,
    messages: usize,
    interval: Duration,
) -> tonic::Streaming<StreamingOutputCallResponse> {
    let request = StreamingOutputCallRequest {
        response_parameters: (0..messages)
            .map(|_| ResponseParameters {
                size: 8,
                interval_us: interval.as_micros() as i32,
            })
            .collect(),
        ..Default::default()
    };
    let mut stream = client
        .streaming_output_call(request)
        .await
        .unwrap()
        .into_inner();
    assert!(stream.message().await.unwrap().is_some());
    stream
}

#[tokio::test]
async fn a_reload_amid_200_concurrent_calls_fails_none() {
    let upstream = DemoUpstream::start().await;
    let target = upstream.addr.to_string();
    let gateway = Gateway::start(&config(&target, "")).await;
    let client = test_client(&gateway).await;
    let callers = join_all((0..200).map(|_| {
        let mut client = client.clone();
        async move {
            let mut failures = Vec::new();
            for _ in 0..15 {
                if let Err(status) = client.unary_call(SimpleRequest::default()).await {
                    failures.push(status);
                }
            }
            failures
        }
    }));
    let reload = async {
        // Same routes with another plugin setting: a real swap each time.
        for (i, size) in ["5MiB", "6MiB", "7MiB"].iter().enumerate() {
            let yaml = format!(
                "{}    plugins:\n      - grpc_proxy: {{ max_message_size: {size} }}\n",
                config(&target, "")
            );
            gateway.write_config(&yaml);
            gateway.signal("HUP");
            wait_reloads(&gateway, "applied", i as u64 + 1).await;
        }
    };
    let (failures, ()) = tokio::join!(callers, reload);
    let failures: Vec<_> = failures.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} calls failed during reloads, e.g. {:?}",
        failures.len(),
        failures.first()
    );
}

#[tokio::test]
async fn a_stream_started_before_a_reload_finishes_on_its_old_route() {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&config(&upstream.addr.to_string(), "")).await;
    let mut client = test_client(&gateway).await;
    let mut stream = started_stream(&mut client, 10, Duration::from_millis(100)).await;

    // The new config sends the route to an upstream nobody listens on, and
    // is picked up from the file alone, without a signal.
    let nowhere = format!("127.0.0.1:{}", free_port());
    gateway.write_config(&config(&nowhere, ""));
    wait_reloads(&gateway, "applied", 1).await;

    let mut rest = 0;
    while let Some(_message) = stream.message().await.unwrap() {
        rest += 1;
    }
    assert_eq!(rest, 9, "the old stream finished on the old route");
    let error = client.empty_call(Empty {}).await.unwrap_err();
    assert_eq!(
        error.code(),
        Code::Unavailable,
        "new calls take the new route"
    );
}

#[tokio::test]
async fn an_invalid_file_or_a_server_change_is_refused_and_serving_goes_on() {
    let upstream = DemoUpstream::start().await;
    let target = upstream.addr.to_string();
    let gateway = Gateway::start(&config(&target, "")).await;
    let mut client = test_client(&gateway).await;

    gateway.write_config(&format!(
        "{}  - name: broken\n    match: {{}}\n    upstream: nowhere\n",
        config(&target, "")
    ));
    gateway.signal("HUP");
    wait_reloads(&gateway, "invalid", 1).await;
    client.empty_call(Empty {}).await.unwrap();
    let log = gateway.log();
    assert!(
        log.contains("refused") && log.contains("upstream `nowhere` is not declared"),
        "{log}"
    );

    gateway.write_config(&config(&target, "  max_concurrent_streams: 5\n"));
    gateway.signal("HUP");
    wait_reloads(&gateway, "needs_restart", 1).await;
    client.empty_call(Empty {}).await.unwrap();
    assert!(
        gateway.log().contains("`server` changed"),
        "{}",
        gateway.log()
    );
    assert_eq!(reloads(&gateway.metrics().await, "applied"), 0);
}

#[tokio::test]
async fn sigterm_lets_calls_in_flight_finish_then_exits() {
    let upstream = DemoUpstream::start().await;
    let mut gateway =
        Gateway::start(&config(&upstream.addr.to_string(), "  grace_period: 3s\n")).await;
    let mut client = test_client(&gateway).await;
    let mut stream = started_stream(&mut client, 8, Duration::from_millis(150)).await;
    gateway.signal("TERM");
    let mut rest = 0;
    while let Some(_message) = stream.message().await.unwrap() {
        rest += 1;
    }
    assert_eq!(rest, 7, "the call in flight completed");
    let status = gateway.wait_exit(Duration::from_secs(20)).await;
    assert!(status.is_some(), "the gateway exits after its grace period");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", gateway.port))
            .await
            .is_err(),
        "nothing accepts on the port any more"
    );
}

#[tokio::test]
async fn a_graceful_upgrade_hands_the_sockets_over_without_dropping_a_call() {
    let upstream = DemoUpstream::start().await;
    let sock = std::env::temp_dir().join(format!("protogate-upgrade-{}.sock", free_port()));
    let extra = format!("  upgrade_sock: {}\n", sock.display());
    let mut old = Gateway::start(&config(&upstream.addr.to_string(), &extra)).await;
    let mut client = test_client(&old).await;
    let mut stream = started_stream(&mut client, 10, Duration::from_millis(100)).await;

    let mut new = old.start_upgrade();
    // The new process is waiting for the sockets; give them to it.
    protogate_testkit::eventually(
        "the new process to listen on the upgrade socket",
        Duration::from_secs(20),
        || {
            let ready = sock.exists();
            async move { ready.then_some(()) }
        },
    )
    .await;
    old.signal("QUIT");
    assert!(
        new.wait_ready().await,
        "the new process serves:\n{}",
        new.log()
    );

    let mut rest = 0;
    while let Some(_message) = stream.message().await.unwrap() {
        rest += 1;
    }
    assert_eq!(rest, 9, "the stream on the old process completed");
    assert!(
        old.wait_exit(Duration::from_secs(30)).await.is_some(),
        "the old process exits"
    );

    // Only the new process is left, on the same port.
    let mut fresh = test_client(&new).await;
    fresh.empty_call(Empty {}).await.unwrap();
    let _ = std::fs::remove_file(&sock);
}

/// A listen address another process holds stops the start with an error
/// that names it. (Pingora alone would panic only its proxy thread and keep
/// the admin port answering "ready" about someone else's listener.)
#[test]
fn a_taken_listen_address_stops_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let admin = protogate_testkit::free_port();
    let yaml = config("127.0.0.1:1", "")
        .replace("{listen}", &address.to_string())
        .replace("{admin}", &format!("127.0.0.1:{admin}"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.yaml");
    std::fs::write(&path, yaml).unwrap();
    let output = std::process::Command::new(protogate_testkit::protogate_bin())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}
