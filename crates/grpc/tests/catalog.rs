//! Catalog loading from .proto files and descriptor sets written to a
//! temporary directory.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message as _;
use protogate_grpc::catalog::{split_grpc_path, Catalog, CatalogError, DescriptorSource, RpcKind};

const COMMON_PROTO: &str = r#"
syntax = "proto3";
package acme.common.v1;

message Money {
  string currency = 1;
  int64 units = 2;
}
"#;

const SHOP_PROTO: &str = r#"
syntax = "proto3";
package acme.shop.v1;

import "acme/common/v1/money.proto";
import "google/protobuf/empty.proto";

message Item {
  string id = 1;
  acme.common.v1.Money price = 2;
}

message ItemId { string id = 1; }

service Shop {
  rpc GetItem(ItemId) returns (Item);
  rpc UploadItems(stream Item) returns (google.protobuf.Empty);
  rpc ListItems(google.protobuf.Empty) returns (stream Item);
  rpc Chat(stream ItemId) returns (stream Item);
}
"#;

const PING_PROTO: &str = r#"
syntax = "proto3";
package ping;

message Ping { uint32 seq = 1; }

service Pinger {
  rpc Ping(Ping) returns (Ping);
}
"#;

fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, contents).unwrap();
    path.to_owned()
}

/// `protos/shop.proto` importing from `include/acme/common/v1/money.proto`.
fn shop_layout(dir: &Path) -> (PathBuf, PathBuf) {
    let include = dir.join("include");
    write(&include.join("acme/common/v1/money.proto"), COMMON_PROTO);
    let shop = write(&dir.join("protos/shop.proto"), SHOP_PROTO);
    (shop, include)
}

fn encoded_set(files: &[&Path], includes: &[&Path]) -> Vec<u8> {
    protox::compile(files, includes).unwrap().encode_to_vec()
}

fn single_error(sources: &[DescriptorSource]) -> CatalogError {
    let mut errors = Catalog::load(sources).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

fn assert_shop(catalog: &Catalog) {
    let cases = [
        ("GetItem", RpcKind::Unary),
        ("UploadItems", RpcKind::ClientStreaming),
        ("ListItems", RpcKind::ServerStreaming),
        ("Chat", RpcKind::BidiStreaming),
    ];
    for (name, kind) in cases {
        let path = format!("/acme.shop.v1.Shop/{name}");
        let m = catalog
            .method(&path)
            .unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(m.path, path);
        assert_eq!(m.service, "acme.shop.v1.Shop");
        assert_eq!(m.method, name);
        assert_eq!(m.kind, kind);
        assert_eq!(m.descriptor.name(), name);
    }
    let get = catalog.method("/acme.shop.v1.Shop/GetItem").unwrap();
    assert_eq!(get.descriptor.input().full_name(), "acme.shop.v1.ItemId");
    assert_eq!(get.descriptor.output().full_name(), "acme.shop.v1.Item");
    assert!(catalog
        .pool()
        .get_message_by_name("acme.common.v1.Money")
        .is_some());
    let svc = catalog.service("acme.shop.v1.Shop").unwrap();
    assert_eq!(svc.methods().len(), 4);
}

#[test]
fn proto_file_with_include_dir_has_all_four_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, include) = shop_layout(dir.path());
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: shop,
        import_paths: vec![include],
    }])
    .unwrap();
    assert_shop(&catalog);
    assert_eq!(catalog.len(), 4);
    assert!(catalog.method("/acme.shop.v1.Shop/Nope").is_none());
    assert!(catalog.method("acme.shop.v1.Shop/GetItem").is_none());
    assert!(catalog.service("acme.shop.v1.Nope").is_none());
    // Sorted by path.
    let paths: Vec<&str> = catalog.methods().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/acme.shop.v1.Shop/Chat",
            "/acme.shop.v1.Shop/GetItem",
            "/acme.shop.v1.Shop/ListItems",
            "/acme.shop.v1.Shop/UploadItems",
        ]
    );
}

#[test]
fn proto_directory_is_searched_recursively() {
    let dir = tempfile::tempdir().unwrap();
    let (_, include) = shop_layout(dir.path());
    write(
        &dir.path().join("protos/nested/deeper/ping.proto"),
        PING_PROTO,
    );
    write(&dir.path().join("protos/README.md"), "not a proto");
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: dir.path().join("protos"),
        import_paths: vec![include],
    }])
    .unwrap();
    assert_shop(&catalog);
    assert_eq!(
        catalog.method("/ping.Pinger/Ping").unwrap().kind,
        RpcKind::Unary
    );
    assert_eq!(catalog.len(), 5);
    // Names are relative to the directory.
    assert!(catalog
        .pool()
        .get_file_by_name("nested/deeper/ping.proto")
        .is_some());
}

#[test]
fn file_under_an_import_path_keeps_its_canonical_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("api");
    write(&root.join("acme/common/v1/money.proto"), COMMON_PROTO);
    let svc = write(
        &root.join("acme/pay/v1/pay.proto"),
        r#"syntax = "proto3";
package acme.pay.v1;
import "acme/common/v1/money.proto";
service Pay { rpc Charge(acme.common.v1.Money) returns (acme.common.v1.Money); }
"#,
    );
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: svc,
        import_paths: vec![root],
    }])
    .unwrap();
    assert!(catalog
        .pool()
        .get_file_by_name("acme/pay/v1/pay.proto")
        .is_some());
    assert!(catalog.method("/acme.pay.v1.Pay/Charge").is_some());
}

#[test]
fn descriptor_set_file_from_protox() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, include) = shop_layout(dir.path());
    let set = write(
        &dir.path().join("shop.protoset"),
        encoded_set(&[&shop], &[&include, shop.parent().unwrap()]),
    );
    let catalog = Catalog::load(&[DescriptorSource::Set(set)]).unwrap();
    assert_shop(&catalog);
}

#[test]
fn descriptor_set_directory_loads_each_file_in_any_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, include) = shop_layout(dir.path());
    let sets = dir.path().join("sets");
    // Built without imports: "a.pb" needs what "z.pb" provides.
    let shop_only = protox::Compiler::new([&include, &dir.path().join("protos")])
        .unwrap()
        .include_imports(false)
        .open_file(&shop)
        .unwrap()
        .encode_file_descriptor_set();
    write(&sets.join("a.pb"), shop_only);
    let deps = protox::Compiler::new([&include])
        .unwrap()
        .include_imports(true)
        .open_files(["acme/common/v1/money.proto", "google/protobuf/empty.proto"])
        .unwrap()
        .encode_file_descriptor_set();
    write(&sets.join("sub/z.desc"), deps);
    write(&sets.join("notes.txt"), "ignored");
    let catalog = Catalog::load(&[DescriptorSource::Set(sets)]).unwrap();
    assert_shop(&catalog);
}

#[test]
fn shared_files_across_sources_load_once() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, include) = shop_layout(dir.path());
    let set = write(
        &dir.path().join("shop.pb"),
        encoded_set(&[&shop], &[&include, shop.parent().unwrap()]),
    );
    // Same files again, as .proto: identical shapes are not a conflict.
    let catalog = Catalog::load(&[
        DescriptorSource::Set(set),
        DescriptorSource::Protos {
            path: shop,
            import_paths: vec![include],
        },
    ])
    .unwrap();
    assert_shop(&catalog);
    assert_eq!(catalog.len(), 4);
}

#[test]
fn extension_options_survive_loading() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(
        &dir.path().join("opts.proto"),
        r#"syntax = "proto3";
package opts;
import "google/protobuf/descriptor.proto";
extend google.protobuf.MethodOptions { string route = 50001; }
message M {}
service S { rpc Get(M) returns (M) { option (opts.route) = "/v1/get"; } }
"#,
    );
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: proto,
        import_paths: vec![],
    }])
    .unwrap();
    let method = &catalog.method("/opts.S/Get").unwrap().descriptor;
    let ext = catalog.pool().get_extension_by_name("opts.route").unwrap();
    let options = method.options();
    let value = options.get_extension(&ext);
    assert_eq!(value.as_str(), Some("/v1/get"));
}

#[test]
fn empty_catalog() {
    let c = Catalog::empty();
    assert!(c.is_empty());
    assert_eq!(c.methods().len(), 0);
    assert!(c.method("/a.B/C").is_none());
    let loaded = Catalog::load(&[]).unwrap();
    assert!(loaded.is_empty());
    assert!(format!("{c:?}").contains("Catalog"));
}

#[test]
fn error_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pb");
    let err = single_error(&[DescriptorSource::Set(missing.clone())]);
    assert!(
        matches!(&err, CatalogError::Missing { path } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("nope.pb: not found"), "{err}");

    let err = single_error(&[DescriptorSource::Protos {
        path: dir.path().join("nope.proto"),
        import_paths: vec![],
    }]);
    assert!(matches!(err, CatalogError::Missing { .. }), "{err}");

    let proto = write(&dir.path().join("p.proto"), PING_PROTO);
    let err = single_error(&[DescriptorSource::Protos {
        path: proto,
        import_paths: vec![dir.path().join("no-such-include")],
    }]);
    assert!(
        matches!(&err, CatalogError::Missing { path } if path.ends_with("no-such-include")),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn error_unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let set = write(&dir.path().join("locked.pb"), b"");
    fs::set_permissions(&set, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&set).is_ok() {
        // Running as root: permissions are not enforced.
        return;
    }
    let err = single_error(&[DescriptorSource::Set(set)]);
    assert!(matches!(err, CatalogError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn error_unreadable_directory_as_set_file() {
    // A directory where a proto file is expected to be opened as include
    // root is fine; but an import path that is a file is reported.
    let dir = tempfile::tempdir().unwrap();
    let proto = write(&dir.path().join("p.proto"), PING_PROTO);
    let err = single_error(&[DescriptorSource::Protos {
        path: proto.clone(),
        import_paths: vec![proto],
    }]);
    assert!(matches!(err, CatalogError::Compile { .. }), "{err}");
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn error_not_a_descriptor_set() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(
        &dir.path().join("garbage.pb"),
        b"\xff\xff\xff\xff not protobuf",
    );
    let err = single_error(&[DescriptorSource::Set(garbage.clone())]);
    assert!(
        matches!(&err, CatalogError::InvalidDescriptorSet { path, .. } if *path == garbage),
        "{err}"
    );
    assert!(
        err.to_string().contains("not a valid FileDescriptorSet"),
        "{err}"
    );

    let empty = write(&dir.path().join("empty.pb"), b"");
    let err = single_error(&[DescriptorSource::Set(empty)]);
    assert!(err.to_string().contains("no file descriptors"), "{err}");

    // A .proto file handed over as a descriptor set.
    let text = write(&dir.path().join("text.desc"), PING_PROTO);
    let err = single_error(&[DescriptorSource::Set(text)]);
    assert!(
        matches!(err, CatalogError::InvalidDescriptorSet { .. }),
        "{err}"
    );
}

#[test]
fn error_descriptor_set_with_unresolved_import() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, include) = shop_layout(dir.path());
    let shop_only = protox::Compiler::new([&include, &dir.path().join("protos")])
        .unwrap()
        .include_imports(false)
        .open_file(&shop)
        .unwrap()
        .encode_file_descriptor_set();
    let set = write(&dir.path().join("shop.pb"), shop_only);
    let err = single_error(&[DescriptorSource::Set(set)]);
    assert!(
        matches!(err, CatalogError::InvalidDescriptorSet { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("money.proto"), "{err}");
}

#[test]
fn error_empty_directories() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("empty")).unwrap();
    write(&dir.path().join("empty/readme.txt"), "x");
    let err = single_error(&[DescriptorSource::Set(dir.path().join("empty"))]);
    assert!(matches!(err, CatalogError::EmptyDirectory { .. }), "{err}");
    let err = single_error(&[DescriptorSource::Protos {
        path: dir.path().join("empty"),
        import_paths: vec![],
    }]);
    assert!(err.to_string().contains("no .proto files"), "{err}");
}

#[test]
fn error_compile_reports_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir.path().join("bad.proto"),
        "syntax = \"proto3\";\npackage bad;\nmessage M {\n  string name = 1\n}\n",
    );
    let err = single_error(&[DescriptorSource::Protos {
        path: bad.clone(),
        import_paths: vec![],
    }]);
    let CatalogError::Compile { path, message } = &err else {
        panic!("{err}")
    };
    assert_eq!(*path, bad);
    assert!(message.starts_with("bad.proto:5:1: "), "{message}");
    assert!(err.to_string().contains("bad.proto"), "{err}");
}

#[test]
fn error_compile_missing_import() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, _include) = shop_layout(dir.path());
    // No include path: money.proto cannot be found.
    let err = single_error(&[DescriptorSource::Protos {
        path: shop,
        import_paths: vec![],
    }]);
    let CatalogError::Compile { message, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("import 'acme/common/v1/money.proto' not found"),
        "{message}"
    );
    assert!(message.starts_with("shop.proto:5:1: "), "{message}");
}

#[test]
fn error_compile_type_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir.path().join("types.proto"),
        "syntax = \"proto3\";\nmessage M { Unknown u = 1; }\n",
    );
    let err = single_error(&[DescriptorSource::Protos {
        path: bad,
        import_paths: vec![],
    }]);
    assert!(err.to_string().contains("Unknown"), "{err}");
}

#[test]
fn error_conflicting_versions_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = write(&dir.path().join("v1/ping.proto"), PING_PROTO);
    let v2 = write(
        &dir.path().join("v2/ping.proto"),
        PING_PROTO.replace(
            "rpc Ping(Ping) returns (Ping);",
            "rpc Ping(Ping) returns (stream Ping);",
        ),
    );
    let errors = Catalog::load(&[
        DescriptorSource::Protos {
            path: v1,
            import_paths: vec![],
        },
        DescriptorSource::Protos {
            path: v2.clone(),
            import_paths: vec![],
        },
    ])
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(&errors[0], CatalogError::Conflict { path, .. } if *path == v2));
    assert!(
        errors[0].to_string().contains("ping.proto"),
        "{}",
        errors[0]
    );
}

#[test]
fn error_duplicate_type_in_different_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(&dir.path().join("a/one.proto"), PING_PROTO);
    let b = write(&dir.path().join("b/two.proto"), PING_PROTO);
    let errors = Catalog::load(&[
        DescriptorSource::Protos {
            path: a,
            import_paths: vec![],
        },
        DescriptorSource::Protos {
            path: b.clone(),
            import_paths: vec![],
        },
    ])
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(&errors[0], CatalogError::Conflict { path, .. } if *path == b));
}

#[test]
fn all_bad_sources_are_reported_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir.path().join("good/ping.proto"), PING_PROTO);
    let bad = write(
        &dir.path().join("bad/bad.proto"),
        "syntax = \"proto3\"; message {",
    );
    let garbage = write(&dir.path().join("garbage.pb"), b"\x07");
    let errors = Catalog::load(&[
        DescriptorSource::Set(dir.path().join("missing.pb")),
        DescriptorSource::Protos {
            path: good,
            import_paths: vec![],
        },
        DescriptorSource::Protos {
            path: bad.clone(),
            import_paths: vec![],
        },
        DescriptorSource::Set(garbage.clone()),
    ])
    .unwrap_err();
    let paths: Vec<&Path> = errors.iter().map(|e| e.path()).collect();
    assert_eq!(
        paths,
        [
            dir.path().join("missing.pb").as_path(),
            bad.as_path(),
            garbage.as_path()
        ]
    );
}

#[test]
fn source_path_accessor() {
    let s = DescriptorSource::Set(PathBuf::from("a.pb"));
    assert_eq!(s.path(), Path::new("a.pb"));
    let p = DescriptorSource::Protos {
        path: PathBuf::from("b.proto"),
        import_paths: vec![],
    };
    assert_eq!(p.path(), Path::new("b.proto"));
}

#[test]
fn rpc_kind_labels() {
    assert_eq!(RpcKind::from_streaming(false, false), RpcKind::Unary);
    assert_eq!(
        RpcKind::from_streaming(true, false),
        RpcKind::ClientStreaming
    );
    assert_eq!(
        RpcKind::from_streaming(false, true),
        RpcKind::ServerStreaming
    );
    assert_eq!(RpcKind::from_streaming(true, true), RpcKind::BidiStreaming);
    assert_eq!(RpcKind::Unary.label(), "unary");
    assert_eq!(RpcKind::ClientStreaming.label(), "client_stream");
    assert_eq!(RpcKind::ServerStreaming.label(), "server_stream");
    assert_eq!(RpcKind::BidiStreaming.label(), "bidi_stream");
    assert_eq!(RpcKind::BidiStreaming.to_string(), "bidi_stream");
    assert!(RpcKind::BidiStreaming.client_streaming());
    assert!(!RpcKind::ServerStreaming.client_streaming());
    assert!(RpcKind::ServerStreaming.server_streaming());
}

#[test]
fn grpc_path_split() {
    assert_eq!(
        split_grpc_path("/pkg.Svc/Method"),
        Some(("pkg.Svc", "Method"))
    );
    assert_eq!(split_grpc_path("/Svc/M"), Some(("Svc", "M")));
    for bad in [
        "",
        "/",
        "//",
        "/pkg.Svc",
        "/pkg.Svc/",
        "//Method",
        "pkg.Svc/Method",
        "/a/b/c",
    ] {
        assert_eq!(split_grpc_path(bad), None, "{bad}");
    }
}

#[test]
fn catalog_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Catalog>();
    assert_send_sync::<CatalogError>();
}
