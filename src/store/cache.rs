//! What an isolate remembers between requests: recent session reads (the optional session cache)
//! and the refreshes it started (so a session's idle expiry is written once per interval).
//!
//! **The session cache** (`SESSION_CACHE_TTL_MS`, off by default). Off, every authenticated
//! request loads its session from the store, so a session ended anywhere is refused as soon as the
//! store shows it. On, an isolate reuses a session it loaded for that long, which takes the store
//! read off a burst of requests with the same cookie. The price is bounded and documented: a
//! session ended *through another isolate* may still be accepted here until the entry is that old.
//! Ends that go through this isolate drop its entries at once, and expiry, the idle timeout and the
//! user-agent binding are still checked on every request. Only sessions the gate loads after the
//! cookie's signature verified reach it, so an unauthenticated client can neither fill the cache
//! nor probe it, and a session that was not found is never cached (one created elsewhere moments
//! ago must not be refused for the whole TTL).
//!
//! **Refresh memory.** A request decides that its session's idle expiry is due for a refresh when
//! the activity it read is a refresh interval old. Until that refresh is written *and* read back,
//! every request of the session decides the same: a burst of API calls in the few milliseconds a
//! write takes, or every request for up to 60 s where KV's per-location cache still serves the old
//! activity. Workers KV allows one write per second per key and bills every write, so an isolate
//! remembers the refreshes it started and lets the next one through only an interval later; a
//! refresh that failed is forgotten, so the next request retries it. Skipping a refresh loses
//! nothing: the one already written slid the idle timeout at most an interval ago.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use super::{Ending, Indexed, Loaded, Refresh, SessionList, SessionStore, StoreError};
use crate::session::{Activity, SessionId, SessionRecord};

/// Most sessions one isolate's cache keeps. Records longer than 8 KiB are refused, so this
/// bounds the cache to about 8 MiB in the worst case and far less in practice. When full, the
/// oldest entry goes first.
pub const CACHE_CAPACITY: usize = 1024;

/// Longest allowed `SESSION_CACHE_TTL_MS`: well inside KV's own propagation delay between
/// locations (up to 60 s), so the cache never becomes the slowest path for a revocation.
pub const MAX_CACHE_TTL_MS: u64 = 30_000;

/// Most refreshes one isolate remembers. An entry is an id of about 43 bytes and a time, so this
/// bounds the memory to a few hundred KiB; beyond it, entries whose interval has passed are
/// dropped, and if all are recent, all are: the worst that does is one more write per session.
pub const REFRESH_MEMORY_CAPACITY: usize = 4096;

struct Entry {
    record: SessionRecord,
    stored_at_ms: u64,
}

/// Sessions loaded recently, at most [`CACHE_CAPACITY`], each reused for `ttl_ms` after it was
/// read from the store.
pub struct SessionCache {
    ttl_ms: u64,
    entries: HashMap<String, Entry>,
    /// Ids in insertion order, with their insertion times: every entry has the same TTL, so the
    /// front is always the entry that expires first. Ids replaced or forgotten since leave stale
    /// pairs here, recognised by a time that no longer matches their entry.
    order: VecDeque<(String, u64)>,
}

impl SessionCache {
    /// A cache keeping each session for `ttl_ms` (0: keeps nothing).
    pub fn new(ttl_ms: u64) -> Self {
        SessionCache {
            ttl_ms,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether the cache keeps anything.
    pub fn is_enabled(&self) -> bool {
        self.ttl_ms > 0
    }

    /// The session `id` as loaded less than the TTL ago. A clock that went backwards counts as
    /// expired.
    pub fn lookup(&self, id: &SessionId, now_ms: u64) -> Option<SessionRecord> {
        let entry = self.entries.get(id.as_str())?;
        let age = now_ms.checked_sub(entry.stored_at_ms)?;
        (age < self.ttl_ms).then(|| entry.record.clone())
    }

    /// Remembers the session `id` as loaded at `now_ms`.
    pub fn remember(&mut self, id: &SessionId, record: &SessionRecord, now_ms: u64) {
        if !self.is_enabled() {
            return;
        }
        self.evict(now_ms);
        let key = id.as_str().to_owned();
        self.order.push_back((key.clone(), now_ms));
        self.entries.insert(
            key,
            Entry {
                record: record.clone(),
                stored_at_ms: now_ms,
            },
        );
    }

    /// Applies a refresh written by this isolate to a cached session (its entry keeps its age).
    pub fn apply_refresh(&mut self, id: &SessionId, activity: Activity) {
        if let Some(entry) = self.entries.get_mut(id.as_str()) {
            entry.record = entry.record.clone().with_activity(Some(activity));
        }
    }

    /// Drops the session `id` (it was ended, or is being ended).
    pub fn forget(&mut self, id: &SessionId) {
        self.entries.remove(id.as_str());
    }

    /// Drops every cached session of `user`.
    pub fn forget_user(&mut self, user: &str) {
        self.entries.retain(|_, entry| entry.record.user != user);
    }

    /// Drops expired entries, then the oldest ones while there is no room for one more.
    fn evict(&mut self, now_ms: u64) {
        while let Some((key, stored_at_ms)) = self.order.front() {
            let current = self
                .entries
                .get(key)
                .is_some_and(|e| e.stored_at_ms == *stored_at_ms);
            let expired = now_ms.saturating_sub(*stored_at_ms) >= self.ttl_ms;
            if current && !expired && self.entries.len() < CACHE_CAPACITY {
                break;
            }
            if current {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
        // Reloads of sessions behind a live front entry leave stale pairs that the loop above
        // does not reach: compact when they outnumber the entries, so the queue stays bounded.
        if self.order.len() > 2 * CACHE_CAPACITY {
            let entries = &self.entries;
            self.order
                .retain(|(key, at)| entries.get(key).is_some_and(|e| e.stored_at_ms == *at));
        }
    }
}

/// The refreshes this isolate started, by session id, with the time each started.
#[derive(Debug, Default)]
pub struct RecentRefreshes {
    started_ms: HashMap<String, u64>,
}

impl RecentRefreshes {
    /// Whether a refresh of `id` may start at `now_ms`: none started within `interval_ms` of it.
    /// When it may, it is remembered as started.
    ///
    /// `now_ms` is the time the request began, and concurrent requests reach this point in any
    /// order: one that began a moment before the refresh was started, but read the store more
    /// slowly, arrives with an earlier time. So "within" counts both ways; only a clock that went
    /// back by a whole interval or more lets a refresh through early.
    pub fn admit(&mut self, id: &SessionId, now_ms: u64, interval_ms: u64) -> bool {
        let recent = |started: u64| now_ms.abs_diff(started) < interval_ms;
        if self
            .started_ms
            .get(id.as_str())
            .copied()
            .is_some_and(recent)
        {
            return false;
        }
        if self.started_ms.len() >= REFRESH_MEMORY_CAPACITY
            && !self.started_ms.contains_key(id.as_str())
        {
            self.started_ms.retain(|_, started| recent(*started));
            if self.started_ms.len() >= REFRESH_MEMORY_CAPACITY {
                self.started_ms.clear();
            }
        }
        self.started_ms.insert(id.as_str().to_owned(), now_ms);
        true
    }

    /// Forgets the refresh of `id` (it failed: the next request due may try again).
    pub fn forget(&mut self, id: &SessionId) {
        self.started_ms.remove(id.as_str());
    }
}

/// What an isolate keeps between requests: its session cache and its refresh memory.
pub struct IsolateMemory {
    cache: RefCell<SessionCache>,
    refreshes: RefCell<RecentRefreshes>,
    refresh_interval_ms: u64,
}

impl IsolateMemory {
    /// Memory for an isolate whose sessions are cached for `cache_ttl_ms` (0: not at all) and
    /// refreshed at most once per `refresh_interval_ms`.
    pub fn new(cache_ttl_ms: u64, refresh_interval_ms: u64) -> Self {
        IsolateMemory {
            cache: RefCell::new(SessionCache::new(cache_ttl_ms)),
            refreshes: RefCell::new(RecentRefreshes::default()),
            refresh_interval_ms,
        }
    }
}

/// A [`SessionStore`] that answers loads from an isolate's [`SessionCache`] when it can, keeps the
/// cache in step with its own refreshes and ends, and runs at most one refresh per session and
/// interval. Made per request (`now_ms` is the request's time); the memory outlives it.
pub struct CachedSessions<'a, S> {
    inner: &'a S,
    memory: &'a IsolateMemory,
    now_ms: u64,
}

impl<'a, S: SessionStore> CachedSessions<'a, S> {
    /// `inner` behind `memory`, for a request at `now_ms`.
    pub fn new(inner: &'a S, memory: &'a IsolateMemory, now_ms: u64) -> Self {
        CachedSessions {
            inner,
            memory,
            now_ms,
        }
    }
}

impl<S: SessionStore> SessionStore for CachedSessions<'_, S> {
    async fn load(&self, id: &SessionId) -> Result<Loaded, StoreError> {
        if let Some(record) = self.memory.cache.borrow().lookup(id, self.now_ms) {
            return Ok(Loaded::Found(record));
        }
        let loaded = self.inner.load(id).await?;
        if let Loaded::Found(record) = &loaded {
            self.memory
                .cache
                .borrow_mut()
                .remember(id, record, self.now_ms);
        }
        Ok(loaded)
    }

    // Pass-throughs hand back the inner store's own futures (no wrapper state machine).
    fn create(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        now_ms: u64,
    ) -> impl core::future::Future<Output = Result<(), StoreError>> {
        self.inner.create(id, record, now_ms)
    }

    async fn refresh(&self, refresh: &Refresh) -> Result<(), StoreError> {
        let admitted = self.memory.refreshes.borrow_mut().admit(
            &refresh.id,
            self.now_ms,
            self.memory.refresh_interval_ms,
        );
        if !admitted {
            return Ok(());
        }
        match self.inner.refresh(refresh).await {
            Ok(()) => {
                self.memory
                    .cache
                    .borrow_mut()
                    .apply_refresh(&refresh.id, refresh.activity);
                Ok(())
            }
            Err(e) => {
                self.memory.refreshes.borrow_mut().forget(&refresh.id);
                Err(e)
            }
        }
    }

    async fn end(&self, id: &SessionId, user: Option<&str>) -> Result<(), StoreError> {
        // Forgotten before the store is asked: even when ending fails, this isolate stops
        // trusting the entry.
        self.memory.cache.borrow_mut().forget(id);
        self.inner.end(id, user).await
    }

    async fn end_all(&self, user: &str, keep: Option<&SessionId>) -> Result<Ending, StoreError> {
        self.memory.cache.borrow_mut().forget_user(user);
        self.inner.end_all(user, keep).await
    }

    fn ids_of(
        &self,
        user: &str,
    ) -> impl core::future::Future<Output = Result<Vec<SessionId>, StoreError>> {
        self.inner.ids_of(user)
    }

    fn load_sessions(
        &self,
        ids: &[SessionId],
    ) -> impl core::future::Future<Output = Result<SessionList, StoreError>> {
        self.inner.load_sessions(ids)
    }

    fn indexed_of(
        &self,
        user: &str,
    ) -> impl core::future::Future<Output = Result<Vec<Indexed>, StoreError>> {
        self.inner.indexed_of(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Timeouts;

    const INTERVAL: u64 = 60_000;
    const T: Timeouts = Timeouts {
        idle_ms: 1_800_000,
        absolute_ms: 86_400_000,
        refresh_interval_ms: INTERVAL,
    };

    fn id(n: u64) -> SessionId {
        SessionId::parse(&format!("{n:0>22}")).unwrap()
    }

    fn record(user: &str) -> SessionRecord {
        SessionRecord::new(user.into(), None, None, 0, &T)
    }

    #[test]
    fn entries_live_for_the_ttl_only() {
        let mut cache = SessionCache::new(1000);
        cache.remember(&id(1), &record("a"), 5000);
        assert!(cache.lookup(&id(1), 5000).is_some());
        assert!(cache.lookup(&id(1), 5999).is_some());
        assert!(cache.lookup(&id(1), 6000).is_none());
        // A clock that went backwards does not extend an entry's life.
        assert!(cache.lookup(&id(1), 4999).is_none());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let mut cache = SessionCache::new(0);
        cache.remember(&id(1), &record("a"), 1);
        assert!(cache.entries.is_empty());
        assert!(cache.lookup(&id(1), 1).is_none());
    }

    #[test]
    fn forget_replace_and_refresh() {
        let mut cache = SessionCache::new(1000);
        cache.remember(&id(1), &record("old"), 0);
        cache.remember(&id(1), &record("new"), 10);
        assert_eq!(cache.lookup(&id(1), 20).unwrap().user, "new");
        // The replaced entry's first insertion time does not expire the newer one early.
        assert!(cache.lookup(&id(1), 1005).is_some());
        let activity = Activity {
            last_seen: 500,
            idle_expires: 500 + T.idle_ms,
        };
        cache.apply_refresh(&id(1), activity);
        assert_eq!(cache.lookup(&id(1), 20).unwrap().last_seen, 500);
        assert!(
            cache.lookup(&id(1), 1010).is_none(),
            "a refresh does not extend the entry"
        );
        cache.forget(&id(1));
        assert!(cache.lookup(&id(1), 20).is_none());
        cache.remember(&id(2), &record("alice"), 0);
        cache.remember(&id(3), &record("bob"), 0);
        cache.forget_user("alice");
        assert!(cache.lookup(&id(2), 1).is_none());
        assert!(cache.lookup(&id(3), 1).is_some());
    }

    #[test]
    fn size_is_bounded_and_the_oldest_go_first() {
        let mut cache = SessionCache::new(60_000);
        for i in 0..(CACHE_CAPACITY as u64 + 10) {
            cache.remember(&id(i), &record("a"), i);
        }
        assert_eq!(cache.entries.len(), CACHE_CAPACITY);
        assert!(cache.lookup(&id(0), 20_000).is_none());
        assert!(cache.lookup(&id(9), 20_000).is_none());
        assert!(cache.lookup(&id(10), 20_000).is_some());
        assert!(cache
            .lookup(&id(CACHE_CAPACITY as u64 + 9), 20_000)
            .is_some());
    }

    #[test]
    fn reloading_one_session_behind_a_live_entry_keeps_the_queue_bounded() {
        let mut cache = SessionCache::new(60_000);
        cache.remember(&id(1), &record("a"), 0);
        for i in 0..(3 * CACHE_CAPACITY as u64) {
            cache.remember(&id(2), &record("a"), 1 + i);
        }
        assert_eq!(cache.entries.len(), 2);
        assert!(cache.order.len() <= 2 * CACHE_CAPACITY + 1);
        let now = 3 * CACHE_CAPACITY as u64 + 10;
        assert!(cache.lookup(&id(1), now).is_some());
        assert!(cache.lookup(&id(2), now).is_some());
    }

    #[test]
    fn expired_entries_are_dropped_on_the_next_insert() {
        let mut cache = SessionCache::new(100);
        for i in 0..50u64 {
            cache.remember(&id(i), &record("a"), i);
        }
        cache.remember(&id(99), &record("a"), 1000);
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.order.len(), 1);
    }

    #[test]
    fn one_refresh_per_interval_and_session() {
        let mut refreshes = RecentRefreshes::default();
        assert!(refreshes.admit(&id(1), 1_000, INTERVAL));
        assert!(
            !refreshes.admit(&id(1), 1_001, INTERVAL),
            "a burst writes once"
        );
        assert!(!refreshes.admit(&id(1), 1_000 + INTERVAL - 1, INTERVAL));
        assert!(
            refreshes.admit(&id(2), 1_001, INTERVAL),
            "other sessions are independent"
        );
        assert!(
            refreshes.admit(&id(1), 1_000 + INTERVAL, INTERVAL),
            "due again an interval later"
        );
        assert!(!refreshes.admit(&id(1), 1_000 + INTERVAL + 5, INTERVAL));
    }

    #[test]
    fn a_failed_refresh_is_retried_by_the_next_request() {
        let mut refreshes = RecentRefreshes::default();
        assert!(refreshes.admit(&id(1), 1_000, INTERVAL));
        refreshes.forget(&id(1));
        assert!(refreshes.admit(&id(1), 1_010, INTERVAL));
    }

    #[test]
    fn a_request_that_began_before_the_refresh_started_is_held_back() {
        // Two concurrent requests: the later one's read answered first, so it started the
        // refresh; the earlier one arrives with an earlier time and must not write again.
        let mut refreshes = RecentRefreshes::default();
        let started = 10 * INTERVAL;
        assert!(refreshes.admit(&id(1), started, INTERVAL));
        assert!(!refreshes.admit(&id(1), started - 10, INTERVAL));
        assert!(!refreshes.admit(&id(1), started - INTERVAL + 1, INTERVAL));
    }

    #[test]
    fn a_clock_that_went_back_a_whole_interval_does_not_block_refreshes() {
        let mut refreshes = RecentRefreshes::default();
        assert!(refreshes.admit(&id(1), 10 * INTERVAL, INTERVAL));
        assert!(refreshes.admit(&id(1), 9 * INTERVAL, INTERVAL));
        assert!(
            !refreshes.admit(&id(1), 9 * INTERVAL + 1, INTERVAL),
            "and it restarts from there"
        );
    }

    #[test]
    fn refresh_memory_stays_bounded() {
        let mut refreshes = RecentRefreshes::default();
        for i in 0..REFRESH_MEMORY_CAPACITY as u64 {
            assert!(refreshes.admit(&id(i), i, INTERVAL));
        }
        assert_eq!(refreshes.started_ms.len(), REFRESH_MEMORY_CAPACITY);
        // Full of recent entries: all go, and the new session is remembered.
        let new = id(1_000_000);
        assert!(refreshes.admit(&new, REFRESH_MEMORY_CAPACITY as u64, INTERVAL));
        assert_eq!(refreshes.started_ms.len(), 1);
        assert!(!refreshes.admit(&new, REFRESH_MEMORY_CAPACITY as u64 + 1, INTERVAL));

        // Full with some entries past their interval: only those go.
        let mut refreshes = RecentRefreshes::default();
        for i in 0..REFRESH_MEMORY_CAPACITY as u64 {
            assert!(refreshes.admit(&id(i), i * 100, INTERVAL));
        }
        let now = (REFRESH_MEMORY_CAPACITY as u64 - 1) * 100 + 1;
        assert!(refreshes.admit(&new, now, INTERVAL));
        let kept = refreshes.started_ms.len();
        assert!(kept > 1 && kept < REFRESH_MEMORY_CAPACITY, "{kept}");
        assert!(
            !refreshes.admit(&id(REFRESH_MEMORY_CAPACITY as u64 - 1), now, INTERVAL),
            "recent ones stay"
        );
        assert!(refreshes.admit(&id(0), now, INTERVAL), "old ones went");
    }
}
