//! The `rate_limit` configuration block, checked when the config loads.

use std::borrow::Cow;
use std::time::Duration;

use http::HeaderName;
use protogate_core::schema::{self, json_schema, JsonSchema, Schema, SchemaGenerator};
use protogate_core::{Code, Decode, Decoder, Node, Spanned, Value, YamlPath};

/// Most limits one `rate_limit` may carry: a call's check keeps their
/// state in fixed arrays, so it allocates nothing for them.
pub const MAX_LIMITS: usize = 8;

/// `rate_limit: { key, limits, concurrency, store, redis, mode, grpc_status,
/// headers }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitConfig {
    /// What a budget belongs to, combined in order (default: `client_ip`).
    pub key: Vec<KeyPart>,
    /// Every limit must pass; a call takes from all of them or from none.
    pub limits: Vec<Limit>,
    /// At most this many calls or streams in flight per key (this process).
    pub concurrency: Option<u32>,
    /// Where the budgets live.
    pub store: Store,
    /// Whether refusals are enforced or only counted and logged.
    pub mode: Mode,
    /// The status gRPC callers get when refused: RESOURCE_EXHAUSTED (the
    /// default) or UNAVAILABLE (which clients retry).
    pub grpc_status: Code,
    /// Whether answers carry the `RateLimit` and `RateLimit-Policy` headers.
    pub headers: bool,
}

/// One part of a budget's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// The caller's address (X-Forwarded-For only from trusted proxies).
    ClientIp,
    /// A request header or gRPC metadata entry; callers without it share
    /// one budget.
    Header(HeaderName),
    /// The route's name.
    Route,
    /// `package.Service/Method` of a gRPC call (`unknown` for others).
    GrpcMethod,
}

impl std::fmt::Display for KeyPart {
    /// As the config writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientIp => f.write_str("client_ip"),
            Self::Header(name) => write!(f, "header:{name}"),
            Self::Route => f.write_str("route"),
            Self::GrpcMethod => f.write_str("grpc_method"),
        }
    }
}

/// `{ requests: 10, per: 1s, burst: 20, name: "..." }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Its name in headers, metrics and logs (default `10-per-1s`).
    pub name: String,
    /// Calls allowed per `per`, on average.
    pub requests: u64,
    /// The period of `requests`.
    pub per: Duration,
    /// Calls allowed at once from a full budget (default: `requests`).
    pub burst: u64,
}

impl Limit {
    /// The time one call uses up, in nanoseconds (at least 1).
    pub fn interval_nanos(&self) -> u64 {
        let nanos = self.per.as_nanos() / u128::from(self.requests.max(1));
        u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
    }

    /// This limit spread over `instances` processes: the same burst and
    /// period, a share of the requests (at least one).
    pub fn share(&self, instances: u32) -> Limit {
        let instances = u64::from(instances.max(1));
        Limit {
            name: self.name.clone(),
            requests: (self.requests / instances).max(1),
            per: self.per,
            burst: (self.burst / instances).max(1),
        }
    }

    /// What keys a budget in the shared store: a changed limit starts a
    /// fresh budget instead of misreading the old one.
    pub fn signature(&self) -> String {
        format!("{}/{}/{}", self.requests, self.per.as_nanos(), self.burst)
    }
}

/// `store: local | redis`.
#[derive(Clone, Debug, PartialEq)]
pub enum Store {
    /// In this process: no dependency, budgets per gateway process.
    Local,
    /// Shared by every gateway process through one Redis.
    Redis(RedisConfig),
}

/// `redis: { url, timeout, on_error, pool_size, breaker, instances }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RedisConfig {
    /// `redis://host:port/db` (or `rediss://` with TLS is refused for now).
    pub url: String,
    /// How long one check may take before `on_error` decides.
    pub timeout: Duration,
    /// What a call whose check failed gets.
    pub on_error: OnError,
    /// Connections kept open to Redis.
    pub pool_size: usize,
    /// Failures in a row that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before one call probes Redis.
    pub breaker_open_for: Duration,
    /// Gateway processes sharing the budget: while the breaker is open,
    /// each enforces `1/instances` of every limit locally.
    pub instances: u32,
}

/// `on_error: allow | deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Let the call through (fail open).
    Allow,
    /// Refuse the call (fail closed).
    Deny,
}

/// `mode: enforce | shadow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refuse calls over the limit.
    Enforce,
    /// Count and log what would be refused; refuse nothing.
    Shadow,
}

/// The Redis defaults: 20 ms per check, fail open, 8 connections, the
/// breaker opens after 3 failures for 1 s.
const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(20);

impl Decode for RateLimitConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut fields = d.fields(node, path, "the rate_limit plugin")?;
        let span = fields.span();
        let key = match fields.entry("key") {
            None => Some(vec![KeyPart::ClientIp]),
            Some((_, node)) => decode_key(node, &path.key("key"), d),
        };
        let limits = match fields.entry("limits") {
            None => Some(Vec::new()),
            Some((_, node)) => decode_limits(node, &path.key("limits"), d),
        };
        let concurrency = fields.optional::<u32>(d, "concurrency");
        let store_name = fields.optional::<Spanned<String>>(d, "store");
        let redis = fields
            .entry("redis")
            .map(|(span, node)| (span, decode_redis(node, &path.key("redis"), d)));
        let mode = match fields.node("mode") {
            None => Some(Mode::Enforce),
            Some(node) => d.keyword(node, &path.key("mode"), "mode", MODES),
        };
        let grpc_status = match fields.node("grpc_status") {
            None => Some(Code::ResourceExhausted),
            Some(node) => d.keyword(node, &path.key("grpc_status"), "grpc_status", GRPC_STATUSES),
        };
        let headers = fields.optional::<bool>(d, "headers").unwrap_or(true);
        fields.finish(d);

        let store = decode_store(store_name, redis, path, d);
        let (key, limits, mode, grpc_status) = (key?, limits?, mode?, grpc_status?);
        if concurrency == Some(0) {
            d.error(
                span,
                &path.key("concurrency"),
                "concurrency must be at least 1",
            );
            return None;
        }
        if limits.is_empty() && concurrency.is_none() {
            d.error(
                span,
                path,
                "a rate_limit needs `limits`, `concurrency`, or both",
            );
            return None;
        }
        let store = store?;
        Some(Self {
            key,
            limits,
            concurrency,
            store,
            mode,
            grpc_status,
            headers,
        })
    }
}

/// The `mode` keywords: what the decoder accepts and the schema lists.
const MODES: &[(&str, Mode)] = &[("enforce", Mode::Enforce), ("shadow", Mode::Shadow)];

/// The `grpc_status` keywords: what the decoder accepts and the schema lists.
const GRPC_STATUSES: &[(&str, Code)] = &[
    ("resource_exhausted", Code::ResourceExhausted),
    ("unavailable", Code::Unavailable),
];

/// The `store` names: what the decoder accepts and the schema lists.
const STORES: &[&str] = &["local", "redis"];

/// `store: local | redis`, and the `redis` block that only `redis` takes.
fn decode_store(
    store_name: Option<Spanned<String>>,
    redis: Option<(protogate_core::Span, Option<RedisConfig>)>,
    path: &YamlPath,
    d: &mut Decoder,
) -> Option<Store> {
    Some(match (store_name, redis) {
        (None, None) => Store::Local,
        (Some(name), redis) if name.value == "local" => {
            if let Some((span, _)) = redis {
                d.error(
                    span,
                    &path.key("redis"),
                    "`redis` settings need `store: redis`",
                );
                return None;
            }
            Store::Local
        }
        (Some(name), Some((_, redis))) if name.value == "redis" => Store::Redis(redis?),
        (Some(name), None) if name.value == "redis" => {
            d.error(
                name.span,
                &path.key("store"),
                "`store: redis` needs a `redis` block with at least `url`",
            );
            return None;
        }
        (None, Some((span, _))) => {
            d.error(
                span,
                &path.key("redis"),
                "`redis` settings need `store: redis`",
            );
            return None;
        }
        (Some(name), _) => {
            d.error(
                name.span,
                &path.key("store"),
                format!(
                    "unknown store `{}`; expected one of: {}",
                    name.value,
                    STORES.join(", ")
                ),
            );
            return None;
        }
    })
}

/// `key: [client_ip, "header:x-api-key", route, grpc_method]` (a single
/// part may be written without the list).
fn decode_key(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Vec<KeyPart>> {
    let items: Vec<Spanned<String>> = match node.value {
        Value::String(_) => vec![Spanned::<String>::decode(node, path, d)?],
        _ => Vec::<Spanned<String>>::decode(node, path, d)?,
    };
    if items.is_empty() {
        d.error(node.span, path, "the key needs at least one part");
        return None;
    }
    let mut parts = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        match key_part(&item.value) {
            Ok(part) if parts.contains(&part) => {
                d.error(item.span, &at, format!("`{}` is named twice", item.value));
                ok = false;
            }
            Ok(part) => parts.push(part),
            Err(message) => {
                d.error(item.span, &at, message);
                ok = false;
            }
        }
    }
    ok.then_some(parts)
}

/// The key parts written as one word (`header:NAME` aside): what the
/// decoder accepts and the schema lists.
const KEY_WORDS: &[(&str, KeyPart)] = &[
    ("client_ip", KeyPart::ClientIp),
    ("route", KeyPart::Route),
    ("grpc_method", KeyPart::GrpcMethod),
];

fn key_part(text: &str) -> Result<KeyPart, String> {
    if let Some((_, part)) = KEY_WORDS.iter().find(|(word, _)| *word == text) {
        return Ok(part.clone());
    }
    match text.strip_prefix("header:") {
        Some(name) if !name.is_empty() => HeaderName::from_bytes(name.as_bytes())
            .map(KeyPart::Header)
            .map_err(|_| format!("`{name}` is not a header name")),
        _ => Err(format!(
            "unknown key part `{text}`; expected one of: client_ip, header:NAME, route, grpc_method"
        )),
    }
}

fn decode_limits(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Vec<Limit>> {
    let Value::Seq(items) = &node.value else {
        d.expected(node, path, "a list of limits");
        return None;
    };
    if items.len() > MAX_LIMITS {
        d.error(
            node.span,
            path,
            format!("at most {MAX_LIMITS} limits per rate_limit"),
        );
        return None;
    }
    let mut limits: Vec<Limit> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let at = path.index(index);
        match decode_limit(item, &at, d) {
            Some(limit) if limits.iter().any(|l| l.name == limit.name) => {
                d.error(
                    item.span,
                    &at,
                    format!("two limits are named `{}`: give one a `name`", limit.name),
                );
                ok = false;
            }
            Some(limit) => limits.push(limit),
            None => ok = false,
        }
    }
    ok.then_some(limits)
}

fn decode_limit(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Limit> {
    let mut fields = d.fields(node, path, "a limit")?;
    let span = fields.span();
    let requests = fields.required::<Spanned<u64>>(d, "requests");
    let per = fields.required::<Spanned<Duration>>(d, "per");
    let burst = fields.optional::<Spanned<u64>>(d, "burst");
    let name = fields.optional::<String>(d, "name");
    fields.finish(d);
    let (requests, per) = (requests?, per?);
    if requests.value == 0 {
        d.error(
            requests.span,
            &path.key("requests"),
            "requests must be at least 1",
        );
        return None;
    }
    if per.value.is_zero() {
        d.error(per.span, &path.key("per"), "per must be longer than zero");
        return None;
    }
    if let Some(Spanned { value: 0, span }) = burst {
        d.error(span, &path.key("burst"), "burst must be at least 1");
        return None;
    }
    let (requests, per, burst) = (requests.value, per.value, burst.map(|b| b.value));
    if per.as_micros() < u128::from(requests) {
        d.error(
            span,
            path,
            "more than one request per microsecond is not a limit protogate can keep",
        );
        return None;
    }
    let name = name.unwrap_or_else(|| format!("{requests}-per-{}", short_duration(per)));
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        d.error(
            span,
            &path.key("name"),
            "a limit's name is visible ASCII without quotes or backslashes",
        );
        return None;
    }
    Some(Limit {
        name,
        requests,
        per,
        burst: burst.unwrap_or(requests),
    })
}

/// `1s`, `5m`, `1h`, `250ms`: how a default limit name writes its period.
pub fn short_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    if duration.subsec_nanos() == 0 && seconds > 0 {
        if seconds.is_multiple_of(3600) {
            return format!("{}h", seconds / 3600);
        }
        if seconds.is_multiple_of(60) {
            return format!("{}m", seconds / 60);
        }
        return format!("{seconds}s");
    }
    if Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX)) == duration {
        return format!("{millis}ms");
    }
    format!("{}us", duration.as_micros())
}

fn decode_redis(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<RedisConfig> {
    let mut fields = d.fields(node, path, "the redis settings")?;
    let url = fields.required::<Spanned<String>>(d, "url");
    let timeout = fields
        .optional::<Duration>(d, "timeout")
        .unwrap_or(DEFAULT_REDIS_TIMEOUT);
    let on_error = match fields.node("on_error") {
        None => Some(OnError::Allow),
        Some(node) => d.keyword(node, &path.key("on_error"), "on_error", ON_ERRORS),
    };
    let pool_size = fields.optional::<usize>(d, "pool_size").unwrap_or(8);
    let breaker = match fields.entry("breaker") {
        None => Some((3, Duration::from_secs(1))),
        Some((_, node)) => decode_breaker(node, &path.key("breaker"), d),
    };
    let instances = fields.optional::<u32>(d, "instances").unwrap_or(1);
    fields.finish(d);
    let url = url?;
    if let Err(error) = redis::Client::open(url.value.as_str()) {
        d.error(
            url.span,
            &path.key("url"),
            format!("not a Redis URL: {error}"),
        );
        return None;
    }
    if !url.value.starts_with("redis://") && !url.value.starts_with("unix://") {
        d.error(
            url.span,
            &path.key("url"),
            "use a redis:// or unix:// URL (TLS to Redis is not available in this version)",
        );
        return None;
    }
    if timeout.is_zero() || pool_size == 0 || instances == 0 {
        d.error(
            node.span,
            path,
            "timeout, pool_size and instances must be more than zero",
        );
        return None;
    }
    let (breaker_failures, breaker_open_for) = breaker?;
    Some(RedisConfig {
        url: url.value,
        timeout,
        on_error: on_error?,
        pool_size,
        breaker_failures,
        breaker_open_for,
        instances,
    })
}

/// The `on_error` keywords: what the decoder accepts and the schema lists.
const ON_ERRORS: &[(&str, OnError)] = &[("allow", OnError::Allow), ("deny", OnError::Deny)];

/// `breaker: { failures: 3, open_for: 1s }`.
fn decode_breaker(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<(u32, Duration)> {
    let mut fields = d.fields(node, path, "the breaker settings")?;
    let failures = fields.optional::<u32>(d, "failures").unwrap_or(3);
    let open_for = fields
        .optional::<Duration>(d, "open_for")
        .unwrap_or(Duration::from_secs(1));
    fields.finish(d);
    if failures == 0 || open_for.is_zero() {
        d.error(
            node.span,
            path,
            "failures and open_for must be more than zero",
        );
        return None;
    }
    Some((failures, open_for))
}

/// A whole number from `min` to `u32::MAX` (what a `u32` setting takes).
fn whole_u32(description: &str, min: u64) -> Schema {
    let mut schema = schema::integer(description, min);
    schema.insert("maximum".to_owned(), u32::MAX.into());
    schema
}

impl JsonSchema for RateLimitConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("RateLimit")
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let key_part = g.subschema_for::<KeyPart>();
        let mut key_list =
            schema::non_empty_array("parts combined in order, each once", key_part.clone());
        key_list.insert("uniqueItems".to_owned(), true.into());
        let mut limits = schema::array(
            "every limit must pass; a call takes from all of them or from none",
            g.subschema_for::<Limit>(),
        );
        limits.insert("maxItems".to_owned(), MAX_LIMITS.into());
        let mut schema = schema::object(
            "Rate and concurrency limits per key; needs `limits`, `concurrency`, or both.",
            &[],
            vec![
                (
                    "key",
                    schema::any_of(
                        "what a budget belongs to: client_ip, header:NAME, route, grpc_method, combined in order; default client_ip",
                        vec![key_part, key_list],
                    ),
                ),
                ("limits", limits),
                (
                    "concurrency",
                    whole_u32(
                        "at most this many calls or streams in flight per key, in this process; default off",
                        1,
                    ),
                ),
                (
                    "store",
                    schema::keyword(
                        "where budgets live: local (this process) or redis (shared; needs `redis`); default local",
                        STORES,
                    ),
                ),
                ("redis", g.subschema_for::<RedisConfig>()),
                (
                    "mode",
                    schema::keyword_of(
                        "enforce, or shadow (count and log what would be refused, refuse nothing); default enforce",
                        MODES,
                    ),
                ),
                (
                    "grpc_status",
                    schema::keyword_of(
                        "the code refused gRPC callers get (unavailable: clients retry); default resource_exhausted",
                        GRPC_STATUSES,
                    ),
                ),
                (
                    "headers",
                    schema::boolean(
                        "RateLimit and RateLimit-Policy on every answer (metadata for gRPC); default true",
                    ),
                ),
            ],
        );
        // The decoder's "needs `limits`, `concurrency`, or both" (as keys:
        // that `limits` is not empty is left to the decoder).
        schema.insert(
            "anyOf".to_owned(),
            vec![
                json_schema!({ "required": ["limits"] }).to_value(),
                json_schema!({ "required": ["concurrency"] }).to_value(),
            ]
            .into(),
        );
        // `redis` goes with `store: redis`, and only with it.
        schema.insert(
            "if".to_owned(),
            json_schema!({
                "required": ["store"],
                "properties": { "store": { "const": "redis" } },
            })
            .to_value(),
        );
        schema.insert(
            "then".to_owned(),
            json_schema!({ "required": ["redis"] }).to_value(),
        );
        schema.insert(
            "else".to_owned(),
            json_schema!({ "not": { "required": ["redis"] } }).to_value(),
        );
        schema
    }
}

impl JsonSchema for KeyPart {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("RateLimitKeyPart")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::any_of(
            "one part of a budget's key",
            vec![
                schema::keyword_of(
                    "client_ip (the caller's address), route (the route's name), grpc_method (package.Service/Method)",
                    KEY_WORDS,
                ),
                schema::pattern(
                    "header:NAME, a request header or gRPC metadata entry (callers without it share one budget)",
                    r"^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                ),
            ],
        )
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("RateLimitLimit")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "One limit: `requests` per `per` on average, `burst` at once from a full budget.",
            &["requests", "per"],
            vec![
                (
                    "requests",
                    schema::integer("calls allowed per `per`, on average", 1),
                ),
                (
                    "per",
                    schema::duration("the period of `requests`, like 1s or 1h"),
                ),
                (
                    "burst",
                    schema::integer("calls allowed at once from a full budget; default `requests`", 1),
                ),
                (
                    "name",
                    schema::pattern(
                        "its name in headers, metrics and logs (visible ASCII, no quotes or backslashes); default like 10-per-1s",
                        r"^[!#-\[\]-~]+$",
                    ),
                ),
            ],
        )
    }
}

impl JsonSchema for RedisConfig {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("RateLimitRedis")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::object(
            "The Redis that `store: redis` shares budgets through.",
            &["url"],
            vec![
                (
                    "url",
                    schema::pattern(
                        "redis://host:port/db or unix:///path (no TLS yet)",
                        "^(redis|unix)://",
                    ),
                ),
                (
                    "timeout",
                    schema::duration("how long one check may take before `on_error` decides; default 20ms"),
                ),
                (
                    "on_error",
                    schema::keyword_of(
                        "what a call whose check failed gets: allow (fail open) or deny (fail closed); default allow",
                        ON_ERRORS,
                    ),
                ),
                (
                    "pool_size",
                    schema::integer("multiplexed connections kept open to Redis; default 8", 1),
                ),
                (
                    "breaker",
                    schema::object(
                        "the circuit breaker: while open, calls use a local share of each limit",
                        &[],
                        vec![
                            (
                                "failures",
                                whole_u32("failures in a row that open the breaker; default 3", 1),
                            ),
                            (
                                "open_for",
                                schema::duration(
                                    "how long it stays open before one call probes Redis; default 1s",
                                ),
                            ),
                        ],
                    ),
                ),
                (
                    "instances",
                    whole_u32(
                        "gateway processes sharing the budget: while the breaker is open each enforces 1/instances of every limit; default 1",
                        1,
                    ),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations_read_as_written() {
        assert_eq!(short_duration(Duration::from_secs(1)), "1s");
        assert_eq!(short_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(short_duration(Duration::from_secs(120)), "2m");
        assert_eq!(short_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(short_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn a_share_keeps_at_least_one_call() {
        let limit = Limit {
            name: "x".into(),
            requests: 10,
            per: Duration::from_secs(1),
            burst: 3,
        };
        let share = limit.share(4);
        assert_eq!((share.requests, share.burst), (2, 1));
        assert_eq!(limit.interval_nanos(), 100_000_000);
    }
}
