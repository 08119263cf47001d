//! The interop cases with Python grpcio (gRPC C-core, not the h2 crate)
//! through the gateway, so a bug shared by tonic and Pingora cannot hide.

use std::path::PathBuf;
use std::process::Command;

use protogate_testkit::{free_port, Gateway, RawUpstream};

use crate::support::{gateway_with_demo, protos_dir, repo_dir, SERVER};

/// The venv the README's test command creates; `PROTOGATE_PYTHON` overrides.
pub(crate) fn python() -> PathBuf {
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

/// Runs one of the Python scripts in `tests/interop/` with the venv's
/// interpreter; returns its success, stdout and stderr.
pub(crate) async fn run_python(script: &str, args: Vec<String>) -> (bool, String, String) {
    let script = PathBuf::from(repo_dir()).join("tests/interop").join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(&script)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn grpcio_interop_cases_pass_through_the_gateway() {
    let (gateway, _upstream) = gateway_with_demo().await;
    let target = format!("127.0.0.1:{}", gateway.port);
    let args = vec!["--target".into(), target, "--protos".into(), protos_dir()];
    let (ok, stdout, stderr) = run_python("interop_client.py", args).await;
    assert!(ok, "grpcio interop failed:\n{stdout}\n{stderr}");
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
{SERVER}upstreams:
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
    let target = format!("127.0.0.1:{}", gateway.port);
    let (ok, stdout, stderr) = run_python("edge_client.py", vec!["--target".into(), target]).await;
    assert!(ok, "grpcio edge cases failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
}
