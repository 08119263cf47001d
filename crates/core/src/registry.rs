//! Process-wide state that outlives a config reload: a plugin built from
//! an unchanged config gets the same instance back (budgets, exporters),
//! while a changed one starts fresh. Entries die with their last user.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

/// Live instances by identity (a string naming what makes two equal).
pub struct Registry<T> {
    entries: Mutex<BTreeMap<String, Weak<T>>>,
}

impl<T> Registry<T> {
    /// An empty registry (for a `static`).
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// The live store under `identity`, or a new one from `make`.
    pub fn shared(&self, identity: String, make: impl FnOnce() -> T) -> Arc<T> {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.retain(|_, weak| weak.strong_count() > 0);
        if let Some(store) = entries.get(&identity).and_then(Weak::upgrade) {
            return store;
        }
        let store = Arc::new(make());
        entries.insert(identity, Arc::downgrade(&store));
        store
    }
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_hands_back_a_live_instance() {
        let registry: Registry<String> = Registry::new();
        let first = registry.shared("r".into(), || "a".to_owned());
        let again = registry.shared("r".into(), || "b".to_owned());
        assert!(Arc::ptr_eq(&first, &again));
        drop((first, again));
        let fresh = registry.shared("r".into(), || "c".to_owned());
        assert_eq!(*fresh, "c");
    }
}
