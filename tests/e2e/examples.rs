//! The example configurations under `conf/` stay valid, and every plugin
//! has an example that uses it.

use std::path::{Path, PathBuf};
use std::process::Command;

use protogate_testkit::protogate_bin;

use crate::support::{protogate_on, repo_dir, yaml_files};

/// The files the walk below must find, relative to the repository root, so
/// that a mistake in the walk cannot make the tests pass on nothing.
const EXPECTED: &[&str] = &[
    "conf/protogate.yaml",
    "conf/quickstart.yaml",
    "conf/examples/grpc-proxy.yaml",
    "conf/examples/transcoder.yaml",
    "conf/examples/rate-limit.yaml",
    "conf/examples/header-map.yaml",
    "conf/examples/tracing.yaml",
    "conf/examples/combined.yaml",
];

/// The plugins this build has. The names are taken from the gateway itself
/// (`protogate check` lists them for an unknown plugin), and must include
/// these, so a broken parse of that list cannot leave nothing to check.
/// The registry is `PluginConfig::NAMES` in `crates/proxy/src/plugins.rs`
/// (`protogate-proxy` is not a dependency of this test crate).
const KNOWN_PLUGINS: &[&str] = &[
    "grpc_proxy",
    "transcoder",
    "header_map",
    "rate_limit",
    "tracing",
];

/// Runs `protogate COMMAND --config FILE`: its success, stdout and stderr.
fn run(command: &str, file: &Path) -> (bool, String, String) {
    let output = Command::new(protogate_bin())
        .arg(command)
        .arg("--config")
        .arg(file)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The example file of a plugin: `conf/examples/grpc-proxy.yaml` for
/// `grpc_proxy`.
fn example_of(plugin: &str) -> PathBuf {
    Path::new(&repo_dir())
        .join("conf/examples")
        .join(format!("{}.yaml", plugin.replace('_', "-")))
}

/// True when `yaml` names `plugin` as an entry of a plugin list
/// (`- rate_limit:`) on a line that is not a comment.
fn names_plugin(yaml: &str, plugin: &str) -> bool {
    let entry = format!("- {plugin}:");
    yaml.lines()
        .any(|line| line.trim_start().starts_with(&entry))
}

/// The plugin names the gateway itself lists when a config names one it
/// does not know: "unknown plugin `...`; expected one of: a, b, c".
fn plugin_names_from_the_gateway() -> Vec<String> {
    let yaml = r#"server:
  listen: [{ address: "127.0.0.1:0" }]
upstreams:
  demo: { protocol: grpc, targets: ["127.0.0.1:1"] }
routes:
  - name: r
    match: { path_prefix: / }
    upstream: demo
    plugins:
      - no_such_plugin: {}
"#;
    let (ok, _stdout, stderr) = protogate_on("check", "unknown-plugin.yaml", yaml);
    assert!(!ok, "an unknown plugin must fail check:\n{stderr}");
    let marker = "expected one of: ";
    let line = stderr
        .lines()
        .find(|l| l.contains("no_such_plugin") && l.contains(marker))
        .unwrap_or_else(|| panic!("no list of plugin names in:\n{stderr}"));
    let (_, list) = line.split_once(marker).unwrap();
    list.split(", ").map(|n| n.trim().to_owned()).collect()
}

#[test]
fn every_yaml_file_under_conf_passes_check() {
    let repo = PathBuf::from(repo_dir());
    let files = yaml_files(&repo.join("conf"));
    for expected in EXPECTED {
        assert!(
            files.contains(&repo.join(expected)),
            "{expected} not found by the walk; it found:\n{files:#?}"
        );
    }
    let mut failures = Vec::new();
    for file in &files {
        let (ok, stdout, stderr) = run("check", file);
        if !ok || !stdout.contains(": ok") {
            failures.push(format!(
                "{} failed check:\n--- stdout\n{stdout}--- stderr\n{stderr}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_plugin_has_an_example_that_uses_it() {
    let mut names = plugin_names_from_the_gateway();
    for known in KNOWN_PLUGINS {
        assert!(
            names.iter().any(|n| n == known),
            "the gateway no longer lists `{known}`: {names:?}"
        );
    }
    names.sort();
    names.dedup();
    for plugin in &names {
        let file = example_of(plugin);
        let yaml = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("plugin `{plugin}` has no example {}: {e}", file.display()));
        assert!(
            names_plugin(&yaml, plugin),
            "{} never names `- {plugin}:` in a plugin list",
            file.display()
        );
        // The route table shows the plugin in a route's chain:
        // `products  grpc_service=...  -> demo [grpc_proxy, header_map]`.
        let (ok, stdout, stderr) = run("routes", &file);
        assert!(ok, "{} failed routes:\n{stderr}", file.display());
        let in_a_chain = stdout.lines().any(|line| {
            line.contains(" -> ")
                && line
                    .rsplit_once('[')
                    .and_then(|(_, chain)| chain.strip_suffix(']'))
                    .is_some_and(|chain| chain.split(", ").any(|n| n == plugin))
        });
        assert!(
            in_a_chain,
            "no route of {} runs `{plugin}`:\n{stdout}",
            file.display()
        );
    }
    // The combined example uses every plugin at once.
    let combined = std::fs::read_to_string(example_of("combined")).unwrap();
    for plugin in &names {
        assert!(
            names_plugin(&combined, plugin),
            "conf/examples/combined.yaml does not use `{plugin}`"
        );
    }
}
