//! The `protogate-demo` binary: announces its address, serves, and exits
//! cleanly on SIGTERM.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_demo::pb::grpc::testing::Empty;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[tokio::test]
async fn serves_then_stops_on_sigterm() -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_protogate-demo"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line)?;
    let addr: SocketAddr = line
        .split("serving on ")
        .nth(1)
        .ok_or_else(|| format!("unexpected first line {line:?}"))?
        .trim()
        .parse()?;

    let mut client = TestServiceClient::connect(format!("http://{addr}")).await?;
    client.empty_call(Empty {}).await?;
    drop(client);

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
