//! The interop cases with Python grpcio (gRPC C-core, not the h2 crate)
//! through the gateway, so a bug shared by tonic and Pingora cannot hide.

use std::path::PathBuf;
use std::process::Command;

use protogate_testkit::{free_port, Gateway, RawUpstream};

use crate::support::{gateway_with_demo, protos_dir, repo_dir};

/// The venv the README's test command creates; `PROTOGATE_PYTHON` overrides.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("PROTOGATE_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(repo_dir()).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run the README's test command (tests/run.sh), which creates it",
        venv.display()
    );
    venv
}

#[tokio::test]
async fn grpcio_interop_cases_pass_through_the_gateway() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let script = PathBuf::from(repo_dir()).join("tests/interop/interop_client.py");
    let target = format!("127.0.0.1:{}", gateway.port);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .args(["--target", &target, "--protos", &protos_dir()])
            .output()
            .expect("run the Python interop client")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "grpcio interop failed:\n{stdout}\n{stderr}"
    );
    for case in [
        "empty_unary",
        "large_unary",
        "client_streaming",
        "server_streaming",
        "ping_pong",
        "empty_stream",
        "status_code_and_message",
        "special_status_message",
        "custom_metadata",
        "unimplemented_method",
        "unimplemented_service",
    ] {
        assert!(
            stdout.contains(&format!("PASS {case}")),
            "{case} did not pass:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn grpcio_sees_gateway_errors_as_grpc_statuses() {
    let raw = RawUpstream::start().await;
    let dead = free_port();
    let gateway = Gateway::start(&format!(
        r#"
server:
  listen: [{{ address: "{{listen}}" }}]
  admin: "{{admin}}"
  threads: 1
upstreams:
  raw: {{ protocol: grpc, targets: ["{raw}"] }}
  dead: {{ protocol: grpc, targets: ["127.0.0.1:{dead}"] }}
routes:
  - name: raw
    match: {{ grpc_service: test.Raw }}
    upstream: raw
    timeout: 300ms
    plugins:
      - grpc_proxy: {{ max_message_size: 1KiB }}
  - name: dead
    match: {{ grpc_service: test.Dead }}
    upstream: dead
"#,
        raw = raw.addr
    ))
    .await;
    let script = PathBuf::from(repo_dir()).join("tests/interop/edge_client.py");
    let target = format!("127.0.0.1:{}", gateway.port);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .args(["--target", &target])
            .output()
            .expect("run the Python edge client")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "grpcio edge cases failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
}
