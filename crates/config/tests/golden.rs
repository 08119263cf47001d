//! Golden tests: every file under `tests/fixtures/config/`.
//!
//! `invalid/NAME.yaml` must fail with exactly `invalid/NAME.expected` (the
//! Display of the diagnostics, the file named `invalid/NAME.yaml`), and
//! `valid/*.yaml` must load cleanly. Run with `UPDATE_GOLDEN=1` to rewrite
//! the `.expected` files after an intended change, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protogate_config::{parse_str, DescriptorSourceConfig, Timeout, UpstreamProtocol};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/config")
}

/// The files in `dir` ending in `.{ext}`, sorted by name.
fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(fixtures().join(dir))
        .expect("fixture directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn invalid_fixtures_report_exactly_the_expected_errors() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let yamls = files("invalid", "yaml");
    assert!(
        yamls.len() >= 30,
        "expected the full set of invalid fixtures, found {}",
        yamls.len()
    );
    let mut failures = Vec::new();
    for yaml in &yamls {
        let shown = format!("invalid/{}", file_name(yaml));
        let text = fs::read_to_string(yaml).expect("fixture text");
        let actual = match parse_str(&text, Path::new(&shown)) {
            Ok(_) => {
                failures.push(format!("{shown}: loaded without any error"));
                continue;
            }
            Err(errors) => format!("{errors}\n"),
        };
        let expected_path = yaml.with_extension("expected");
        if update {
            fs::write(&expected_path, &actual).expect("write .expected");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{shown}:\n--- expected ({})\n{expected}--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    for expected in files("invalid", "expected") {
        if !expected.with_extension("yaml").exists() {
            failures.push(format!("{} has no .yaml beside it", expected.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es) (UPDATE_GOLDEN=1 rewrites them):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_fixtures_load_cleanly() {
    let yamls = files("valid", "yaml");
    assert!(yamls.len() >= 3);
    let mut failures = Vec::new();
    for yaml in &yamls {
        let shown = format!("valid/{}", file_name(yaml));
        let text = fs::read_to_string(yaml).expect("fixture text");
        if let Err(errors) = parse_str(&text, Path::new(&shown)) {
            failures.push(errors.to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_guide_example_is_modelled_as_written() {
    let text = fs::read_to_string(fixtures().join("valid/full.yaml")).expect("fixture");
    let config = parse_str(&text, Path::new("conf/full.yaml")).expect("valid config");

    let server = &config.server;
    assert_eq!(server.listen.len(), 2);
    assert_eq!(server.listen[0].address.to_string(), "0.0.0.0:8080");
    assert!(server.listen[0].tls.is_none());
    let tls = server.listen[1].tls.as_ref().expect("tls listener");
    assert_eq!(tls.cert, PathBuf::from("conf/certs/server.crt"));
    assert_eq!(tls.client_ca, Some(PathBuf::from("conf/certs/ca.crt")));
    assert_eq!(server.admin.to_string(), "127.0.0.1:9901");
    assert_eq!(server.threads, 2);
    assert_eq!(server.grace_period, Duration::from_secs(10));
    assert_eq!(server.max_concurrent_streams, 1000);
    assert_eq!(server.trusted_proxies[0].to_string(), "10.0.0.0/8");

    assert_eq!(config.descriptors.len(), 2);
    assert_eq!(
        config.descriptors[0].source,
        DescriptorSourceConfig::Set(PathBuf::from("conf/protos/ecommerce.pb"))
    );
    assert_eq!(
        config.descriptors[1].source,
        DescriptorSourceConfig::Protos {
            path: PathBuf::from("conf/protos/src"),
            import_paths: vec![PathBuf::from("conf/protos/include")],
        }
    );
    assert_eq!(config.descriptors[1].path.as_str(), "descriptors[1]");

    let names: Vec<&str> = config.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["products", "inventory", "legacy-http"]);
    let products = config.upstream("products").expect("products");
    assert_eq!(products.protocol, UpstreamProtocol::Grpc);
    assert_eq!(products.targets.len(), 2);
    assert_eq!(products.targets[1].port, 50052);
    assert_eq!(products.timeout, Timeout::After(Duration::from_secs(30)));
    let hc = products.health_check.as_ref().expect("health check");
    assert_eq!(hc.service.as_deref(), Some(""));
    assert_eq!(hc.timeout, Duration::from_secs(1));
    let inventory = config.upstream("inventory").expect("inventory");
    let tls = inventory.tls.as_ref().expect("upstream tls");
    assert_eq!(tls.server_name.as_deref(), Some("inventory.internal"));
    assert_eq!(inventory.connect_timeout, Duration::from_secs(1));
    assert_eq!(inventory.timeout, Timeout::Off);
    let legacy = config.upstream("legacy-http").expect("legacy-http");
    assert_eq!(
        legacy.health_check.as_ref().and_then(|h| h.path.as_deref()),
        Some("/healthz")
    );

    let tracing = config.tracing.as_ref().expect("tracing");
    assert_eq!(tracing.otlp_endpoint, "http://127.0.0.1:4318");
    assert_eq!(tracing.service_name, "protogate");

    assert_eq!(config.plugins.len(), 1);
    assert_eq!(config.plugins[0].name, "tracing");
    assert_eq!(config.plugins[0].path.as_str(), "plugins[0].tracing");

    let routes: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        routes,
        [
            "products",
            "watch-products",
            "create-product",
            "products-rest",
            "legacy-rest"
        ]
    );
    let watch = config.route("watch-products").expect("route");
    assert_eq!(watch.timeout, Some(Timeout::Off));
    assert_eq!(
        watch.matcher.grpc_method.as_deref(),
        Some("ecommerce.v1.ProductService/WatchProduct")
    );
    let create = config.route("create-product").expect("route");
    let plugin_paths: Vec<&str> = create.plugins.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        plugin_paths,
        [
            "routes[2].plugins[0].rate_limit",
            "routes[2].plugins[1].header_map"
        ]
    );
    assert!(create.plugins[0].body.get("limits").is_some());
    let legacy_rest = config.route("legacy-rest").expect("route");
    assert_eq!(
        legacy_rest.matcher.host.as_deref(),
        Some("legacy.example.com")
    );
    assert_eq!(legacy_rest.matcher.path_prefix.as_deref(), Some("/"));
    assert_eq!(legacy_rest.upstream.value, "legacy-http");
}

#[test]
fn other_yaml_styles_mean_the_same_thing() {
    let text = fs::read_to_string(fixtures().join("valid/styles.yaml")).expect("fixture");
    let config = parse_str(&text, Path::new("styles.yaml")).expect("valid config");
    assert_eq!(config.server.listen[0].address.to_string(), "[::1]:8080");
    assert_eq!(config.server.grace_period, Duration::from_secs(90));
    assert_eq!(
        config.server.trusted_proxies[1].to_string(),
        "192.168.1.7/32"
    );
    assert!(config.descriptors.is_empty());
    assert!(config.plugins.is_empty());

    // An alias copies the anchored upstream under its own name.
    let copy = config.upstream("v6-copy").expect("aliased upstream");
    assert_eq!(copy.targets[0].host, "::1");
    assert_eq!(copy.connect_timeout, Duration::from_millis(250));
    assert_eq!(copy.timeout, Timeout::Off);
    assert_eq!(
        copy.health_check
            .as_ref()
            .and_then(|h| h.service.as_deref()),
        Some("grpc.health.v1.Health")
    );
    assert_eq!(
        config.upstream("web.frontend_1").map(|u| u.protocol),
        Some(UpstreamProtocol::Https)
    );

    let everything = config.route("everything").expect("route");
    let m = &everything.matcher;
    assert_eq!(m.host.as_deref(), Some("*.example.com"));
    let methods: Vec<&str> = m.methods.iter().map(http::Method::as_str).collect();
    assert_eq!(methods, ["GET", "HEAD", "PURGE"]);
    let headers: Vec<(&str, &str)> = m
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(headers, [("x-tenant", "acme"), ("x-version", "2")]);
    assert_eq!(
        everything.timeout,
        Some(Timeout::After(Duration::from_millis(1500)))
    );
    assert_eq!(everything.plugins[0].name, "grpc_proxy");
    assert!(everything.plugins[0].body.is_null());
    assert!(config.route("one method").is_some());
}
