//! `server`: listeners, the admin endpoint and process-wide settings.
//!
//! Everything here is fixed for the life of the process (Pingora binds
//! listeners and threads once): a reload that changes it is refused, see
//! [`ServerConfig::same_settings`].

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::decode::{Decode, Spanned};
use crate::decoder::Decoder;
use crate::node::{Node, Span};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};

/// The `server` section.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Where the gateway accepts calls; at least one, no address twice.
    pub listen: Vec<ListenConfig>,
    /// The admin endpoint (`/metrics`, `/healthz`, `/readyz`); default `127.0.0.1:9901`.
    pub admin: SocketAddr,
    /// Worker threads; default: the machine's available parallelism.
    pub threads: usize,
    /// Drain time on SIGTERM; default 10s.
    pub grace_period: Duration,
    /// Concurrent streams per client HTTP/2 connection; default 1000.
    pub max_concurrent_streams: u32,
    /// Peers whose `X-Forwarded-For` is believed; default none.
    pub trusted_proxies: Vec<IpNet>,
    /// The Unix socket a graceful upgrade hands the listeners over
    /// (`protogate run --upgrade`); default `/tmp/protogate_upgrade.sock`.
    pub upgrade_sock: PathBuf,
}

/// One listener.
#[derive(Clone, Debug, PartialEq)]
pub struct ListenConfig {
    /// The IP address and port to bind.
    pub address: SocketAddr,
    /// TLS settings; `None` serves cleartext HTTP/1.1 and h2c.
    pub tls: Option<ListenerTls>,
    /// Where this listener's entry starts.
    pub span: Span,
}

/// A TLS listener's certificate, key and optional client CA (mTLS).
#[derive(Clone, Debug, PartialEq)]
pub struct ListenerTls {
    /// Server certificate chain (PEM), resolved against the config's directory.
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// The default admin address.
pub const DEFAULT_ADMIN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    9901,
));
/// The default drain time on SIGTERM.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// The default per-connection HTTP/2 stream limit.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1000;

/// Default `upgrade_sock`.
pub const DEFAULT_UPGRADE_SOCK: &str = "/tmp/protogate_upgrade.sock";

/// The default thread count: one per available CPU.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl ServerConfig {
    /// Whether `other` asks for the same process as `self`: same listeners
    /// (in order, with the same TLS files), admin address, threads, grace
    /// period, stream limit and trusted proxies. Positions in the file are
    /// ignored, so moving the section is not a change. A reload whose
    /// server settings differ needs a restart.
    pub fn same_settings(&self, other: &ServerConfig) -> bool {
        self.admin == other.admin
            && self.threads == other.threads
            && self.grace_period == other.grace_period
            && self.max_concurrent_streams == other.max_concurrent_streams
            && self.trusted_proxies == other.trusted_proxies
            && self.upgrade_sock == other.upgrade_sock
            && self.listen.len() == other.listen.len()
            && self
                .listen
                .iter()
                .zip(&other.listen)
                .all(|(a, b)| a.address == b.address && a.tls == b.tls)
    }

    /// What the model holds when `server` is missing or unreadable (the
    /// error is already recorded), so the rest of the file is still checked.
    pub(crate) fn placeholder() -> Self {
        ServerConfig {
            listen: Vec::new(),
            admin: DEFAULT_ADMIN,
            threads: default_threads(),
            grace_period: DEFAULT_GRACE_PERIOD,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            trusted_proxies: Vec::new(),
            upgrade_sock: PathBuf::from(DEFAULT_UPGRADE_SOCK),
        }
    }
}

/// Best effort: a `server` mapping always gives a value (bad settings keep
/// their defaults, bad listeners are left out), so later checks still run.
impl Decode for ServerConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "`server`")?;
        let listen = match f.node("listen") {
            None => {
                d.error(f.span(), path, "missing required key `listen`");
                Vec::new()
            }
            Some(list) => decode_listeners(list, &path.key("listen"), d),
        };
        let admin = f.optional(d, "admin").unwrap_or(DEFAULT_ADMIN);
        let threads = match f.optional::<Spanned<usize>>(d, "threads") {
            Some(t) if t.value == 0 => {
                d.error(t.span, &path.key("threads"), "must be at least 1");
                default_threads()
            }
            Some(t) => t.value,
            None => default_threads(),
        };
        let grace_period = f
            .optional(d, "grace_period")
            .unwrap_or(DEFAULT_GRACE_PERIOD);
        let max_concurrent_streams = match f.optional::<Spanned<u32>>(d, "max_concurrent_streams") {
            Some(m) if m.value == 0 => {
                d.error(
                    m.span,
                    &path.key("max_concurrent_streams"),
                    "must be at least 1",
                );
                DEFAULT_MAX_CONCURRENT_STREAMS
            }
            Some(m) => m.value,
            None => DEFAULT_MAX_CONCURRENT_STREAMS,
        };
        let trusted_proxies = f.optional(d, "trusted_proxies").unwrap_or_default();
        let upgrade_sock = f
            .optional(d, "upgrade_sock")
            .unwrap_or_else(|| PathBuf::from(DEFAULT_UPGRADE_SOCK));
        f.finish(d);
        Some(ServerConfig {
            listen,
            admin,
            threads,
            grace_period,
            max_concurrent_streams,
            trusted_proxies,
            upgrade_sock,
        })
    }
}

/// Reads `listen`: at least one listener, no address twice.
fn decode_listeners(list: &Node, path: &YamlPath, d: &mut Decoder) -> Vec<ListenConfig> {
    let Some(items) = list.as_seq() else {
        if list.is_null() {
            d.error(list.span, path, "at least one listener is required");
        } else {
            d.expected(list, path, "a sequence of listeners");
        }
        return Vec::new();
    };
    if items.is_empty() {
        d.error(list.span, path, "at least one listener is required");
    }
    let mut out: Vec<ListenConfig> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        let Some(listener) = ListenConfig::decode(item, &item_path, d) else {
            continue;
        };
        if let Some(first) = out.iter().find(|l| l.address == listener.address) {
            d.error(
                listener.span,
                &item_path.key("address"),
                format!(
                    "address `{}` is already used by the listener at line {}",
                    listener.address, first.span.line
                ),
            );
            continue;
        }
        out.push(listener);
    }
    out
}

impl Decode for ListenConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "a listener (`address`, `tls`)")?;
        let address = f.required(d, "address");
        let tls = f.optional(d, "tls");
        f.finish(d);
        Some(ListenConfig {
            address: address?,
            tls,
            span: node.span,
        })
    }
}

impl Decode for ListenerTls {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "listener `tls` (`cert`, `key`, `client_ca`)")?;
        let cert = f.required(d, "cert");
        let key = f.required(d, "key");
        let client_ca = f.optional(d, "client_ca");
        f.finish(d);
        Some(ListenerTls {
            cert: cert?,
            key: key?,
            client_ca,
        })
    }
}

impl JsonSchema for ServerConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Server")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "Listeners and process settings; a change needs a restart (or a graceful upgrade).",
            &["listen"],
            vec![
                (
                    "listen",
                    schema::non_empty_array(
                        "where the gateway accepts calls; no address twice",
                        g.subschema_for::<ListenConfig>(),
                    ),
                ),
                (
                    "admin",
                    schema::host_port(
                        "the admin endpoint (/metrics, /healthz, /readyz); default 127.0.0.1:9901",
                    ),
                ),
                (
                    "threads",
                    schema::integer("worker threads; default: one per CPU", 1),
                ),
                (
                    "grace_period",
                    schema::duration("drain time on SIGTERM; default 10s"),
                ),
                (
                    "max_concurrent_streams",
                    schema::integer("streams per client HTTP/2 connection; default 1000", 1),
                ),
                (
                    "trusted_proxies",
                    schema::array(
                        "peers whose X-Forwarded-For is believed (addresses or CIDR ranges)",
                        schema::string("an IP address or a CIDR range like 10.0.0.0/8"),
                    ),
                ),
                (
                    "upgrade_sock",
                    schema::file_path(
                        "the Unix socket of a graceful upgrade; default /tmp/protogate_upgrade.sock",
                    ),
                ),
            ],
        )
    }
}

impl JsonSchema for ListenConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Listener")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        schema::object(
            "One listener: cleartext HTTP/1.1 and h2c, or TLS with `tls`.",
            &["address"],
            vec![
                (
                    "address",
                    schema::host_port("the IP address and port to bind, like 0.0.0.0:8080"),
                ),
                ("tls", g.subschema_for::<ListenerTls>()),
            ],
        )
    }
}

impl JsonSchema for ListenerTls {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("ListenerTls")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "TLS on this listener (ALPN h2 and http/1.1); the files are read again on every reload.",
            &["cert", "key"],
            vec![
                (
                    "cert",
                    schema::file_path("the server certificate chain (PEM)"),
                ),
                ("key", schema::file_path("its private key (PEM)")),
                (
                    "client_ca",
                    schema::file_path(
                        "clients must present a certificate signed by this CA (mTLS)",
                    ),
                ),
            ],
        )
    }
}
