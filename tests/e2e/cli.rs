//! `protogate check` and `protogate routes` as a user runs them.

use std::process::Command;

use protogate_testkit::protogate_bin;

use crate::support::repo_dir;

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(protogate_bin()).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_prints_every_error_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"server:
  listen: [{ address: "127.0.0.1:0" }]
descriptors:
  - missing/nothing.pb
upstreams:
  demo: { protocol: grpc, targets: ["127.0.0.1:1"], conect_timeout: 1s }
routes:
  - name: a
    match: { grpc_service: pkg.Svc }
    upstream: nowhere
    plugins:
      - grpc_proxy: { bogus: 1 }
      - teleport: {}
"#,
    )
    .unwrap();
    let (ok, _stdout, stderr) = run(&["check", "--config", path.to_str().unwrap()]);
    assert!(!ok, "check must fail");
    let expect = [
        ("4:5", "descriptors[0]"),
        ("6:53", "conect_timeout"),
        ("10:15", "nowhere"),
        ("12:23", "bogus"),
        ("13:9", "teleport"),
    ];
    for (position, word) in expect {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("bad.yaml:{position}:")) && l.contains(word)),
            "no error at {position} mentioning {word}:\n{stderr}"
        );
    }
    assert!(stderr.contains("has 5 errors"), "{stderr}");
}

#[test]
fn routes_prints_which_route_each_method_reaches() {
    let quickstart = format!("{}/conf/quickstart.yaml", repo_dir());
    let (ok, stdout, stderr) = run(&["routes", "--config", &quickstart]);
    assert!(ok, "{stderr}");
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line for {needle}:\n{stdout}"))
            .to_owned()
    };
    assert!(line("/ecommerce.v1.ProductService/WatchProducts").contains("route watch-products"));
    assert!(line("/ecommerce.v1.ProductService/GetProduct")
        .contains("route products -> demo [grpc_proxy]"));
    assert!(line("/ecommerce.v1.ProductService/ListProducts").contains("server_stream"));
}
