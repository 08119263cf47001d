//! Budgets in this process: a sharded map from key to the TATs of every
//! limit, checked and taken under one shard lock (exact under any
//! concurrency: no check-then-increment race).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{Limit, MAX_LIMITS};
use crate::gcra::{self, Cell, Decision};

/// Shards: enough that two cores rarely meet on one lock.
const SHARDS: usize = 64;

/// A shard sweeps forgotten keys when it has grown to this many entries
/// (then to twice what the last sweep left), so sweeping costs O(1) per
/// call on average however many keys there are.
const FIRST_SWEEP: usize = 1024;

/// The in-process budgets of one `rate_limit`.
pub struct LocalStore {
    cells: Vec<Cell>,
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    epoch: Instant,
}

#[derive(Default)]
struct Shard {
    tats: HashMap<String, [u64; MAX_LIMITS]>,
    sweep_at: usize,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("cells", &self.cells)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Empty budgets (every key full) for `limits`.
    pub fn new(limits: &[Limit]) -> Self {
        let cells = limits
            .iter()
            .take(MAX_LIMITS)
            .map(|l| Cell::new(l.interval_nanos(), l.burst))
            .collect();
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    tats: HashMap::new(),
                    sweep_at: FIRST_SWEEP,
                })
            })
            .collect();
        Self {
            cells,
            shards,
            hasher: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// Now, in this store's nanoseconds.
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Checks `key` against every limit at `now` and takes one call from
    /// each when all allow. Times in the decision are nanoseconds.
    pub fn check(&self, key: &str, now: u64) -> Decision {
        let shard_index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        // A poisoned shard only means another call panicked mid-update of
        // plain numbers: the numbers are still usable.
        let mut shard = match self.shards[shard_index].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(tats) = shard.tats.get_mut(key) {
            return gcra::check(&self.cells, tats, now);
        }
        let mut tats = [0u64; MAX_LIMITS];
        let decision = gcra::check(&self.cells, &mut tats, now);
        if decision.allowed {
            shard.insert(key.to_owned(), tats, now);
        }
        decision
    }

    /// How many keys the store remembers (for tests and debugging).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.tats.len()).unwrap_or(0))
            .sum()
    }

    /// Whether the store remembers no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shard {
    fn insert(&mut self, key: String, tats: [u64; MAX_LIMITS], now: u64) {
        if self.tats.len() >= self.sweep_at {
            // A key whose TATs have all passed has full budgets: the same
            // as no record, so forgetting it changes no decision.
            self.tats.retain(|_, tats| gcra::expiry(tats) > now);
            self.sweep_at = (self.tats.len() * 2).max(FIRST_SWEEP);
        }
        self.tats.insert(key, tats);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn limit(requests: u64, per: Duration, burst: u64) -> Limit {
        Limit {
            name: "l".into(),
            requests,
            per,
            burst,
        }
    }

    #[test]
    fn keys_have_separate_budgets_and_refusals_store_nothing() {
        let store = LocalStore::new(&[limit(1, Duration::from_secs(60), 2)]);
        let now = store.now();
        assert!(store.check("a", now).allowed);
        assert!(store.check("a", now).allowed);
        assert!(!store.check("a", now).allowed);
        assert!(store.check("b", now).allowed);
        assert_eq!(store.len(), 2);
        let tight = LocalStore::new(&[]);
        assert!(tight.check("x", now).allowed, "no limits: allowed");
    }

    #[test]
    fn exact_under_concurrency() {
        let store = Arc::new(LocalStore::new(&[limit(
            100,
            Duration::from_secs(3600),
            100,
        )]));
        let now = store.now();
        let admitted: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    scope.spawn(move || (0..50).filter(|_| store.check("k", now).allowed).count())
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("worker")).sum()
        });
        assert_eq!(admitted, 100, "400 tries for a budget of 100");
    }

    #[test]
    fn forgotten_keys_are_swept() {
        let store = LocalStore::new(&[limit(1000, Duration::from_millis(1), 1)]);
        for n in 0..(FIRST_SWEEP * SHARDS * 2) {
            assert!(store.check(&format!("k{n}"), 0).allowed);
        }
        let before = store.len();
        let later = 10_000_000;
        for n in 0..(SHARDS * 64) {
            store.check(&format!("late{n}"), later);
        }
        assert!(store.len() < before, "{} !< {before}", store.len());
    }
}
