//! The README's example config compiles.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

#[test]
fn the_readme_example_compiles() {
    let readme = include_str!("../README.md");
    let start = readme.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = readme[start..].find("```").unwrap() + start;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("readme.yaml");
    std::fs::write(&path, &readme[start..end]).unwrap();
    let metrics = Arc::new(protogate_metrics::Metrics::new().unwrap());
    let (_config, runtime) = protogate_proxy::load(&path, &metrics).unwrap();
    assert_eq!(runtime.routes.len(), 1);
    assert_eq!(runtime.routes[0].chain.names(), ["grpc_proxy"]);
    assert_eq!(runtime.routes[0].upstream.targets().len(), 2);
}
