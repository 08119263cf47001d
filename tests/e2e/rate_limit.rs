//! The `rate_limit` plugin end to end: real tonic and HTTP clients, the
//! demo upstream, and for the shared store a real `redis-server` started
//! on a free port (killed and restarted for the outage tests).

use std::sync::Arc;
use std::time::Duration;

use protogate_demo::pb::grpc::testing::Empty;
use protogate_testkit::{
    eventually, frame, DemoUpstream, Gateway, HttpClient, HttpEcho, RawClient, RawUpstream,
    RedisServer,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{protos_dir, test_client, value_of, SERVER};

/// Two gRPC routes on the demo's interop service and a plain HTTP route,
/// each with a `rate_limit` given in `limits_yaml` form by the test.
fn config(demo: &DemoUpstream, http: &HttpEcho, grpc_limit: &str, rest_limit: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/grpc/testing/interop.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{demo}"] }}
  legacy: {{ protocol: http, targets: ["{http}"] }}
routes:
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: demo
    plugins:
      - rate_limit: {grpc_limit}
  - name: legacy
    match: {{ path_prefix: /legacy/ }}
    upstream: legacy
    plugins:
      - rate_limit: {rest_limit}
"#,
        protos = protos_dir(),
        demo = demo.addr,
        http = http.addr,
    )
}

async fn start(grpc_limit: &str, rest_limit: &str) -> (Gateway, DemoUpstream, HttpEcho) {
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    let gateway = Gateway::start(&config(&demo, &http, grpc_limit, rest_limit)).await;
    (gateway, demo, http)
}

const HOURLY_BURST_3: &str = "{ limits: [{ requests: 1, per: 1h, burst: 3 }] }";

/// A sample of `name` whose labels include every `labels` pair.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

/// Polls the metrics until `name{labels}` reaches `want` (bounded).
async fn sample_when(gateway: &Gateway, name: &str, labels: &[(&str, &str)], want: f64) -> String {
    eventually(
        &format!("{name} {labels:?} to reach {want}"),
        Duration::from_secs(10),
        || async {
            let metrics = gateway.metrics().await;
            (sample(&metrics, name, labels) == Some(want)).then_some(metrics)
        },
    )
    .await
}

#[tokio::test]
async fn the_burst_passes_then_grpc_callers_get_resource_exhausted_with_details() {
    let (gateway, _demo, _http) = start(HOURLY_BURST_3, HOURLY_BURST_3).await;
    let mut client = test_client(&gateway).await;
    for remaining in [2, 1, 0] {
        let reply = client.empty_call(Empty {}).await.expect("within the burst");
        let metadata = reply.metadata();
        assert_eq!(
            metadata.get("ratelimit").expect("RateLimit"),
            format!("\"1-per-1h\";r={remaining};t={}", 3600 * (3 - remaining)).as_str()
        );
        assert_eq!(
            metadata.get("ratelimit-policy").expect("RateLimit-Policy"),
            "\"1-per-1h\";q=1;w=3600"
        );
    }
    let refused = client
        .empty_call(Empty {})
        .await
        .expect_err("over the burst");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("1-per-1h"),
        "{}",
        refused.message()
    );
    let pushback: u64 = refused
        .metadata()
        .get("grpc-retry-pushback-ms")
        .expect("pushback")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One call's interval of an hourly limit, less the moments since the
    // burst was taken.
    assert!((3_590_000..=3_600_000).contains(&pushback), "{pushback}");
    assert_eq!(
        refused.metadata().get("ratelimit").unwrap(),
        "\"1-per-1h\";r=0;t=10800"
    );
    let details = refused.get_error_details();
    let retry = details.retry_info().expect("RetryInfo");
    let delay = retry.retry_delay.expect("a delay");
    assert!(
        delay > Duration::from_secs(3590) && delay <= Duration::from_secs(3600),
        "{delay:?}"
    );
    let quota = details.quota_failure().expect("QuotaFailure");
    assert_eq!(quota.violations[0].subject, "1-per-1h");

    let metrics = sample_when(
        &gateway,
        "protogate_rate_limit_decisions_total",
        &[
            ("route", "interop"),
            ("limit", "1-per-1h"),
            ("decision", "refused"),
        ],
        1.0,
    )
    .await;
    let allowed = [
        ("route", "interop"),
        ("limit", "1-per-1h"),
        ("decision", "allowed"),
    ];
    assert_eq!(
        sample(&metrics, "protogate_rate_limit_decisions_total", &allowed),
        Some(3.0)
    );
    let handled = "grpc_server_handled_total{grpc_code=\"ResourceExhausted\",grpc_method=\"EmptyCall\",grpc_service=\"grpc.testing.TestService\",grpc_type=\"unary\",route=\"interop\"}";
    assert_eq!(value_of(&metrics, handled), Some(1.0), "{metrics}");
}

#[tokio::test]
async fn rest_callers_get_429_with_retry_after_and_json_details() {
    let (gateway, _demo, _http) = start(HOURLY_BURST_3, HOURLY_BURST_3).await;
    let client = HttpClient::http1();
    let url = format!("{}/legacy/items", gateway.url());
    for remaining in [2, 1, 0] {
        let reply = client.get(&url).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.headers["ratelimit"],
            format!("\"1-per-1h\";r={remaining};t={}", 3600 * (3 - remaining)).as_str()
        );
    }
    let refused = client.get(&url).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.headers["retry-after"], "3600");
    assert_eq!(refused.headers["ratelimit"], "\"1-per-1h\";r=0;t=10800");
    assert_eq!(
        refused.headers["ratelimit-policy"],
        "\"1-per-1h\";q=1;w=3600"
    );
    let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["code"], 8);
    assert_eq!(
        body["details"][0]["@type"],
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    let delay = body["details"][0]["retryDelay"].as_str().unwrap();
    let seconds: f64 = delay.strip_suffix('s').unwrap().parse().unwrap();
    assert!(seconds > 3590.0 && seconds <= 3600.0, "{delay}");
    assert_eq!(body["details"][1]["violations"][0]["subject"], "1-per-1h");
}

#[tokio::test]
async fn keys_have_separate_budgets_and_the_budget_refills() {
    // 20 a second, one at a time: a call every 50 ms per key.
    let limit = r#"{ key: ["header:x-api-key"], limits: [{ requests: 20, per: 1s, burst: 1 }] }"#;
    let (gateway, _demo, _http) = start(limit, HOURLY_BURST_3).await;
    let mut client = test_client(&gateway).await;
    let call = |key: &'static str| {
        let mut request = tonic::Request::new(Empty {});
        request
            .metadata_mut()
            .insert("x-api-key", key.parse().unwrap());
        request
    };
    client
        .empty_call(call("alice"))
        .await
        .expect("alice's first");
    let refused = client
        .empty_call(call("alice"))
        .await
        .expect_err("alice's second");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    client
        .empty_call(call("bob"))
        .await
        .expect("bob has his own budget");

    // Waiting what the refusal said is enough, to the millisecond.
    let pushback: u64 = refused
        .metadata()
        .get("grpc-retry-pushback-ms")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=50).contains(&pushback), "{pushback}");
    tokio::time::sleep(Duration::from_millis(pushback)).await;
    client
        .empty_call(call("alice"))
        .await
        .expect("alice's budget refilled");
}

#[tokio::test]
async fn unavailable_and_hidden_headers_when_configured_and_shadow_mode_refuses_nothing() {
    let grpc = "{ grpc_status: unavailable, headers: false, limits: [{ requests: 1, per: 1h }] }";
    let rest = "{ mode: shadow, limits: [{ requests: 1, per: 1h, name: hourly }] }";
    let (gateway, _demo, _http) = start(grpc, rest).await;
    let mut client = test_client(&gateway).await;
    let first = client.empty_call(Empty {}).await.expect("first");
    assert!(
        first.metadata().get("ratelimit").is_none(),
        "headers: false"
    );
    let refused = client.empty_call(Empty {}).await.expect_err("second");
    assert_eq!(refused.code(), Code::Unavailable);
    assert!(
        refused.metadata().get("ratelimit-policy").is_none(),
        "headers: false"
    );
    assert!(refused.metadata().get("grpc-retry-pushback-ms").is_some());

    let http = HttpClient::http2();
    let url = format!("{}/legacy/x", gateway.url());
    for _ in 0..3 {
        assert_eq!(
            http.get(&url).await.status,
            200,
            "shadow mode lets everything through"
        );
    }
    let shadow = [
        ("route", "legacy"),
        ("limit", "hourly"),
        ("decision", "shadow_refused"),
    ];
    sample_when(
        &gateway,
        "protogate_rate_limit_decisions_total",
        &shadow,
        2.0,
    )
    .await;
}

#[tokio::test]
async fn the_concurrency_limit_counts_calls_in_flight_until_they_end() {
    let raw = RawUpstream::start().await;
    let yaml = format!(
        r#"
{SERVER}upstreams:
  raw: {{ protocol: grpc, targets: ["{addr}"] }}
routes:
  - name: echo
    match: {{ grpc_service: protogate.testing.v1.EchoService }}
    upstream: raw
    plugins:
      - rate_limit: {{ concurrency: 1 }}
"#,
        addr = raw.addr
    );
    let gateway = Gateway::start(&yaml).await;
    let client = RawClient::connect(gateway.port).await;
    let hanging = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .call("/protogate.testing.v1.EchoService/Hang", &[], frame(b"x"))
                .await
        })
    };
    eventually(
        "the hanging call to reach the upstream",
        Duration::from_secs(10),
        || async { (raw.calls() == 1).then_some(()) },
    )
    .await;
    let refused = client
        .call("/protogate.testing.v1.EchoService/Echo", &[], frame(b"y"))
        .await;
    assert_eq!(refused.grpc_status(), Some("8"));
    assert!(
        refused.grpc_message().unwrap().contains("in flight"),
        "{:?}",
        refused.grpc_message()
    );

    hanging.abort();
    eventually(
        "the cancelled call to give its place back",
        Duration::from_secs(10),
        || async {
            let reply = client
                .call("/protogate.testing.v1.EchoService/Echo", &[], frame(b"z"))
                .await;
            (reply.grpc_status() == Some("0")).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_reload_keeps_unchanged_budgets_and_a_changed_limit_starts_afresh() {
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    let gateway = Gateway::start(&config(&demo, &http, HOURLY_BURST_3, HOURLY_BURST_3)).await;
    let mut client = test_client(&gateway).await;
    for _ in 0..3 {
        client.empty_call(Empty {}).await.expect("within the burst");
    }
    let applied = |count: f64| {
        let gateway = &gateway;
        async move {
            eventually("the reload to apply", Duration::from_secs(15), || async {
                let metrics = gateway.metrics().await;
                let done = sample(
                    &metrics,
                    "protogate_config_reloads_total",
                    &[("result", "applied")],
                );
                (done.unwrap_or(0.0) >= count).then_some(())
            })
            .await
        }
    };

    // The same limits, another upstream timeout: the budget survives.
    let same = config(&demo, &http, HOURLY_BURST_3, HOURLY_BURST_3)
        .replace("targets: [\"", "connect_timeout: 2s, targets: [\"");
    gateway.write_config(&same);
    gateway.signal("HUP");
    applied(1.0).await;
    let refused = client
        .empty_call(Empty {})
        .await
        .expect_err("still used up");
    assert_eq!(refused.code(), Code::ResourceExhausted);

    // A new limit is a new budget.
    let wider = "{ limits: [{ requests: 1, per: 1h, burst: 4 }] }";
    gateway.write_config(&config(&demo, &http, wider, HOURLY_BURST_3));
    gateway.signal("HUP");
    // (The file watcher and SIGHUP may each reload: wait for the call to
    // pass rather than counting reloads. Under the old budget it cannot.)
    eventually("the new limit to apply", Duration::from_secs(15), || {
        let mut client = client.clone();
        async move { client.empty_call(Empty {}).await.ok() }
    })
    .await;
}

#[tokio::test]
async fn a_global_rate_limit_keeps_one_budget_across_routes() {
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    let yaml = format!(
        r#"
{SERVER}plugins:
  - rate_limit: {{ limits: [{{ requests: 1, per: 1h, burst: 2 }}] }}
upstreams:
  demo: {{ protocol: grpc, targets: ["{demo}"] }}
  legacy: {{ protocol: http, targets: ["{http}"] }}
routes:
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: demo
  - name: legacy
    match: {{ path_prefix: /legacy/ }}
    upstream: legacy
"#,
        demo = demo.addr,
        http = http.addr,
    );
    let gateway = Gateway::start(&yaml).await;
    let mut client = test_client(&gateway).await;
    client
        .empty_call(Empty {})
        .await
        .expect("first, on the gRPC route");
    let rest = HttpClient::http1()
        .get(&format!("{}/legacy/a", gateway.url()))
        .await;
    assert_eq!(rest.status, 200, "second, on the REST route");
    let refused = client
        .empty_call(Empty {})
        .await
        .expect_err("the shared budget is used up");
    assert_eq!(refused.code(), Code::ResourceExhausted);
}

/// A gateway whose `interop` route shares its budget through `redis`.
async fn redis_gateway(demo: &DemoUpstream, http: &HttpEcho, redis: &str) -> Gateway {
    let limit = format!(
        "{{ store: redis, redis: {redis}, limits: [{{ requests: 1, per: 1h, burst: 50 }}] }}"
    );
    Gateway::start(&config(demo, http, &limit, HOURLY_BURST_3)).await
}

#[tokio::test]
async fn two_gateways_share_one_redis_budget_exactly_under_200_concurrent_callers() {
    let redis = RedisServer::start().await;
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    // A generous timeout: this test is about exactness, not the timeout.
    let settings = format!(
        "{{ url: \"{}\", timeout: 5s, on_error: deny }}",
        redis.url()
    );
    let first = redis_gateway(&demo, &http, &settings).await;
    let second = redis_gateway(&demo, &http, &settings).await;
    let clients = [test_client(&first).await, test_client(&second).await];
    let start = Arc::new(tokio::sync::Barrier::new(200));
    let calls: Vec<_> = (0..200)
        .map(|n| {
            let mut client = clients[n % 2].clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                client
                    .empty_call(Empty {})
                    .await
                    .map(|_| ())
                    .map_err(|s| s.code())
            })
        })
        .collect();
    let mut admitted = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(Code::ResourceExhausted) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted, 50, "the budget, exactly");
    assert_eq!(refused, 150);
    let keys = redis.cli(&["--scan", "--pattern", "protogate:rl:*"]);
    assert_eq!(
        keys.lines().count(),
        1,
        "one key for one caller and limit: {keys}"
    );
    assert!(keys.starts_with("protogate:rl:{interop"), "{keys}");
}

#[tokio::test]
async fn a_dead_redis_with_on_error_allow_lets_calls_through_and_the_breaker_recovers() {
    let mut redis = RedisServer::start().await;
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    let settings = format!(
        "{{ url: \"{}\", timeout: 200ms, on_error: allow, breaker: {{ failures: 2, open_for: 300ms }} }}",
        redis.url()
    );
    let gateway = redis_gateway(&demo, &http, &settings).await;
    let mut client = test_client(&gateway).await;
    let reply = client.empty_call(Empty {}).await.expect("Redis up");
    assert_eq!(
        reply.metadata().get("ratelimit").unwrap(),
        "\"1-per-1h\";r=49;t=3600"
    );

    redis.kill();
    for _ in 0..5 {
        client
            .empty_call(Empty {})
            .await
            .expect("Redis down, on_error: allow");
    }
    let open = [("route", "interop")];
    sample_when(
        &gateway,
        "protogate_rate_limit_redis_breaker_open",
        &open,
        1.0,
    )
    .await;
    let metrics = gateway.metrics().await;
    let errors = sample(
        &metrics,
        "protogate_rate_limit_redis_errors_total",
        &[("route", "interop"), ("kind", "error")],
    )
    .unwrap_or(0.0)
        + sample(
            &metrics,
            "protogate_rate_limit_redis_errors_total",
            &[("route", "interop"), ("kind", "timeout")],
        )
        .unwrap_or(0.0);
    assert_eq!(
        errors, 2.0,
        "two failures open the breaker; then no call waits on Redis\n{metrics}"
    );

    redis.restart().await;
    eventually(
        "the breaker to close once Redis is back",
        Duration::from_secs(20),
        || {
            let mut client = client.clone();
            let gateway = &gateway;
            async move {
                client.empty_call(Empty {}).await.ok()?;
                let metrics = gateway.metrics().await;
                (sample(&metrics, "protogate_rate_limit_redis_breaker_open", &open) == Some(0.0))
                    .then_some(())
            }
        },
    )
    .await;
    let keys = redis.cli(&["--scan", "--pattern", "protogate:rl:*"]);
    assert_eq!(
        keys.lines().count(),
        1,
        "the restarted Redis holds the budget again"
    );
}

#[tokio::test]
async fn a_dead_redis_with_on_error_deny_refuses_until_the_breaker_falls_back() {
    let mut redis = RedisServer::start().await;
    let demo = DemoUpstream::start().await;
    let http = HttpEcho::start().await;
    let settings = format!(
        "{{ url: \"{}\", timeout: 200ms, on_error: deny, breaker: {{ failures: 2, open_for: 1h }}, instances: 5 }}",
        redis.url()
    );
    let gateway = redis_gateway(&demo, &http, &settings).await;
    let mut client = test_client(&gateway).await;
    client.empty_call(Empty {}).await.expect("Redis up");
    redis.kill();
    for _ in 0..2 {
        let refused = client
            .empty_call(Empty {})
            .await
            .expect_err("on_error: deny");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused.message().contains("could not be checked"),
            "{}",
            refused.message()
        );
    }
    // The breaker is open: a fifth of the budget (50 / 5 instances), here.
    for n in 0..10 {
        client
            .empty_call(Empty {})
            .await
            .unwrap_or_else(|s| panic!("fallback call {n}: {s:?}"));
    }
    let refused = client
        .empty_call(Empty {})
        .await
        .expect_err("the fallback's share is used up");
    assert!(
        refused.message().contains("1-per-1h"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn bad_rate_limit_settings_are_config_errors_with_line_and_column() {
    let yaml = format!(
        r#"
{SERVER}upstreams:
  demo: {{ protocol: grpc, targets: ["127.0.0.1:1"] }}
routes:
  - name: r
    match: {{ grpc_service: a.B }}
    upstream: demo
    plugins:
      - rate_limit:
          key: [client_ip, "header:"]
          limits:
            - {{ requests: 0, per: 1s }}
          store: redis
"#
    );
    let yaml = yaml
        .replace("{listen}", "127.0.0.1:1")
        .replace("{admin}", "127.0.0.1:2");
    let (ok, _, errors) = crate::support::protogate_on("check", "bad.yaml", &yaml);
    assert!(!ok);
    for expected in [
        ":14:28: routes[0].plugins[0].rate_limit.key[1]: unknown key part `header:`",
        ":16:27: routes[0].plugins[0].rate_limit.limits[0].requests: requests must be at least 1",
        ":17:18: routes[0].plugins[0].rate_limit.store: `store: redis` needs a `redis` block",
    ] {
        assert!(errors.contains(expected), "{expected}\n{errors}");
    }
}

/// The transcoder answers REST calls in its request hook: a `rate_limit`
/// after it would never count one, so the order is refused at load.
#[test]
fn a_rate_limit_after_the_transcoder_is_refused() {
    let yaml = r#"server:
  listen: [{ address: "127.0.0.1:1" }]
  admin: "127.0.0.1:2"
upstreams:
  demo: { protocol: grpc, targets: ["127.0.0.1:1"] }
routes:
  - name: rest
    match: { path_prefix: /v1/ }
    upstream: demo
    plugins:
      - transcoder: { bindings: [] }
      - rate_limit: { limits: [{ requests: 1, per: 1s }] }
"#;
    let (ok, _, errors) = crate::support::protogate_on("check", "order.yaml", yaml);
    assert!(!ok);
    assert!(
        errors.contains(":12:9: routes[0].plugins[1].rate_limit: rate_limit must come before transcoder in the plugin list"),
        "{errors}"
    );
}
