//! TLS and mTLS on the listeners: certificates made by the test (rcgen),
//! tonic and grpcio clients over TLS with h2 chosen by ALPN, client
//! certificates missing, untrusted and good, and certificates read again
//! on reload.

use std::path::Path;

use protogate_demo::pb::grpc::testing::Empty;
use protogate_testkit::{Authority, DemoUpstream, Gateway, Leaf};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::python_interop::run_python;
use crate::support::{interop_config, protogate_on, protos_dir, SERVER};

/// The interop config, with the test's listener on TLS.
fn tls_config(upstream: &DemoUpstream, server: &Leaf, client_ca: Option<&Path>) -> String {
    let client_ca = client_ca.map_or(String::new(), |ca| {
        format!(", client_ca: \"{}\"", ca.display())
    });
    interop_config(&[upstream.addr]).replace(
        SERVER,
        &format!(
            r#"server:
  listen:
    - address: "{{listen}}"
      tls: {{ cert: "{}", key: "{}"{client_ca} }}
  admin: "{{admin}}"
  threads: 1
"#,
            server.cert.display(),
            server.key.display()
        ),
    )
}

/// A TLS channel to the gateway, trusting `ca`, presenting `identity`.
async fn tls_channel(
    gateway: &Gateway,
    ca: &Path,
    identity: Option<&Leaf>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
        .domain_name("localhost");
    if let Some(leaf) = identity {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(&leaf.cert).unwrap(),
            std::fs::read(&leaf.key).unwrap(),
        ));
    }
    Endpoint::from_shared(format!("https://localhost:{}", gateway.port))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
}

/// One EmptyCall over `channel`: Ok when the call went through.
async fn empty_call(channel: Channel) -> Result<(), tonic::Status> {
    protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient::new(channel)
        .empty_call(Empty {})
        .await
        .map(|_| ())
}

/// interop_client.py's arguments for a TLS call to the gateway: trusting
/// `ca`, presenting `identity`, running `cases`.
fn grpcio_tls_args(
    gateway: &Gateway,
    ca: &Path,
    identity: Option<&Leaf>,
    cases: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "--target".into(),
        format!("localhost:{}", gateway.port),
        "--protos".into(),
        protos_dir(),
        "--ca".into(),
        ca.display().to_string(),
    ];
    if let Some(leaf) = identity {
        args.extend([
            "--cert".into(),
            leaf.cert.display().to_string(),
            "--key".into(),
            leaf.key.display().to_string(),
        ]);
    }
    for case in cases {
        args.extend(["--case".into(), (*case).to_owned()]);
    }
    args
}

/// Whether a TLS call trusting `ca` and presenting `identity` is refused,
/// at connect or at the first call (TLS 1.3 sends the client certificate
/// after the server's Finished, so a refusal can come with the first
/// request).
async fn refused(gateway: &Gateway, ca: &Path, identity: Option<&Leaf>) -> bool {
    match tls_channel(gateway, ca, identity).await {
        Ok(channel) => empty_call(channel).await.is_err(),
        Err(_) => true,
    }
}

#[tokio::test]
async fn tonic_and_grpcio_call_through_a_tls_listener_over_h2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let server = ca.issue("server", "localhost");
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&tls_config(&upstream, &server, None)).await;

    // tonic speaks only h2: a call that succeeds proves ALPN chose h2.
    let channel = tls_channel(&gateway, &ca.cert, None)
        .await
        .expect("connects");
    empty_call(channel).await.expect("EmptyCall over TLS");

    let cases = ["empty_unary", "large_unary", "ping_pong", "custom_metadata"];
    let args = grpcio_tls_args(&gateway, &ca.cert, None, &cases);
    let (ok, stdout, stderr) = run_python("interop_client.py", args).await;
    assert!(ok, "grpcio over TLS failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
}

#[tokio::test]
async fn mtls_refuses_a_missing_or_untrusted_client_certificate_and_takes_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let server = ca.issue("server", "localhost");
    let client = ca.issue("client", "client.test");
    let rogue_ca = Authority::new(dir.path(), "rogue-ca");
    let rogue = rogue_ca.issue("rogue", "client.test");
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&tls_config(&upstream, &server, Some(&ca.cert))).await;

    assert!(
        refused(&gateway, &ca.cert, None).await,
        "a call without a client certificate went through"
    );
    assert!(
        refused(&gateway, &ca.cert, Some(&rogue)).await,
        "a call with an untrusted certificate went through"
    );

    let channel = tls_channel(&gateway, &ca.cert, Some(&client))
        .await
        .expect("connects with a good certificate");
    empty_call(channel).await.expect("EmptyCall with mTLS");

    // grpcio with its client certificate.
    let args = grpcio_tls_args(&gateway, &ca.cert, Some(&client), &["empty_unary"]);
    let (ok, stdout, stderr) = run_python("interop_client.py", args).await;
    assert!(ok, "grpcio with mTLS failed:\n{stdout}\n{stderr}");
}

#[tokio::test]
async fn listener_certificates_are_read_again_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let first_ca = Authority::new(dir.path(), "first-ca");
    let second_ca = Authority::new(dir.path(), "second-ca");
    let served = first_ca.issue("served", "localhost");
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&tls_config(&upstream, &served, None)).await;
    let trusts_second = || tls_channel(&gateway, &second_ca.cert, None);
    assert!(
        refused(&gateway, &second_ca.cert, None).await,
        "a client trusting only the second CA got through"
    );

    // The same files, now holding a certificate of the second CA.
    let renewed = second_ca.issue("renewed", "localhost");
    std::fs::copy(&renewed.cert, &served.cert).unwrap();
    std::fs::copy(&renewed.key, &served.key).unwrap();
    gateway.signal("HUP");
    protogate_testkit::eventually(
        "the renewed certificate to be served",
        std::time::Duration::from_secs(15),
        || async {
            let channel = trusts_second().await.ok()?;
            empty_call(channel).await.ok()
        },
    )
    .await;

    // A broken file refuses the reload; the renewed certificate stays.
    std::fs::write(&served.key, "not a key").unwrap();
    gateway.signal("HUP");
    protogate_testkit::eventually(
        "the broken reload to be refused",
        std::time::Duration::from_secs(15),
        || async {
            let metrics = gateway.metrics().await;
            metrics
                .contains("protogate_config_reloads_total{result=\"invalid\"} 1")
                .then_some(())
        },
    )
    .await;
    let channel = trusts_second().await.expect("still served");
    empty_call(channel).await.expect("still served");
}

#[test]
fn bad_certificate_files_are_reported_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let one = ca.issue("one", "localhost");
    let other = ca.issue("other", "localhost");
    let yaml = |cert: &Path, key: &Path| {
        format!(
            "server:\n  listen:\n    - address: \"127.0.0.1:0\"\n      tls: {{ cert: \"{}\", key: \"{}\" }}\nupstreams:\n  u: {{ protocol: grpc, targets: [\"127.0.0.1:1\"] }}\nroutes:\n  - {{ name: r, match: {{ grpc_service: a.B }}, upstream: u }}\n",
            cert.display(),
            key.display()
        )
    };
    let (ok, _, stderr) = protogate_on("check", "tls.yaml", &yaml(&one.cert, &other.key));
    assert!(!ok);
    assert!(
        stderr.contains("tls.yaml:3:7: server.listen[0].tls: key")
            && stderr.contains("does not belong to the certificate"),
        "{stderr}"
    );
    let missing = dir.path().join("missing.key");
    let (ok, _, stderr) = protogate_on("check", "tls.yaml", &yaml(&one.cert, &missing));
    assert!(!ok);
    assert!(
        stderr.contains("server.listen[0].tls: key") && stderr.contains("missing.key"),
        "{stderr}"
    );
}

/// The interop config on cleartext, its upstream spoken to over TLS with
/// the given `tls:` mapping.
fn grpcs_config(upstream: &DemoUpstream, tls: &str) -> String {
    interop_config(&[upstream.addr]).replace(
        "    protocol: grpc\n",
        &format!("    protocol: grpcs\n    tls: {{ {tls} }}\n"),
    )
}

#[tokio::test]
async fn a_grpcs_upstream_is_verified_by_its_ca_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let rogue_ca = Authority::new(dir.path(), "rogue-ca");
    let inventory = ca.issue("inventory", "inventory.internal");
    let upstream = DemoUpstream::start_tls(&inventory, None).await;
    let ca_file = ca.cert.display().to_string();

    let good = format!("ca: \"{ca_file}\", server_name: inventory.internal");
    let gateway = Gateway::start(&grpcs_config(&upstream, &good)).await;
    empty_call(crate::support::channel(&gateway).await)
        .await
        .expect("EmptyCall to a grpcs upstream");

    for (tls, why) in [
        (
            format!("ca: \"{ca_file}\", server_name: billing.internal"),
            "certificate not valid for name \"billing.internal\"",
        ),
        (
            format!(
                "ca: \"{}\", server_name: inventory.internal",
                rogue_ca.cert.display()
            ),
            "UnknownIssuer",
        ),
    ] {
        let gateway = Gateway::start(&grpcs_config(&upstream, &tls)).await;
        let status = empty_call(crate::support::channel(&gateway).await)
            .await
            .expect_err("the upstream's certificate must be refused");
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(
            status.message().contains(why),
            "the message says why ({why}): {}",
            status.message()
        );
    }
}

#[tokio::test]
async fn a_grpcs_upstream_that_requires_a_client_certificate_gets_the_gateways() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let inventory = ca.issue("inventory", "inventory.internal");
    let gateway_identity = ca.issue("gateway", "gateway.internal");
    let upstream = DemoUpstream::start_tls(&inventory, Some(&ca.cert)).await;
    let base = format!(
        "ca: \"{}\", server_name: inventory.internal",
        ca.cert.display()
    );

    let without = Gateway::start(&grpcs_config(&upstream, &base)).await;
    let status = empty_call(crate::support::channel(&without).await)
        .await
        .expect_err("no client certificate: refused by the upstream");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");

    let with = format!(
        "{base}, cert: \"{}\", key: \"{}\"",
        gateway_identity.cert.display(),
        gateway_identity.key.display()
    );
    let gateway = Gateway::start(&grpcs_config(&upstream, &with)).await;
    empty_call(crate::support::channel(&gateway).await)
        .await
        .expect("EmptyCall with the gateway's client certificate");
}

#[tokio::test]
async fn an_https_upstream_is_verified_by_its_ca_and_name() {
    use protogate_testkit::{HttpClient, HttpEcho};
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let legacy = ca.issue("legacy", "legacy.internal");
    let echo = HttpEcho::start_tls(&legacy).await;
    let config = |server_name: &str| {
        format!(
            r#"
{SERVER}upstreams:
  legacy:
    protocol: https
    targets: ["{addr}"]
    tls: {{ ca: "{ca}", server_name: {server_name} }}
routes:
  - name: legacy
    match: {{ path_prefix: /legacy/ }}
    upstream: legacy
"#,
            addr = echo.addr,
            ca = ca.cert.display(),
        )
    };
    let gateway = Gateway::start(&config("legacy.internal")).await;
    let reply = HttpClient::http1()
        .get(&format!("{}/legacy/x", gateway.url()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().starts_with("GET /legacy/x"),
        "{}",
        reply.text()
    );

    let gateway = Gateway::start(&config("billing.internal")).await;
    let reply = HttpClient::http1()
        .get(&format!("{}/legacy/x", gateway.url()))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(
        reply.text().contains("not valid for name"),
        "the answer says why: {}",
        reply.text()
    );
}
