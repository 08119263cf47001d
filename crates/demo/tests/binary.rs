//! The `protogate-demo` binary: announces its address, serves, exits
//! cleanly on SIGTERM, and with `--count-calls` prints what it answered.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_demo::pb::grpc::testing::{EchoStatus, Empty, SimpleRequest};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[tokio::test]
async fn serves_then_stops_on_sigterm() -> TestResult {
    let mut child = start(&[])?;
    let addr = announced_addr(&mut child)?;

    let mut client = TestServiceClient::connect(format!("http://{addr}")).await?;
    client.empty_call(Empty {}).await?;
    drop(client);

    stop(&mut child).await
}

#[tokio::test]
async fn count_calls_prints_the_tally_on_sigterm() -> TestResult {
    let mut child = start(&["--count-calls"])?;
    let addr = announced_addr(&mut child)?;

    let mut client = TestServiceClient::connect(format!("http://{addr}")).await?;
    client.empty_call(Empty {}).await?;
    client
        .unary_call(SimpleRequest {
            response_size: 175,
            ..SimpleRequest::default()
        })
        .await?;
    let failing = SimpleRequest {
        response_status: Some(EchoStatus {
            code: 14,
            message: "asked to fail".into(),
        }),
        ..SimpleRequest::default()
    };
    assert!(client.unary_call(failing).await.is_err());
    drop(client);

    stop(&mut child).await?;
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_string(&mut stdout)?;
    assert_eq!(stdout, "calls: 3 ok: 2 failed: 1\n");
    Ok(())
}

/// Starts the binary on a free port with `extra` arguments.
fn start(extra: &[&str]) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_protogate-demo"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Reads the address from the first log line.
fn announced_addr(
    child: &mut Child,
) -> Result<SocketAddr, Box<dyn std::error::Error + Send + Sync>> {
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line)?;
    Ok(line
        .split("serving on ")
        .nth(1)
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .trim()
        .parse()?)
}

/// Sends SIGTERM and waits up to 10 s for a clean exit.
async fn stop(child: &mut Child) -> TestResult {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait()? {
            assert!(exit.success(), "exit status {exit}");
            return Ok(());
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("still running 10 s after SIGTERM".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
