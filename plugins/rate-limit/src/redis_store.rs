//! Budgets shared by every gateway process through one Redis.
//!
//! One check is one `EVALSHA` of `gcra.lua`: every limit of the call is
//! checked and taken, or none is, atomically on the server, with the
//! server's clock (so gateways with skewed clocks agree). The call's keys
//! share a hash tag, so they live in one slot and the script also runs on
//! Redis Cluster.
//!
//! Connections: a pool of `pool_size` multiplexed connections, opened on
//! first use and chosen in turn; each reconnects by itself after an error.
//! A check is bounded by `timeout`; the [`Breaker`] keeps a dead Redis from
//! costing more than one timeout per `open_for`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::breaker::Breaker;
use crate::config::{Limit, RedisConfig};
use crate::gcra::{self, Cell, Decision};

/// Redis keys start with this.
const PREFIX: &str = "protogate:rl:";

/// Microseconds per second: the store's tick.
pub const TICKS_PER_SECOND: u64 = 1_000_000;

/// Why a check found no answer.
#[derive(Debug)]
pub enum StoreError {
    /// Redis did not answer within the timeout.
    Timeout,
    /// Redis answered with an error, or the connection failed.
    Failed(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("Redis did not answer in time"),
            Self::Failed(message) => write!(f, "Redis failed: {message}"),
        }
    }
}

/// The shared store of one `rate_limit`.
pub struct RedisStore {
    client: redis::Client,
    connections: Vec<OnceCell<ConnectionManager>>,
    next: AtomicUsize,
    script: redis::Script,
    cells: Vec<Cell>,
    /// `interval, capacity` per limit, the script's arguments.
    arguments: Vec<u64>,
    /// The key suffix of each limit (its signature).
    suffixes: Vec<String>,
    /// Everything before the call's key inside the hash tag.
    scope: String,
    timeout: Duration,
    /// The breaker in front of this store.
    pub breaker: Breaker,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("scope", &self.scope)
            .field("cells", &self.cells)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `limits` under `scope` (the route, or `global`). Opens
    /// nothing yet: connections are made on first use, inside the
    /// gateway's runtime.
    pub fn new(scope: &str, limits: &[Limit], config: &RedisConfig) -> Result<Self, String> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| e.to_string())?;
        let cells: Vec<Cell> = limits
            .iter()
            .map(|l| Cell::new(l.interval_nanos() / 1000, l.burst))
            .collect();
        let arguments = cells
            .iter()
            .flat_map(|c| [c.interval, c.capacity])
            .collect();
        Ok(Self {
            client,
            connections: (0..config.pool_size).map(|_| OnceCell::new()).collect(),
            next: AtomicUsize::new(0),
            script: redis::Script::new(include_str!("gcra.lua")),
            cells,
            arguments,
            suffixes: limits.iter().map(Limit::signature).collect(),
            scope: scope.to_owned(),
            timeout: config.timeout,
            breaker: Breaker::new(config.breaker_failures, config.breaker_open_for),
        })
    }

    /// The Redis key of one limit of `key`: `protogate:rl:{scope␟key}:sig`.
    pub fn redis_key(&self, key: &str, limit: usize) -> String {
        let suffix = self.suffixes.get(limit).map_or("", String::as_str);
        format!("{PREFIX}{{{}\u{1f}{key}}}:{suffix}", self.scope)
    }

    /// Checks and takes one call for `key` from every limit, within the
    /// timeout. Times in the decision are microseconds.
    pub async fn check(&self, key: &str) -> Result<Decision, StoreError> {
        match tokio::time::timeout(self.timeout, self.run_script(key)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout),
        }
    }

    async fn run_script(&self, key: &str) -> Result<Decision, StoreError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        for index in 0..self.cells.len() {
            invocation.key(self.redis_key(key, index));
        }
        for argument in &self.arguments {
            invocation.arg(*argument);
        }
        let reply: Vec<u64> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        self.decision(&reply)
    }

    /// Reads the script's reply (`allowed, now, tat...`).
    fn decision(&self, reply: &[u64]) -> Result<Decision, StoreError> {
        let [allowed, now, tats @ ..] = reply else {
            return Err(StoreError::Failed("short reply from the script".into()));
        };
        if tats.len() != self.cells.len() {
            return Err(StoreError::Failed("reply does not match the limits".into()));
        }
        let mut tats = tats.to_vec();
        if *allowed == 1 {
            let mut decision = Decision::allow_all();
            decision.len = self.cells.len();
            gcra::report(&self.cells, &tats, *now, &mut decision);
            Ok(decision)
        } else {
            // The same arithmetic as the script, on the TATs as they
            // stand: it refuses too, takes nothing, and says how long.
            let decision = gcra::check(&self.cells, &mut tats, *now);
            Ok(Decision {
                allowed: false,
                ..decision
            })
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        let manager = self.connections[index]
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        Ok(manager.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RedisStore {
        let limits = [Limit {
            name: "a".into(),
            requests: 10,
            per: Duration::from_secs(1),
            burst: 20,
        }];
        let config = RedisConfig {
            url: "redis://127.0.0.1:1/0".into(),
            timeout: Duration::from_millis(20),
            on_error: crate::config::OnError::Allow,
            pool_size: 2,
            breaker_failures: 3,
            breaker_open_for: Duration::from_secs(1),
            instances: 1,
        };
        RedisStore::new("orders", &limits, &config).expect("store")
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let store = store();
        assert_eq!(
            store.redis_key("10.0.0.1", 0),
            "protogate:rl:{orders\u{1f}10.0.0.1}:10/1000000000/20"
        );
    }

    #[test]
    fn replies_become_decisions() {
        let store = store();
        let now = 1_000_000_000;
        let allowed = store.decision(&[1, now, now + 100_000]).expect("decision");
        assert!(allowed.allowed);
        assert_eq!(allowed.remaining[0], 19);
        let refused = store
            .decision(&[0, now, now + 2_000_000])
            .expect("decision");
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, 100_000);
        assert!(store.decision(&[1]).is_err());
    }
}
