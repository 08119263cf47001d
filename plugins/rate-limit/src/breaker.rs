//! A circuit breaker around the Redis store, sans IO: callers pass the
//! time. After `failures` failed checks in a row it opens for `open_for`;
//! meanwhile calls use the local fallback. Then one call probes Redis
//! (half open) while the others keep to the fallback: a dead Redis costs
//! one timeout per `open_for`, not one per call.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a call should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Ask Redis.
    Redis,
    /// Ask Redis as the one probe of a half-open breaker.
    Probe,
    /// Use the local fallback: the breaker is open, or a probe is out.
    Fallback,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    Probing,
}

/// The breaker of one Redis-backed limit.
#[derive(Debug)]
pub struct Breaker {
    failures_to_open: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(failures_to_open: u32, open_for: Duration) -> Self {
        Self {
            failures_to_open: failures_to_open.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Where the call at `now` should go.
    pub fn route(&self, now: Instant) -> Route {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Route::Redis,
            State::Open { until } if now >= until => {
                *state = State::Probing;
                Route::Probe
            }
            State::Open { .. } | State::Probing => Route::Fallback,
        }
    }

    /// Records how a Redis check went. Returns `Some(open)` when the
    /// breaker changed between open and closed.
    pub fn record(&self, ok: bool, now: Instant) -> Option<bool> {
        let mut state = self.lock();
        let before_open = !matches!(*state, State::Closed { .. });
        *state = match (*state, ok) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.failures_to_open => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            (_, false) => State::Open {
                until: now + self.open_for,
            },
        };
        let after_open = !matches!(*state, State::Closed { .. });
        (before_open != after_open).then_some(after_open)
    }

    /// Whether calls go to the fallback right now.
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_probes_once_and_closes_on_success() {
        let breaker = Breaker::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(breaker.route(t0), Route::Redis);
        assert_eq!(breaker.record(false, t0), None, "one failure: still closed");
        assert_eq!(
            breaker.record(false, t0),
            Some(true),
            "second failure opens"
        );
        assert_eq!(breaker.route(t0), Route::Fallback);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(breaker.route(later), Route::Probe);
        assert_eq!(breaker.route(later), Route::Fallback, "one probe at a time");
        assert_eq!(
            breaker.record(false, later),
            None,
            "probe failed: open again"
        );
        assert_eq!(breaker.route(later), Route::Fallback);
        let again = later + Duration::from_secs(1);
        assert_eq!(breaker.route(again), Route::Probe);
        assert_eq!(breaker.record(true, again), Some(false), "probe succeeded");
        assert_eq!(breaker.route(again), Route::Redis);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breaker = Breaker::new(2, Duration::from_secs(1));
        let now = Instant::now();
        breaker.record(false, now);
        breaker.record(true, now);
        assert_eq!(breaker.record(false, now), None);
        assert!(!breaker.is_open());
    }
}
