//! The Generic Cell Rate Algorithm, sans IO: one number per limit and key,
//! the theoretical arrival time (TAT) of the next call.
//!
//! A limit of `requests` per `per` with `burst` gives each call an
//! `interval` (`per / requests`) and the budget a `capacity` of `burst`
//! intervals. A call is allowed when taking one more interval keeps the
//! TAT within `capacity` of now; it then moves the TAT on by one interval.
//! A full budget (TAT in the past) lets `burst` calls through at once, then
//! one per interval. The decision is exact: no window edges, no sampling.
//!
//! Times are ticks of any clock (nanoseconds in process, microseconds in
//! Redis, whose Lua script does the same arithmetic); the `Decision` read
//! back reports in the same ticks.

use crate::config::MAX_LIMITS;

/// One limit in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The ticks one call uses up (`per / requests`).
    pub interval: u64,
    /// The ticks the budget holds (`burst * interval`).
    pub capacity: u64,
}

impl Cell {
    /// A limit of one call per `interval` ticks, `burst` at once.
    pub fn new(interval: u64, burst: u64) -> Self {
        let interval = interval.max(1);
        Self {
            interval,
            capacity: interval.saturating_mul(burst.max(1)),
        }
    }
}

/// What every limit of a check said, for the answer's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Every limit had room: the call took one from each.
    pub allowed: bool,
    /// When refused: ticks until every refusing limit has room again.
    pub retry_after: u64,
    /// How many limits there are.
    pub len: usize,
    /// Per limit: calls still allowed right now.
    pub remaining: [u64; MAX_LIMITS],
    /// Per limit: ticks until its budget is full again.
    pub reset: [u64; MAX_LIMITS],
    /// Per limit: whether it refused.
    pub refused: [bool; MAX_LIMITS],
}

impl Decision {
    /// A decision with nothing to report (no limits, a failed store).
    pub fn allow_all() -> Self {
        Self {
            allowed: true,
            retry_after: 0,
            len: 0,
            remaining: [0; MAX_LIMITS],
            reset: [0; MAX_LIMITS],
            refused: [false; MAX_LIMITS],
        }
    }
}

/// The TAT after one more call on `cell`, and how long that call would
/// have to wait (0: allowed now).
pub fn take(cell: Cell, tat: u64, now: u64) -> (u64, u64) {
    let next = tat.max(now).saturating_add(cell.interval);
    let wait = (next - now).saturating_sub(cell.capacity);
    (next, wait)
}

/// Checks every limit of a call against its TAT in `tats` and, when all
/// allow, takes one call from each (updating `tats`). All or nothing.
pub fn check(cells: &[Cell], tats: &mut [u64], now: u64) -> Decision {
    let len = cells.len().min(tats.len()).min(MAX_LIMITS);
    let mut decision = Decision::allow_all();
    decision.len = len;
    let mut next = [0u64; MAX_LIMITS];
    for i in 0..len {
        let (after, wait) = take(cells[i], tats[i], now);
        next[i] = after;
        if wait > 0 {
            decision.allowed = false;
            decision.refused[i] = true;
            decision.retry_after = decision.retry_after.max(wait);
        }
    }
    if decision.allowed {
        tats[..len].copy_from_slice(&next[..len]);
    }
    report(cells, tats, now, &mut decision);
    decision
}

/// Fills `remaining` and `reset` from the TATs as they now stand.
pub fn report(cells: &[Cell], tats: &[u64], now: u64, decision: &mut Decision) {
    for i in 0..decision.len {
        let used = tats[i].saturating_sub(now);
        decision.remaining[i] = cells[i].capacity.saturating_sub(used) / cells[i].interval;
        decision.reset[i] = used;
    }
}

/// The latest TAT among `tats`: once past it, the key's budgets are all
/// full, which is the same as no record at all (so it can be forgotten).
pub fn expiry(tats: &[u64]) -> u64 {
    tats.iter().copied().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn ten_per_second_burst(burst: u64) -> Cell {
        Cell::new(SECOND / 10, burst)
    }

    #[test]
    fn the_burst_passes_then_one_per_interval() {
        let cells = [ten_per_second_burst(20)];
        let mut tats = [0u64];
        let now = 5 * SECOND;
        for n in 0..20 {
            let d = check(&cells, &mut tats, now);
            assert!(d.allowed, "call {n}");
            assert_eq!(d.remaining[0], 19 - n);
        }
        let refused = check(&cells, &mut tats, now);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, SECOND / 10);
        assert_eq!(refused.remaining[0], 0);
        assert_eq!(refused.reset[0], 2 * SECOND, "20 calls of 100 ms each");
        // One interval later exactly one more call fits.
        let later = now + SECOND / 10;
        assert!(check(&cells, &mut tats, later).allowed);
        assert!(!check(&cells, &mut tats, later).allowed);
    }

    #[test]
    fn every_limit_must_pass_and_a_refusal_takes_from_none() {
        // 10/s burst 20, and 3 per hour.
        let cells = [ten_per_second_burst(20), Cell::new(3600 * SECOND / 3, 3)];
        let mut tats = [0u64, 0];
        let now = SECOND;
        for _ in 0..3 {
            assert!(check(&cells, &mut tats, now).allowed);
        }
        let before = tats;
        let refused = check(&cells, &mut tats, now);
        assert!(!refused.allowed);
        assert_eq!(refused.refused[..2], [false, true]);
        assert_eq!(tats, before, "nothing taken from the limit that allowed");
        assert_eq!(refused.remaining[0], 17);
        assert_eq!(refused.retry_after, 1200 * SECOND);
    }

    #[test]
    fn a_full_budget_is_the_same_as_no_record() {
        let cells = [ten_per_second_burst(5)];
        let mut tats = [0u64];
        let now = 100 * SECOND;
        assert!(check(&cells, &mut tats, now).allowed);
        assert_eq!(expiry(&tats), now + SECOND / 10);
        let mut fresh = [0u64];
        let after = expiry(&tats) + 1;
        assert_eq!(
            check(&cells, &mut tats, after),
            check(&cells, &mut fresh, after)
        );
    }
}
