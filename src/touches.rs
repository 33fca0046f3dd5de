//! One refresh of a session's activity per touch interval and isolate, however many requests
//! see it due.
//!
//! A request decides that its session's activity (`seen:<id>`) is due for a refresh when the
//! activity it read is a touch interval old. Until that refresh is written *and* read back, every
//! request of the session decides the same: a burst of API calls in the few milliseconds a KV
//! write takes, or every request for up to 60 s where KV's per-location cache still serves the
//! old activity. Each would write the same key, and Workers KV allows one write per second per
//! key (more fail with 429) and bills every write. So an isolate remembers the refreshes it has
//! started and lets the next one through only a touch interval later; a refresh that failed is
//! forgotten, so the next request retries it. Other isolates refresh on their own, at most once
//! per interval each.
//!
//! Skipping a refresh loses nothing: the one already written slid the idle timeout at most a
//! touch interval ago, the lag the touch interval accepts by design.

use std::collections::HashMap;

/// Most refreshes one isolate remembers. An entry is a key of about 50 bytes and a time, so
/// this bounds the memory to a few hundred KiB; beyond it, entries whose interval has passed are
/// dropped, and if all are recent (more than this many sessions refreshed within one interval),
/// all are: the worst that does is one more write per session.
pub const CAPACITY: usize = 4096;

/// The refreshes this isolate started, by key, with the time each started.
#[derive(Debug, Default)]
pub struct RecentTouches {
    started_ms: HashMap<String, u64>,
}

impl RecentTouches {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a refresh of `key` may start at `now_ms`: none started within `interval_ms` of it.
    /// When it may, it is remembered as started.
    ///
    /// `now_ms` is the time the request began, and concurrent requests reach this point in any
    /// order: one that began a moment before the refresh was started, but read KV more slowly,
    /// arrives with an earlier time. So "within" counts both ways; only a clock that went back by
    /// a whole interval or more lets a refresh through early.
    pub fn admit(&mut self, key: &str, now_ms: u64, interval_ms: u64) -> bool {
        let recent = |started: u64| now_ms.abs_diff(started) < interval_ms;
        if self.started_ms.get(key).copied().is_some_and(recent) {
            return false;
        }
        if self.started_ms.len() >= CAPACITY && !self.started_ms.contains_key(key) {
            self.started_ms.retain(|_, started| recent(*started));
            if self.started_ms.len() >= CAPACITY {
                self.started_ms.clear();
            }
        }
        self.started_ms.insert(key.to_owned(), now_ms);
        true
    }

    /// Forgets the refresh of `key` (it failed: the next request due may try again).
    pub fn forget(&mut self, key: &str) {
        self.started_ms.remove(key);
    }

    pub fn len(&self) -> usize {
        self.started_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.started_ms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: u64 = 60_000;

    #[test]
    fn one_refresh_per_interval_and_key() {
        let mut touches = RecentTouches::new();
        assert!(touches.admit("seen:a", 1_000, INTERVAL));
        assert!(
            !touches.admit("seen:a", 1_001, INTERVAL),
            "a burst writes once"
        );
        assert!(!touches.admit("seen:a", 1_000 + INTERVAL - 1, INTERVAL));
        assert!(
            touches.admit("seen:b", 1_001, INTERVAL),
            "other sessions are independent"
        );
        assert!(
            touches.admit("seen:a", 1_000 + INTERVAL, INTERVAL),
            "due again an interval later"
        );
        assert!(!touches.admit("seen:a", 1_000 + INTERVAL + 5, INTERVAL));
    }

    #[test]
    fn a_failed_refresh_is_retried_by_the_next_request() {
        let mut touches = RecentTouches::new();
        assert!(touches.admit("seen:a", 1_000, INTERVAL));
        touches.forget("seen:a");
        assert!(touches.admit("seen:a", 1_010, INTERVAL));
    }

    #[test]
    fn a_request_that_began_before_the_refresh_started_is_held_back() {
        // Two concurrent requests: the later one's KV read answered first, so it started the
        // refresh; the earlier one arrives with an earlier time and must not write again.
        let mut touches = RecentTouches::new();
        let started = 10 * INTERVAL;
        assert!(touches.admit("seen:a", started, INTERVAL));
        assert!(!touches.admit("seen:a", started - 10, INTERVAL));
        assert!(!touches.admit("seen:a", started - INTERVAL + 1, INTERVAL));
    }

    #[test]
    fn a_clock_that_went_back_a_whole_interval_does_not_block_refreshes() {
        let mut touches = RecentTouches::new();
        assert!(touches.admit("seen:a", 10 * INTERVAL, INTERVAL));
        assert!(touches.admit("seen:a", 9 * INTERVAL, INTERVAL));
        assert!(
            !touches.admit("seen:a", 9 * INTERVAL + 1, INTERVAL),
            "and it restarts from there"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let mut touches = RecentTouches::new();
        for i in 0..CAPACITY as u64 {
            assert!(touches.admit(&format!("seen:{i}"), i, INTERVAL));
        }
        assert_eq!(touches.len(), CAPACITY);
        // Full of recent entries: all go, and the new key is remembered.
        assert!(touches.admit("seen:new", CAPACITY as u64, INTERVAL));
        assert_eq!(touches.len(), 1);
        assert!(!touches.admit("seen:new", CAPACITY as u64 + 1, INTERVAL));

        // Full with some entries past their interval: only those go.
        let mut touches = RecentTouches::new();
        for i in 0..CAPACITY as u64 {
            assert!(touches.admit(&format!("seen:{i}"), i * 100, INTERVAL));
        }
        let now = (CAPACITY as u64 - 1) * 100 + 1;
        assert!(touches.admit("seen:new", now, INTERVAL));
        let kept = touches.len();
        assert!(kept > 1 && kept < CAPACITY, "{kept}");
        assert!(
            !touches.admit(&format!("seen:{}", CAPACITY - 1), now, INTERVAL),
            "recent ones stay"
        );
        assert!(touches.admit("seen:0", now, INTERVAL), "old ones went");
    }
}
