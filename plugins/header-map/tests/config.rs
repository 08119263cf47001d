//! The plugin's configuration: the README example parses, every rule is
//! checked at load with its position, and the rules apply in order.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use http::{HeaderMap, HeaderValue};
use protogate_config::{parse_str, Decode, Decoder, YamlPath};
use protogate_core::{CallInfo, RequestHeader};
use protogate_plugin_header_map::template::Sources;
use protogate_plugin_header_map::HeaderMapConfig;

/// The ```yaml block under the README's "## Example".
fn readme_example() -> String {
    protogate_config::yaml_block(include_str!("../README.md"), "## Example")
        .expect("a yaml example")
        .to_owned()
}

fn decode(yaml: &str) -> (Option<HeaderMapConfig>, String) {
    let root = protogate_config::decode_str::<protogate_config::Node>(yaml, Path::new("x.yaml"))
        .expect("yaml");
    let body = root.get("header_map").expect("body");
    let mut d = Decoder::new("x.yaml".into());
    let decoded = HeaderMapConfig::decode(body, &YamlPath::root().key("header_map"), &mut d);
    (decoded, d.into_diagnostics().to_string())
}

#[test]
fn the_readme_example_parses_and_decodes() {
    let yaml = format!(
        "server:\n  listen: [{{ address: \"127.0.0.1:0\" }}]\nupstreams:\n  products: {{ protocol: grpc, targets: [\"127.0.0.1:1\"] }}\n{}",
        readme_example()
    );
    let config = parse_str(&yaml, Path::new("README.md")).expect("valid config");
    let entry = &config.routes[0].plugins[0];
    assert_eq!(entry.name, "header_map");
    let mut d = Decoder::new("README.md".into());
    let decoded = HeaderMapConfig::decode(&entry.body, &entry.path, &mut d);
    assert!(!d.has_errors(), "{}", d.into_diagnostics());
    let decoded = decoded.unwrap();
    assert_eq!(
        decoded.request.describe(),
        [
            "remove x-internal-debug",
            "rename x-tenant -> customerid",
            "set x-gateway: \"protogate\"",
            "set x-client-ip: \"${client_ip}\"",
            "add x-via: \"protogate\"",
        ]
    );
}

#[test]
fn every_bad_rule_is_reported_with_its_position() {
    let (decoded, errors) = decode(
        r#"header_map:
  request:
    remove: [te, grpc-timeout]
    rename: { X-Tenant: tenant }
    set: { ":authority": x, x-ok: "${client_address}", x-data-bin: "not base64!" }
  response:
    sett: {}
"#,
    );
    assert!(decoded.is_none());
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines,
        [
            "x.yaml:3:14: header_map.request.remove: `te` cannot be set or removed: gRPC needs `te: trailers` end to end",
            "x.yaml:3:18: header_map.request.remove: `grpc-timeout` is reserved for gRPC; list it under `allow_reserved` to change it",
            "x.yaml:4:15: header_map.request.rename: `X-Tenant` is not a valid metadata name: use lower case letters, digits, `_`, `.` and `-`",
            "x.yaml:5:12: header_map.request.set: `:authority` is a pseudo-header and cannot be changed (set `host` to change `:authority`)",
            "x.yaml:5:35: header_map.request.set.x-ok: unknown template variable `${client_address}`; expected one of: client_ip, route, grpc_method, request_id, header.NAME, query.NAME, path.NAME",
            "x.yaml:5:68: header_map.request.set.x-data-bin: `x-data-bin` is binary metadata: its value must be base64",
            "x.yaml:7:5: header_map.response.sett: unknown key `sett`; expected one of: remove, rename, set, add, allow_reserved; did you mean `set`?",
        ],
        "{errors}"
    );
}

#[test]
fn rules_apply_remove_rename_set_add_in_that_order() {
    let (decoded, errors) = decode(
        r#"header_map:
  trailers:
    remove: [x-secret]
    rename: { x-old: x-new }
    set: { x-new: "set-${header.x-who}", grpc-tenant: acme }
    add: { x-new: added, x-data-bin: "AAEC" }
    allow_reserved: []
"#,
    );
    let config = decoded.unwrap_or_else(|| panic!("{errors}"));
    let mut request = RequestHeader::build(http::Method::POST, b"/", None).unwrap();
    request.insert_header("x-who", "me").unwrap();
    let call = CallInfo::default();
    let values = config.trailers.evaluate(&Sources {
        call: &call,
        request: &request,
    });
    let mut trailers = HeaderMap::new();
    trailers.insert("x-secret", HeaderValue::from_static("s"));
    trailers.insert("x-old", HeaderValue::from_static("o"));
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    config.trailers.apply(&mut trailers, &values);
    assert!(!trailers.contains_key("x-secret"));
    assert!(!trailers.contains_key("x-old"));
    let new: Vec<_> = trailers.get_all("x-new").iter().collect();
    assert_eq!(
        new,
        ["set-me", "added"],
        "rename, then set replaced, then add appended"
    );
    assert_eq!(
        trailers["in-grpc-tenant"], "acme",
        "reserved names are moved aside"
    );
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-data-bin"], "AAEC");
}

/// The three kinds of header the rules edit (a plain map, Pingora's
/// headers edited through their inner map, and Pingora's headers with an
/// HTTP/1 case map, edited through its API) end up the same.
#[test]
fn every_header_kind_gets_the_same_result() {
    let (decoded, errors) = decode(
        r#"header_map:
  request:
    remove: [x-drop]
    rename: { x-old: x-new }
    set: { x-set: one }
    add: { x-new: appended }
"#,
    );
    let config = decoded.unwrap_or_else(|| panic!("{errors}"));
    let fill = |put: &mut dyn FnMut(&'static str, &'static str)| {
        put("x-drop", "gone");
        put("x-old", "first");
        put("x-old", "second");
        put("x-new", "replaced");
        put("x-set", "replaced too");
        put("x-keep", "kept");
    };
    let expected = [
        ("x-keep", vec!["kept"]),
        ("x-new", vec!["first", "second", "appended"]),
        ("x-set", vec!["one"]),
    ];
    let check = |kind: &str, headers: &HeaderMap| {
        let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["x-keep", "x-new", "x-set"], "{kind}");
        for (name, values) in &expected {
            let got: Vec<_> = headers.get_all(*name).iter().collect();
            assert_eq!(&got, values, "{kind}: {name}");
        }
    };

    let mut map = HeaderMap::new();
    fill(&mut |n, v| {
        map.append(n, HeaderValue::from_static(v));
    });
    config.request.apply(&mut map, &[]);
    check("http::HeaderMap", &map);

    for (kind, mut request) in [
        (
            "no case map",
            RequestHeader::build_no_case(http::Method::POST, b"/a.B/C", None).unwrap(),
        ),
        (
            "case map",
            RequestHeader::build(http::Method::POST, b"/a.B/C", None).unwrap(),
        ),
    ] {
        fill(&mut |n, v| {
            request.append_header(n, v).unwrap();
        });
        config.request.apply(&mut request, &[]);
        check(kind, &request.headers);
        assert_eq!(request.raw_path(), b"/a.B/C", "{kind}");
        let mut wire = bytes::BytesMut::new();
        request.header_to_h1_wire(&mut wire);
        let wire = String::from_utf8(wire.to_vec()).unwrap();
        assert!(wire.contains("x-new: first\r\n"), "{kind}: {wire}");
    }
}
