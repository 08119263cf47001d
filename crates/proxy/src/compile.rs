//! From the parsed file to a [`Runtime`]: descriptors, upstreams, plugin
//! chains and routes, with every error appended to the same diagnostics as
//! the parser's, so `protogate check` prints them all at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use protogate_config::{
    Decoder, DescriptorSourceConfig, Diagnostics, GatewayConfig, MatchConfig, PluginEntry,
    RouteConfig, YamlPath,
};
use protogate_core::Chain;
use protogate_grpc::catalog::{split_grpc_path, Catalog, DescriptorSource};
use protogate_metrics::Metrics;
use protogate_router::RouteSpec;

use crate::plugins::BuildCx;
use crate::runtime::KnownMethod;
use crate::upstream_tls::UpstreamTlsMaterial;
use crate::{CompiledRoute, PluginConfig, Runtime, Upstream};

/// Parses and compiles the file at `path`: the runtime and the parsed model
/// (the server section is read from it), or every error in the file.
pub fn load(path: &Path, metrics: &Arc<Metrics>) -> Result<(GatewayConfig, Runtime), Diagnostics> {
    let (config, mut decoder) = protogate_config::load_with(path);
    let runtime = config
        .as_ref()
        .and_then(|c| compile(c, &mut decoder, metrics));
    match (config, runtime) {
        (Some(config), Some(runtime)) if !decoder.has_errors() => Ok((config, runtime)),
        _ => Err(decoder.into_diagnostics()),
    }
}

/// Compiles a parsed configuration, recording errors in `d`. Returns `None`
/// when anything failed (the errors say what).
pub fn compile(config: &GatewayConfig, d: &mut Decoder, metrics: &Arc<Metrics>) -> Option<Runtime> {
    check_listener_tls(config, d);
    let catalog = load_catalog(config, d);
    let upstreams = build_upstreams(config, d);
    let globals = decode_plugins(&config.plugins, d);
    let mut routes = Vec::with_capacity(config.routes.len());
    let known = known_methods(&catalog, &config.routes);
    for route in &config.routes {
        let plugins = decode_plugins(&route.plugins, d);
        check_plugin_order(&config.plugins, &route.plugins, d);
        let Some(upstream) = upstreams.get(route.upstream.value.as_str()) else {
            continue; // the parser already reported the missing upstream
        };
        let configs = chain_configs(&globals, &plugins, matches_grpc_callers(&route.matcher));
        if !check_path_variables(&configs, &catalog, &config.plugins, &route.plugins, d) {
            continue;
        }
        let grpc = configs
            .iter()
            .find_map(PluginConfig::as_grpc_proxy)
            .cloned();
        // Build every plugin (so each reports its errors), then give up on
        // the route if any failed.
        let built: Vec<_> = configs
            .iter()
            .map(|c| {
                let cx = BuildCx {
                    catalog: &catalog,
                    route: &route.name,
                    route_span: route.span,
                    route_path: &route.path,
                    global: !plugins.iter().any(|own| own.name() == c.name())
                        && globals.iter().any(|g| g.name() == c.name()),
                    metrics,
                    tracing: config.tracing.as_ref(),
                };
                c.build(&cx, d)
            })
            .collect();
        let Some(plugins) = built.into_iter().collect::<Option<Vec<_>>>() else {
            continue;
        };
        let chain = Chain::new(plugins);
        routes.push(Arc::new(CompiledRoute {
            name: Arc::from(route.name.as_str()),
            spec: route_spec(&route.matcher),
            upstream: Arc::clone(upstream),
            chain,
            timeout: route.timeout,
            grpc,
            grpc_metrics: CompiledRoute::method_slots(known.len()),
            traffic: metrics.route(&route.name),
        }));
    }
    if d.has_errors() {
        return None;
    }
    Some(
        Runtime::new(routes, catalog, known, Arc::clone(metrics))
            .with_trusted_proxies(config.server.trusted_proxies.clone()),
    )
}

/// The listeners' certificate files: read and checked at load, so
/// `protogate check` reports a bad file with its place in the config.
fn check_listener_tls(config: &GatewayConfig, d: &mut Decoder) {
    let listen_path = YamlPath::default().key("server").key("listen");
    for (index, listen) in config.server.listen.iter().enumerate() {
        if let Some(tls) = &listen.tls {
            if let Err(error) = crate::tls::check(tls) {
                d.error(listen.span, &listen_path.index(index).key("tls"), error);
            }
        }
    }
}

fn load_catalog(config: &GatewayConfig, d: &mut Decoder) -> Catalog {
    let mut sources = Vec::with_capacity(config.descriptors.len());
    for entry in &config.descriptors {
        let source = match &entry.source {
            DescriptorSourceConfig::Set(path) => DescriptorSource::Set(path.clone()),
            DescriptorSourceConfig::Protos { path, import_paths } => DescriptorSource::Protos {
                path: path.clone(),
                import_paths: import_paths.clone(),
            },
        };
        // Load each source alone first so an error points at its entry.
        if let Err(errors) = Catalog::load(std::slice::from_ref(&source)) {
            for error in errors {
                d.error(entry.span, &entry.path, error.to_string());
            }
            continue;
        }
        sources.push(source);
    }
    match Catalog::load(&sources) {
        Ok(catalog) => catalog,
        Err(errors) => {
            let root = YamlPath::default().key("descriptors");
            let span = config
                .descriptors
                .first()
                .map(|e| e.span)
                .unwrap_or_default();
            for error in errors {
                d.error(span, &root, format!("descriptors do not combine: {error}"));
            }
            Catalog::empty()
        }
    }
}

fn build_upstreams(config: &GatewayConfig, d: &mut Decoder) -> HashMap<String, Arc<Upstream>> {
    let mut built = HashMap::with_capacity(config.upstreams.len());
    let root = YamlPath::default().key("upstreams");
    for upstream in &config.upstreams {
        let tls = match UpstreamTlsMaterial::load(upstream.tls.as_ref()) {
            Ok(tls) => tls,
            Err(message) => {
                let span = upstream.tls.as_ref().map_or(upstream.span, |t| t.span);
                d.error(span, &root.key(&upstream.name).key("tls"), message);
                continue;
            }
        };
        match Upstream::build(upstream, &tls) {
            Ok(u) => {
                built.insert(upstream.name.clone(), Arc::new(u));
            }
            Err(errors) => {
                for (index, message) in errors {
                    let span = upstream
                        .targets
                        .get(index)
                        .map_or(upstream.span, |t| t.span);
                    let path = root.key(&upstream.name).key("targets").index(index);
                    d.error(span, &path, message);
                }
            }
        }
    }
    built
}

/// The transcoder answers its calls in its own request hook, so a plugin
/// whose work is in the request hook would never run after it: a
/// `header_map` would never see the caller's request (its templates would
/// stay empty), a `rate_limit` would never count a call. Refused at load,
/// at the later plugin's entry. The order checked is the chain's: global
/// plugins the route does not name, then the route's own.
fn check_plugin_order(globals: &[PluginEntry], own: &[PluginEntry], d: &mut Decoder) {
    const NEED_THE_REQUEST: [&str; 2] = [
        protogate_plugin_header_map::NAME,
        protogate_plugin_rate_limit::NAME,
    ];
    let chain = globals
        .iter()
        .filter(|g| !own.iter().any(|o| o.name == g.name))
        .chain(own);
    let mut transcoder_before = false;
    for entry in chain {
        if entry.name == protogate_plugin_transcoder::NAME {
            transcoder_before = true;
        } else if transcoder_before && NEED_THE_REQUEST.contains(&entry.name.as_str()) {
            d.error(
                entry.span,
                &entry.path,
                format!(
                    "{} must come before transcoder in the plugin list: the transcoder \
                     answers the call in its request hook, before later plugins see the request",
                    entry.name
                ),
            );
        }
    }
}

/// `${path.NAME}` in a `header_map` template names a path variable of the
/// route's transcoder bindings: checked at load, reported at the
/// `header_map` entry. False when a name is not there.
fn check_path_variables(
    configs: &[PluginConfig],
    catalog: &Catalog,
    globals: &[PluginEntry],
    own: &[PluginEntry],
    d: &mut Decoder,
) -> bool {
    let Some(header_map) = configs.iter().find_map(PluginConfig::as_header_map) else {
        return true;
    };
    let wanted = header_map.path_variables();
    if wanted.is_empty() {
        return true;
    }
    let known = configs
        .iter()
        .find_map(PluginConfig::as_transcoder)
        .map(|t| protogate_plugin_transcoder::path_variables(t, catalog));
    let missing: Vec<&str> = match &known {
        Some(known) => wanted
            .iter()
            .copied()
            .filter(|w| !known.contains(*w))
            .collect(),
        None => wanted.clone(),
    };
    if missing.is_empty() {
        return true;
    }
    let entry = own
        .iter()
        .chain(globals)
        .find(|e| e.name == protogate_plugin_header_map::NAME);
    let message = match &known {
        None => format!(
            "`${{path.{}}}` needs a transcoder on this route (path variables come from its bindings)",
            missing[0]
        ),
        Some(known) => format!(
            "no binding of this route's transcoder has the path variable `{}`; its path variables: {}",
            missing[0],
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        ),
    };
    if let Some(entry) = entry {
        d.error(entry.span, &entry.path, message);
    }
    false
}

fn decode_plugins(entries: &[PluginEntry], d: &mut Decoder) -> Vec<PluginConfig> {
    entries
        .iter()
        .filter_map(|e| PluginConfig::decode(e, d))
        .collect()
}

/// The route's chain, in run order: global plugins first, then the
/// route's own. A plugin named in both runs once, with the route's
/// settings; a gRPC route gets `grpc_proxy` with its defaults unless it
/// names it.
fn chain_configs(
    globals: &[PluginConfig],
    own: &[PluginConfig],
    grpc_route: bool,
) -> Vec<PluginConfig> {
    let mut configs: Vec<PluginConfig> = globals
        .iter()
        .filter(|g| !own.iter().any(|o| o.name() == g.name()))
        .cloned()
        .collect();
    let default_grpc = PluginConfig::default_grpc_proxy();
    let names_grpc_proxy = configs
        .iter()
        .chain(own)
        .any(|c| c.name() == default_grpc.name());
    if grpc_route && !names_grpc_proxy {
        configs.push(default_grpc);
    }
    configs.extend(own.iter().cloned());
    configs
}

fn matches_grpc_callers(matcher: &MatchConfig) -> bool {
    matcher.grpc_service.is_some() || matcher.grpc_method.is_some()
}

fn route_spec(matcher: &MatchConfig) -> RouteSpec {
    RouteSpec {
        grpc_service: matcher.grpc_service.clone(),
        grpc_method: matcher.grpc_method.clone(),
        path: matcher.path.clone(),
        path_prefix: matcher.path_prefix.clone(),
        methods: matcher.methods.clone(),
        host: matcher.host.clone(),
        headers: matcher.headers.clone(),
    }
}

/// Methods that get their own metric labels: every method of the catalog,
/// plus methods named by `grpc_method` routes (kind unknown without a
/// descriptor).
fn known_methods(catalog: &Catalog, routes: &[RouteConfig]) -> Vec<KnownMethod> {
    let mut known: Vec<KnownMethod> = catalog
        .methods()
        .map(|m| KnownMethod {
            service: Arc::from(m.service.as_str()),
            method: Arc::from(m.method.as_str()),
            kind: Some(m.kind),
        })
        .collect();
    for route in routes {
        let Some(full) = &route.matcher.grpc_method else {
            continue;
        };
        let path = format!("/{full}");
        if catalog.method(&path).is_some() {
            continue;
        }
        if let Some((service, method)) = split_grpc_path(&path) {
            if !known
                .iter()
                .any(|k| &*k.service == service && &*k.method == method)
            {
                known.push(KnownMethod {
                    service: Arc::from(service),
                    method: Arc::from(method),
                    kind: None,
                });
            }
        }
    }
    known.sort_by(|a, b| (&a.service, &a.method).cmp(&(&b.service, &b.method)));
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use protogate_plugin_grpc_proxy::GrpcProxyConfig;

    fn grpc_proxy(max: u64) -> PluginConfig {
        PluginConfig::GrpcProxy(Box::new(GrpcProxyConfig {
            max_message_size: max,
            ..GrpcProxyConfig::default()
        }))
    }

    #[test]
    fn a_grpc_route_gets_grpc_proxy_with_defaults_unless_it_names_it() {
        assert_eq!(
            chain_configs(&[], &[], true),
            [PluginConfig::default_grpc_proxy()]
        );
        assert_eq!(chain_configs(&[], &[grpc_proxy(7)], true), [grpc_proxy(7)]);
        assert!(
            chain_configs(&[], &[], false).is_empty(),
            "HTTP routes get nothing by default"
        );
    }

    #[test]
    fn a_plugin_in_both_lists_runs_once_with_the_routes_settings() {
        let chain = chain_configs(&[grpc_proxy(1)], &[grpc_proxy(2)], true);
        assert_eq!(chain, [grpc_proxy(2)]);
        let chain = chain_configs(&[grpc_proxy(1)], &[], false);
        assert_eq!(
            chain,
            [grpc_proxy(1)],
            "a global plugin runs on every route"
        );
    }
}
