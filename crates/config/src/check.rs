//! Checks that relate decoded values to each other: settings that depend
//! on an upstream's protocol, unique route names, routes naming declared
//! upstreams. They run once the whole file is decoded, and each reports
//! every problem it finds.
//!
//! Checks on a single value's shape (a method name, a path's leading `/`)
//! happen while decoding it, where its exact position is known.

use crate::decoder::Decoder;
use crate::model::{GatewayConfig, UpstreamConfig};
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::suggest::did_you_mean;

/// What the route checks need from one route, read from the raw tree so
/// that a route with an unrelated mistake (a bad `match`) still has its
/// name and upstream checked.
pub(crate) struct RouteRef {
    path: YamlPath,
    name: Option<(String, Span)>,
    upstream: Option<(String, Span)>,
}

/// The name and upstream of every route item that has them as strings.
pub(crate) fn route_refs(routes: &Node, path: &YamlPath) -> Vec<RouteRef> {
    let text = |item: &Node, key: &str| {
        item.get(key)
            .and_then(|n| Some((n.as_str()?.to_owned(), n.span)))
            .filter(|(s, _)| !s.trim().is_empty())
    };
    routes
        .as_seq()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, item)| item.as_map().is_some())
        .map(|(i, item)| RouteRef {
            path: path.index(i),
            name: text(item, "name"),
            upstream: text(item, "upstream"),
        })
        .collect()
}

/// Runs every cross-value check. `declared` holds the name of every
/// upstream written in the file, including those that failed to decode.
pub(crate) fn run(
    config: &GatewayConfig,
    routes: &[RouteRef],
    declared: &[String],
    d: &mut Decoder,
) {
    for upstream in &config.upstreams {
        check_upstream(upstream, d);
    }
    check_routes(routes, declared, d);
}

/// Settings that only make sense for some protocols, and paired settings.
fn check_upstream(u: &UpstreamConfig, d: &mut Decoder) {
    let path = YamlPath::root().key("upstreams").key(&u.name);
    let protocol = u.protocol.as_str();
    if let Some(tls) = &u.tls {
        if !u.protocol.is_tls() {
            let with_tls = if u.protocol.is_grpc() {
                "grpcs"
            } else {
                "https"
            };
            d.error(
                tls.span,
                &path.key("tls"),
                format!("`tls` applies only to grpcs and https upstreams, and this one is {protocol}; did you mean `protocol: {with_tls}`?"),
            );
        }
        match (&tls.cert, &tls.key) {
            (Some(_), None) => d.error(
                tls.span,
                &path.key("tls"),
                "`cert` is given without `key`; a client certificate needs both",
            ),
            (None, Some(_)) => d.error(
                tls.span,
                &path.key("tls"),
                "`key` is given without `cert`; a client certificate needs both",
            ),
            _ => {}
        }
    }
    if let Some(hc) = &u.health_check {
        let hc_path = path.key("health_check");
        if hc.service.is_some() && !u.protocol.is_grpc() {
            d.error(
                hc.span,
                &hc_path.key("service"),
                format!("`service` is for gRPC health checks, and this upstream is {protocol}; use `path` for an HTTP check"),
            );
        }
        if hc.path.is_some() && u.protocol.is_grpc() {
            d.error(
                hc.span,
                &hc_path.key("path"),
                format!("`path` is for HTTP health checks, and this upstream is {protocol}; use `service` for a gRPC check"),
            );
        }
    }
    for (i, target) in u.targets.iter().enumerate() {
        let first = u.targets[..i]
            .iter()
            .find(|t| t.host == target.host && t.port == target.port);
        if let Some(first) = first {
            d.error(
                target.span,
                &path.key("targets").index(i),
                format!(
                    "target `{}:{}` is listed twice (also at line {})",
                    target.host, target.port, first.span.line
                ),
            );
        }
    }
}

/// Unique route names, and every route's upstream declared.
fn check_routes(routes: &[RouteRef], declared: &[String], d: &mut Decoder) {
    let declared_names: Vec<&str> = declared.iter().map(String::as_str).collect();
    for (i, route) in routes.iter().enumerate() {
        if let Some((name, span)) = &route.name {
            let first = routes[..i]
                .iter()
                .filter_map(|r| r.name.as_ref())
                .find(|(other, _)| other == name);
            if let Some((_, first_span)) = first {
                d.error(
                    *span,
                    &route.path.key("name"),
                    format!(
                        "route name `{name}` is already used by the route at line {}",
                        first_span.line
                    ),
                );
            }
        }
        let Some((upstream, span)) = &route.upstream else {
            continue;
        };
        if declared.iter().any(|name| name == upstream) {
            continue;
        }
        let mut message = format!("upstream `{upstream}` is not declared under `upstreams`");
        if declared_names.is_empty() {
            message.push_str(" (there are none)");
        } else if let Some(close) = did_you_mean(upstream, &declared_names) {
            message.push_str(&format!("; did you mean `{close}`?"));
        } else {
            message.push_str(&format!("; declared: {}", declared_names.join(", ")));
        }
        d.error(*span, &route.path.key("upstream"), message);
    }
}
