//! `upstreams`: the named backends routes send calls to.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use crate::decode::{Decode, Spanned};
use crate::decoder::Decoder;
use crate::names::check_upstream_name;
use crate::net::parse_host_port;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};
use crate::units::Timeout;

/// One upstream, named by its key under `upstreams`.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamConfig {
    /// The name routes refer to (`[A-Za-z0-9_.-]+`).
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// How the gateway talks to the targets.
    pub protocol: UpstreamProtocol,
    /// Where the upstream runs; at least one.
    pub targets: Vec<Target>,
    /// TCP (and TLS) connect limit; default 1s.
    pub connect_timeout: Duration,
    /// Default cap for a call that carries no `grpc-timeout`; default off.
    pub timeout: Timeout,
    /// Active health checking; `None`: targets are assumed healthy.
    pub health_check: Option<HealthCheckConfig>,
    /// TLS to the targets (grpcs / https only).
    pub tls: Option<UpstreamTls>,
}

/// The wire protocol of an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamProtocol {
    /// gRPC over cleartext HTTP/2 (h2c, prior knowledge).
    Grpc,
    /// gRPC over HTTP/2 with TLS.
    Grpcs,
    /// Plain HTTP/1.1.
    Http,
    /// HTTP over TLS.
    Https,
}

impl UpstreamProtocol {
    /// The keyword as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamProtocol::Grpc => "grpc",
            UpstreamProtocol::Grpcs => "grpcs",
            UpstreamProtocol::Http => "http",
            UpstreamProtocol::Https => "https",
        }
    }

    /// Whether the connection uses TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, UpstreamProtocol::Grpcs | UpstreamProtocol::Https)
    }

    /// Whether the upstream speaks gRPC.
    pub fn is_grpc(self) -> bool {
        matches!(self, UpstreamProtocol::Grpc | UpstreamProtocol::Grpcs)
    }
}

impl Decode for UpstreamProtocol {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        d.keyword(node, path, "protocol", PROTOCOLS)
    }
}

/// The `protocol` keywords: what the decoder accepts and the schema lists.
const PROTOCOLS: &[(&str, UpstreamProtocol)] = &[
    ("grpc", UpstreamProtocol::Grpc),
    ("grpcs", UpstreamProtocol::Grpcs),
    ("http", UpstreamProtocol::Http),
    ("https", UpstreamProtocol::Https),
];

impl JsonSchema for UpstreamProtocol {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("UpstreamProtocol")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::keyword_of(
            "how the gateway talks to the targets: grpc (h2c), grpcs (h2 over TLS), http (HTTP/1.1), https",
            PROTOCOLS,
        )
    }
}

/// One `host:port` an upstream runs on.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// A host name or IP address; IPv6 without brackets (`::1`), so
    /// `(host.as_str(), port)` can be handed to a resolver as is.
    pub host: String,
    /// 1 to 65535.
    pub port: u16,
    /// Where the target is written.
    pub span: Span,
}

impl Decode for Target {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let Some(text) = node.as_str() else {
            d.expected(node, path, "a target `host:port`");
            return None;
        };
        match parse_host_port(text) {
            Ok((host, port)) => Some(Target {
                host,
                port,
                span: node.span,
            }),
            Err(message) => {
                d.error(node.span, path, message);
                None
            }
        }
    }
}

/// Active health checking of an upstream's targets.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheckConfig {
    /// Time between checks; default 5s.
    pub interval: Duration,
    /// Limit for one check; default 1s.
    pub timeout: Duration,
    /// gRPC upstreams: the service asked about in `grpc.health.v1.Health/Check`
    /// (`""` is the whole server). `None`: the gateway's default.
    pub service: Option<String>,
    /// HTTP upstreams: the path of the GET (starts with `/`). `None`: the gateway's default.
    pub path: Option<String>,
    /// Failed checks in a row that take a healthy target out; default 1.
    pub unhealthy_threshold: u32,
    /// Passed checks in a row that bring a failing target back; default 1.
    pub healthy_threshold: u32,
    /// Where the `health_check` mapping starts.
    pub span: Span,
}

/// The default interval between health checks.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// The default limit for one health check.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// The default connect limit.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

impl Decode for HealthCheckConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "`health_check`")?;
        let interval = nonzero(&mut f, d, "interval").unwrap_or(DEFAULT_HEALTH_INTERVAL);
        let timeout = nonzero(&mut f, d, "timeout").unwrap_or(DEFAULT_HEALTH_TIMEOUT);
        let service = f.optional(d, "service");
        let check_path = f.optional::<Spanned<String>>(d, "path");
        let unhealthy_threshold = threshold(&mut f, d, "unhealthy_threshold");
        let healthy_threshold = threshold(&mut f, d, "healthy_threshold");
        f.finish(d);
        if let Some(p) = &check_path {
            if !p.value.starts_with('/') {
                d.error(
                    p.span,
                    &path.key("path"),
                    format!("a health check path starts with `/`, found `{}`", p.value),
                );
            }
        }
        Some(HealthCheckConfig {
            interval,
            timeout,
            service,
            path: check_path.map(|p| p.value),
            unhealthy_threshold,
            healthy_threshold,
            span: node.span,
        })
    }
}

/// Reads an optional count of checks in a row: at least 1, default 1.
fn threshold(f: &mut crate::fields::Fields<'_>, d: &mut Decoder, key: &str) -> u32 {
    match f.optional::<Spanned<u32>>(d, key) {
        Some(t) if t.value == 0 => {
            d.error(
                t.span,
                &f.path().key(key),
                "must be at least 1 (checks in a row)",
            );
            1
        }
        Some(t) => t.value,
        None => 1,
    }
}

/// Reads an optional duration that must not be zero.
fn nonzero(f: &mut crate::fields::Fields<'_>, d: &mut Decoder, key: &str) -> Option<Duration> {
    let value = f.optional::<Spanned<Duration>>(d, key)?;
    if value.value.is_zero() {
        d.error(value.span, &f.path().key(key), "must be longer than zero");
        return None;
    }
    Some(value.value)
}

/// TLS from the gateway to an upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamTls {
    /// CA bundle to verify the upstream with; `None`: the system roots.
    pub ca: Option<PathBuf>,
    /// Name to verify (and send as SNI); `None`: the target's host.
    pub server_name: Option<String>,
    /// Client certificate (mTLS); always with `key`.
    pub cert: Option<PathBuf>,
    /// Client key; always with `cert`.
    pub key: Option<PathBuf>,
    /// Where the `tls` mapping starts.
    pub span: Span,
}

impl Decode for UpstreamTls {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(
            node,
            path,
            "upstream `tls` (`ca`, `server_name`, `cert`, `key`)",
        )?;
        let ca = f.optional(d, "ca");
        let server_name = f.optional(d, "server_name");
        let cert = f.optional(d, "cert");
        let key = f.optional(d, "key");
        f.finish(d);
        Some(UpstreamTls {
            ca,
            server_name,
            cert,
            key,
            span: node.span,
        })
    }
}

/// Reads one `name: { ... }` entry of `upstreams`.
pub(crate) fn decode_upstream(
    name: &str,
    name_span: Span,
    node: &Node,
    path: &YamlPath,
    d: &mut Decoder,
) -> Option<UpstreamConfig> {
    let name_ok = match check_upstream_name(name) {
        Ok(()) => true,
        Err(message) => {
            d.error(name_span, path, message);
            false
        }
    };
    let mut f = d.fields(node, path, &format!("upstream `{name}`"))?;
    let protocol = f.required(d, "protocol");
    let targets = f.required::<Spanned<Vec<Target>>>(d, "targets");
    let connect_timeout = nonzero(&mut f, d, "connect_timeout").unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let timeout = f.optional(d, "timeout").unwrap_or(Timeout::Off);
    let health_check = f.optional(d, "health_check");
    let tls = f.optional(d, "tls");
    f.finish(d);
    if let Some(t) = &targets {
        if t.value.is_empty() {
            d.error(
                t.span,
                &path.key("targets"),
                "at least one target is required",
            );
        }
    }
    if !name_ok {
        return None;
    }
    Some(UpstreamConfig {
        name: name.to_owned(),
        span: name_span,
        protocol: protocol?,
        targets: targets?.value,
        connect_timeout,
        timeout,
        health_check,
        tls,
    })
}

/// The schema of one `upstreams` entry (the entry's key is its name).
pub(crate) struct UpstreamSchema;

impl JsonSchema for UpstreamSchema {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Upstream")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "One upstream; routes name it by its key under `upstreams`.",
            &["protocol", "targets"],
            vec![
                ("protocol", g.subschema_for::<UpstreamProtocol>()),
                (
                    "targets",
                    schema::non_empty_array(
                        "where the upstream runs, taken in turn",
                        schema::host_port("a target `host:port`"),
                    ),
                ),
                (
                    "connect_timeout",
                    schema::duration("TCP (and TLS) connect limit; default 1s"),
                ),
                (
                    "timeout",
                    schema::timeout("cap for a call that carries no grpc-timeout; default off"),
                ),
                ("health_check", g.subschema_for::<HealthCheckConfig>()),
                ("tls", g.subschema_for::<UpstreamTls>()),
            ],
        )
    }
}

impl JsonSchema for HealthCheckConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HealthCheck")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "Active health checks: grpc.health.v1 Check (grpc, grpcs) or a GET of `path` (http, https); failing targets leave the rotation.",
            &[],
            vec![
                (
                    "interval",
                    schema::duration("time between checks; default 5s"),
                ),
                ("timeout", schema::duration("limit for one check; default 1s")),
                (
                    "service",
                    schema::string("gRPC: the service asked about; default \"\" (the whole server)"),
                ),
                (
                    "path",
                    schema::pattern("HTTP: the path of the GET; default /", "^/"),
                ),
                (
                    "unhealthy_threshold",
                    schema::integer(
                        "failed checks in a row that take a healthy target out; default 1",
                        1,
                    ),
                ),
                (
                    "healthy_threshold",
                    schema::integer(
                        "passed checks in a row that bring a failing target back; default 1",
                        1,
                    ),
                ),
            ],
        )
    }
}

impl JsonSchema for UpstreamTls {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("UpstreamTls")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "TLS to the targets (grpcs and https upstreams).",
            &[],
            vec![
                (
                    "ca",
                    schema::file_path(
                        "CA bundle (PEM) to verify the upstream; default: the system roots",
                    ),
                ),
                (
                    "server_name",
                    schema::string("name to verify and send as SNI; default: the target's host"),
                ),
                (
                    "cert",
                    schema::file_path("client certificate (PEM) for mTLS; with `key`"),
                ),
                ("key", schema::file_path("client key (PEM); with `cert`")),
            ],
        )
    }
}
