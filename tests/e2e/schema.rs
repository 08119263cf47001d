//! The config file's JSON Schema (`conf/protogate.schema.json`): generated
//! by `protogate schema` from the config types, committed for editors, and
//! kept true two ways: the committed file must be what the code generates,
//! and every config file must fit it while the decoder knows exactly the
//! keys it lists (`tests/interop/schema_check.py`).

use std::path::PathBuf;
use std::process::Command;

use crate::python_interop::python;
use crate::support::{repo_dir, yaml_files};

fn committed_schema() -> PathBuf {
    PathBuf::from(repo_dir()).join("conf/protogate.schema.json")
}

fn generated_schema() -> String {
    let output = Command::new(protogate_testkit::protogate_bin())
        .arg("schema")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `UPDATE_SCHEMA=1` rewrites the committed file instead of comparing.
#[test]
fn the_committed_schema_is_what_the_code_generates() {
    let generated = generated_schema();
    let path = committed_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date: run `target/debug/protogate schema > conf/protogate.schema.json` \
         (or this test with UPDATE_SCHEMA=1) and commit it",
        path.display()
    );
}

#[test]
fn config_files_fit_the_schema_and_the_decoder_knows_the_same_keys() {
    let files = yaml_files(&PathBuf::from(repo_dir()).join("conf"));
    // The annotated default, the quickstart and the examples.
    assert!(files.len() >= 8, "{files:?}");
    let output = Command::new(python())
        .arg(PathBuf::from(repo_dir()).join("tests/interop/schema_check.py"))
        .arg(protogate_testkit::protogate_bin())
        .arg(committed_schema())
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}
