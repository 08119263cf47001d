//! What a Redis rate-limit check adds per call on loopback: latency
//! percentiles of `RedisStore::check` (one EVALSHA of the GCRA script over
//! two limits) against a real `redis-server` this bench starts on a free
//! port, next to a bare `PING` round trip on the same connection pool.
//! With 1, 16 and 64 concurrent callers on one runtime thread.
//! Run: `cargo bench -p protogate-plugin-rate-limit --bench redis_check`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use protogate_plugin_rate_limit::config::{Limit, OnError, RedisConfig};
use protogate_plugin_rate_limit::redis_store::RedisStore;
use protogate_testkit::RedisServer;

const CALLS: usize = 20_000;

fn limits() -> Vec<Limit> {
    ["fast", "hourly"]
        .into_iter()
        .zip([Duration::from_secs(1), Duration::from_secs(3600)])
        .map(|(name, per)| Limit {
            name: name.into(),
            requests: 1_000_000,
            per,
            burst: 1_000_000_000,
        })
        .collect()
}

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index].as_secs_f64() * 1e6
    };
    println!(
        "{label:<34} n={:<6} p50={:>7.1}µs p90={:>7.1}µs p99={:>7.1}µs p99.9={:>7.1}µs max={:>8.1}µs",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0)
    );
}

async fn run(store: Arc<RedisStore>, ping: redis::aio::ConnectionManager, concurrency: usize) {
    let per_worker = CALLS / concurrency;
    let mut checks = Vec::with_capacity(CALLS);
    let mut pings = Vec::with_capacity(CALLS);
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let store = Arc::clone(&store);
            let mut ping = ping.clone();
            tokio::spawn(async move {
                let mut checks = Vec::with_capacity(per_worker);
                let mut pings = Vec::with_capacity(per_worker);
                for n in 0..per_worker {
                    let key = format!("10.0.{}.{}", worker, n % 250);
                    let started = Instant::now();
                    let decision = store.check(&key).await.unwrap();
                    checks.push(started.elapsed());
                    assert!(decision.allowed);
                    let started = Instant::now();
                    let _: String = redis::cmd("PING").query_async(&mut ping).await.unwrap();
                    pings.push(started.elapsed());
                }
                (checks, pings)
            })
        })
        .collect();
    for worker in workers {
        let (c, p) = worker.await.unwrap();
        checks.extend(c);
        pings.extend(p);
    }
    percentiles(&format!("check, {concurrency} concurrent"), checks);
    percentiles(&format!("PING, {concurrency} concurrent"), pings);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let redis = RedisServer::start().await;
        let config = RedisConfig {
            url: redis.url(),
            timeout: Duration::from_secs(1),
            on_error: OnError::Allow,
            pool_size: 8,
            breaker_failures: 3,
            breaker_open_for: Duration::from_secs(1),
            instances: 1,
        };
        let store = Arc::new(RedisStore::new("bench", &limits(), &config).unwrap());
        let client = redis::Client::open(redis.url()).unwrap();
        let ping = redis::aio::ConnectionManager::new(client).await.unwrap();
        // Warm up: connections open, the script is loaded.
        for n in 0..1000 {
            store.check(&format!("warm{n}")).await.unwrap();
        }
        for concurrency in [1, 16, 64] {
            run(Arc::clone(&store), ping.clone(), concurrency).await;
        }
    });
}
