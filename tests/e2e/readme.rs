//! The README's commands, run as written: every ```` ```sh ```` block of
//! README.md, in order, with bash (`-euo pipefail`), `protogate` on the
//! PATH, against the quickstart (the demo upstream and a gateway started
//! from `conf/quickstart.yaml`). Blocks fenced ```` ```console ```` are
//! not run: they build release binaries, start the long-running quickstart,
//! run this very suite, or need a container engine or a cluster.
//!
//! The only change to a block is its ports: the quickstart's
//! (`127.0.0.1:8080`, `:9901`, `:50051`) become the ports the test's
//! processes got, and every other `127.0.0.1:PORT` a free port, the same
//! one wherever it appears, so the blocks never collide with anything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use protogate_testkit::{free_port, DemoUpstream, Gateway};

use crate::support::{protos_dir, repo_dir};

/// Every ```` ```sh ```` block of `markdown`, in order.
fn sh_blocks(markdown: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(at) = rest.find("\n```sh\n") {
        let body = &rest[at + "\n```sh\n".len()..];
        let Some(end) = body.find("\n```") else { break };
        blocks.push(&body[..=end]);
        rest = &body[end..];
    }
    blocks
}

/// `script` with `127.0.0.1:PORT` mapped through `ports` (a port not yet
/// in it gets a free one).
fn with_ports(script: &str, ports: &mut HashMap<String, String>) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at]);
        let after = &rest[at + HOST.len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            out.push_str(HOST);
            rest = after;
            continue;
        }
        let port = &after[..digits];
        let mapped = ports
            .entry(port.to_owned())
            .or_insert_with(|| free_port().to_string());
        out.push_str(HOST);
        out.push_str(mapped);
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A working directory that looks like the repository's root to the
/// commands (conf/, protos/ and deploy/ link to the real ones), so files
/// they write stay out of the checkout.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["conf", "protos", "deploy"] {
        std::os::unix::fs::symlink(Path::new(&repo_dir()).join(name), dir.path().join(name))
            .unwrap();
    }
    dir
}

#[tokio::test]
async fn the_readme_commands_work_as_written() {
    let readme = std::fs::read_to_string(format!("{}/README.md", repo_dir())).unwrap();
    let blocks = sh_blocks(&readme);
    // The demo, the first route (three), configuration, metrics.
    assert!(blocks.len() >= 6, "{} sh blocks", blocks.len());

    let demo = DemoUpstream::start().await;
    let quickstart =
        std::fs::read_to_string(format!("{}/conf/quickstart.yaml", repo_dir())).unwrap();
    let template = quickstart
        .replace("127.0.0.1:8080", "{listen}")
        .replace("127.0.0.1:9901", "{admin}")
        .replace("127.0.0.1:50051", &demo.addr.to_string())
        .replace("../protos", &protos_dir());
    let gateway = Gateway::start(&template).await;
    let mut ports = HashMap::from([
        ("8080".to_owned(), gateway.port.to_string()),
        ("9901".to_owned(), gateway.admin_port.to_string()),
        ("50051".to_owned(), demo.addr.port().to_string()),
    ]);

    let bin_dir: PathBuf = protogate_testkit::protogate_bin()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = workdir();
    for (index, block) in blocks.iter().enumerate() {
        let script = with_ports(block, &mut ports);
        let output = tokio::task::spawn_blocking({
            let (script, path, dir) = (script.clone(), path.clone(), work.path().to_owned());
            move || {
                Command::new("timeout")
                    .args(["60", "bash", "-euo", "pipefail", "-c", &script])
                    .current_dir(dir)
                    .env("PATH", path)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "README sh block {} failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}\n--- gateway log\n{}",
            index + 1,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            gateway.log()
        );
    }
}

#[test]
fn ports_map_consistently() {
    let mut ports = HashMap::from([("8080".to_owned(), "1".to_owned())]);
    let out = with_ports(
        "a 127.0.0.1:8080 b 127.0.0.1:8081/x 127.0.0.1:8081 127.0.0.1:",
        &mut ports,
    );
    let other = &ports["8081"];
    assert_eq!(
        out,
        format!("a 127.0.0.1:1 b 127.0.0.1:{other}/x 127.0.0.1:{other} 127.0.0.1:")
    );
}

#[test]
fn finds_sh_blocks_only() {
    let text = "x\n```sh\na\nb\n```\n```console\nc\n```\n```sh\nd\n```\n";
    assert_eq!(sh_blocks(text), vec!["a\nb\n", "d\n"]);
}
