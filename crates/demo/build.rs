//! Compiles `protos/` without a system `protoc`.
//!
//! `protox` (a pure-Rust protobuf compiler) turns every `.proto` under the
//! workspace `protos/` directory, plus the well-known types they import, into
//! one `FileDescriptorSet`. Its encoding, extension options such as
//! `google.api.http` included, is written to `$OUT_DIR/descriptor.bin`
//! (embedded by the library for server reflection and for the gateway's
//! transcoding tests); the same set goes to `tonic-prost-build`, which emits
//! the message types plus client and server code. Nothing is downloaded.

use std::error::Error;
use std::path::{Path, PathBuf};

use prost_types::FileDescriptorSet;

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let protos_dir = manifest_dir.join("../../protos");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    println!("cargo:rerun-if-changed={}", protos_dir.display());
    let mut files = Vec::new();
    collect_protos(&protos_dir, &protos_dir, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", protos_dir.join(file).display());
    }

    let mut compiler = protox::Compiler::new([&protos_dir])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;
    // Encode through protox, not prost-types: prost-types has no room for
    // extension options, and the gateway needs the `google.api.http` rules.
    std::fs::write(
        out_dir.join("descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let fds: FileDescriptorSet = compiler.file_descriptor_set();

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}

/// Appends every `.proto` file below `dir`, as a path relative to `root`
/// (the form `protox` resolves against its include directory).
fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}
