//! gRPC-Web from a real browser: headless Chromium loads a page that uses
//! Connect-ES's gRPC-Web transport, with stubs from @bufbuild/protoc-gen-es,
//! against the gateway from another origin (`tests/browser/run.mjs`). The
//! test command installs Chromium, protoc and the npm packages.

use std::process::Command;

use serde_json::Value;

use crate::grpc_web::start;
use crate::support::repo_dir;

#[tokio::test]
async fn connect_es_in_chromium_calls_through_the_gateway() {
    let (gateway, _upstream) = start().await;
    let script = format!("{}/tests/browser/run.mjs", repo_dir());
    let url = gateway.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(url)
            .output()
            .expect("node runs (the test command installs Node.js)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "run.mjs failed:\n{stdout}\n{stderr}"
    );
    let results: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");

    let unary = &results["unary"];
    assert_eq!(unary["ok"], true, "{unary}");
    assert_eq!(unary["id"], "k-1");
    assert_eq!(unary["name"], "from Chromium");
    assert_eq!(unary["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(unary["i64"], "9007199254740993", "64-bit values intact");
    assert_eq!(
        unary["echoedHeader"], "hello from the page",
        "response metadata readable across origins"
    );
    assert_eq!(unary["trailerStatus"], "0");

    let streaming = &results["serverStreaming"];
    assert_eq!(
        streaming["ids"],
        serde_json::json!(["p-1", "p-2", "p-3", "p-4", "p-5"]),
        "{streaming}"
    );

    let failed = &results["streamFailure"];
    assert_eq!(failed["ok"], false, "{failed}");
    assert_eq!(failed["code"], 10, "ABORTED after two messages: {failed}");

    let error = &results["upstreamError"];
    assert_eq!(error["code"], 5, "{error}");
    assert_eq!(error["message"], "no such thing");

    let deadline = &results["gatewayDeadline"];
    assert_eq!(deadline["code"], 4, "{deadline}");
    assert!(
        deadline["message"]
            .as_str()
            .unwrap()
            .contains("deadline exceeded"),
        "{deadline}"
    );

    let dead = &results["deadUpstream"];
    assert_eq!(dead["code"], 14, "{dead}");
    assert!(
        dead["message"].as_str().unwrap().contains("unreachable"),
        "{dead}"
    );
}
