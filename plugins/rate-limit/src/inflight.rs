//! The concurrency limit: at most N calls or streams in flight per key in
//! this process. A call holds a guard from its request hook until its
//! per-call state is dropped, when the call has ended for any reason.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 64;

/// In-flight counts per key.
pub struct Inflight {
    max: u32,
    shards: Box<[Mutex<HashMap<String, u32>>]>,
    hasher: RandomState,
}

impl std::fmt::Debug for Inflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflight").field("max", &self.max).finish()
    }
}

/// One call in flight; dropping it ends the call's share.
#[derive(Debug)]
pub struct InflightGuard {
    store: Arc<Inflight>,
    key: String,
}

impl Inflight {
    /// At most `max` calls in flight per key.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The limit.
    pub fn max(&self) -> u32 {
        self.max
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        match self.shards[index].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Admits one more call under `key`, or `None` when `max` are in flight.
    pub fn acquire(self: &Arc<Self>, key: &str) -> Option<InflightGuard> {
        let mut shard = self.shard(key);
        match shard.get_mut(key) {
            Some(count) if *count >= self.max => return None,
            Some(count) => *count += 1,
            None => {
                shard.insert(key.to_owned(), 1);
            }
        }
        drop(shard);
        Some(InflightGuard {
            store: Arc::clone(self),
            key: key.to_owned(),
        })
    }

    /// Calls in flight under `key`.
    pub fn current(&self, key: &str) -> u32 {
        self.shard(key).get(key).copied().unwrap_or(0)
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut shard = self.store.shard(&self.key);
        if let Some(count) = shard.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                shard.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_per_key_and_a_drop_frees_a_place() {
        let store = Arc::new(Inflight::new(2));
        let a = store.acquire("k").expect("first");
        let _b = store.acquire("k").expect("second");
        assert!(store.acquire("k").is_none());
        assert!(store.acquire("other").is_some());
        drop(a);
        assert_eq!(store.current("k"), 1);
        assert!(store.acquire("k").is_some());
    }
}
