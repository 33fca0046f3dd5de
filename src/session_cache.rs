//! An optional, short-lived cache of session reads in front of the key-value store.
//!
//! Off by default: every authenticated request then reads its record and activity from KV, so a
//! session ended anywhere is refused as soon as KV shows it. With `SESSION_CACHE_TTL_MS` set, an
//! isolate reuses what it read for that long, which takes both KV reads off a burst of requests
//! with the same cookie (a page load and its API calls). The price is bounded and documented: a
//! session ended *through another isolate* may still be accepted here until the entry is that
//! old. Ends that go through this isolate (logout, the sessions page) drop its entries at once,
//! and expiry, the idle timeout and the user-agent binding are still checked on every request.
//!
//! Only the record (`sess:<id>`) and activity (`seen:<id>`) keys are cached, and only reads made
//! after the cookie's signature was verified reach them, so an unauthenticated client can neither
//! fill the cache nor probe it. A record read that found nothing is not cached (a session created
//! elsewhere moments ago must not be refused for the whole TTL); a missing activity is.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use crate::config::LoadedConfig;
use crate::gate::{KeyValueStore, StoreError};
use crate::session::{ACTIVITY_KEY_PREFIX, RECORD_KEY_PREFIX};

/// Most entries one isolate keeps (a record and an activity per session). Records longer than
/// 8 KiB are refused and deleted, activities are tens of bytes, so this bounds the cache to about
/// 8 MiB in the worst case and far less in practice. When full, the oldest entry goes first.
pub const CAPACITY: usize = 2048;

/// Longest allowed `SESSION_CACHE_TTL_MS`: well inside KV's own propagation delay between
/// locations (up to 60 s), so the cache never becomes the slowest path for a revocation.
pub const MAX_TTL_MS: u64 = 30_000;

struct Entry {
    value: Option<String>,
    stored_at_ms: u64,
}

/// Recent reads of session keys, at most [`CAPACITY`], each used for `ttl_ms` after it was read.
pub struct SessionCache {
    ttl_ms: u64,
    entries: HashMap<String, Entry>,
    /// Keys in insertion order, with their insertion times: every entry has the same TTL, so the
    /// front is always the entry that expires first. Keys replaced or forgotten since leave stale
    /// pairs here, recognised by a time that no longer matches their entry.
    order: VecDeque<(String, u64)>,
}

impl SessionCache {
    /// A cache keeping each read for `ttl_ms` (0: keeps nothing).
    pub fn new(ttl_ms: u64) -> Self {
        SessionCache {
            ttl_ms,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The cache `SESSION_CACHE_TTL_MS` asks for (off when the session settings are invalid).
    pub fn for_config(config: &LoadedConfig) -> Self {
        Self::new(
            config
                .session
                .as_ref()
                .map_or(0, |s| s.session_cache_ttl_ms),
        )
    }

    pub fn is_enabled(&self) -> bool {
        self.ttl_ms > 0
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value read for `key`, if it was read less than the TTL ago. A clock that went
    /// backwards counts as expired.
    pub fn lookup(&self, key: &str, now_ms: u64) -> Option<Option<String>> {
        let entry = self.entries.get(key)?;
        let age = now_ms.checked_sub(entry.stored_at_ms)?;
        (age < self.ttl_ms).then(|| entry.value.clone())
    }

    /// Remembers what `key` holds as of `now_ms`.
    pub fn remember(&mut self, key: &str, value: Option<&str>, now_ms: u64) {
        if !self.is_enabled() || !is_cacheable(key) {
            return;
        }
        self.evict(now_ms);
        self.entries.insert(
            key.to_owned(),
            Entry {
                value: value.map(str::to_owned),
                stored_at_ms: now_ms,
            },
        );
        self.order.push_back((key.to_owned(), now_ms));
    }

    /// Drops `key` (it was deleted, or a write of it failed and its value is unknown).
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops expired entries, then the oldest ones while there is no room for one more.
    fn evict(&mut self, now_ms: u64) {
        while let Some((key, stored_at_ms)) = self.order.front() {
            let current = self
                .entries
                .get(key)
                .is_some_and(|e| e.stored_at_ms == *stored_at_ms);
            let expired = now_ms.saturating_sub(*stored_at_ms) >= self.ttl_ms;
            if current && !expired && self.entries.len() < CAPACITY {
                break;
            }
            if current {
                self.entries.remove(key);
            }
            self.order.pop_front();
        }
        // Rewrites of keys behind a live front entry leave stale pairs that the loop above does
        // not reach: compact when they outnumber the entries, so the queue stays bounded too.
        if self.order.len() > 2 * CAPACITY {
            let entries = &self.entries;
            self.order
                .retain(|(key, at)| entries.get(key).is_some_and(|e| e.stored_at_ms == *at));
        }
    }
}

fn is_cacheable(key: &str) -> bool {
    key.starts_with(RECORD_KEY_PREFIX) || key.starts_with(ACTIVITY_KEY_PREFIX)
}

/// A [`KeyValueStore`] that answers session reads from a [`SessionCache`] when it can, and keeps
/// the cache in step with its own writes and deletes. Made per request (`now_ms` is the request's
/// time); the cache outlives it.
pub struct CachedStore<'a, S> {
    pub inner: &'a S,
    pub cache: &'a RefCell<SessionCache>,
    pub now_ms: u64,
}

impl<S> CachedStore<'_, S> {
    fn cached(&self, key: &str) -> Option<Option<String>> {
        self.cache.borrow().lookup(key, self.now_ms)
    }

    fn remember_read(&self, key: &str, value: Option<&str>) {
        if value.is_some() || !key.starts_with(RECORD_KEY_PREFIX) {
            self.cache.borrow_mut().remember(key, value, self.now_ms);
        }
    }
}

impl<S: KeyValueStore> KeyValueStore for CachedStore<'_, S> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        if let Some(value) = self.cached(key) {
            return Ok(value);
        }
        let value = self.inner.get(key).await?;
        self.remember_read(key, value.as_deref());
        Ok(value)
    }

    async fn get_pair(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        // Only what was just read is remembered: re-remembering a cached value would extend
        // its life past the TTL, and a session ended elsewhere would never be seen here.
        match (self.cached(first), self.cached(second)) {
            (Some(a), Some(b)) => Ok((a, b)),
            (Some(a), None) => {
                let b = self.inner.get(second).await?;
                self.remember_read(second, b.as_deref());
                Ok((a, b))
            }
            (None, Some(b)) => {
                let a = self.inner.get(first).await?;
                self.remember_read(first, a.as_deref());
                Ok((a, b))
            }
            (None, None) => {
                let (a, b) = self.inner.get_pair(first, second).await?;
                self.remember_read(first, a.as_deref());
                self.remember_read(second, b.as_deref());
                Ok((a, b))
            }
        }
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        // Forgotten first: while the write is in flight, readers go to the store.
        self.cache.borrow_mut().forget(key);
        self.inner.put(key, value, ttl_seconds).await?;
        self.cache
            .borrow_mut()
            .remember(key, Some(value), self.now_ms);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        // Forgotten before the delete: even when it fails, this isolate stops trusting the entry.
        self.cache.borrow_mut().forget(key);
        self.inner.delete(key).await
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_keys(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "sess:abc";
    const ACTIVITY: &str = "seen:abc";

    #[test]
    fn entries_live_for_the_ttl_only() {
        let mut cache = SessionCache::new(1000);
        cache.remember(RECORD, Some("r"), 5000);
        assert_eq!(cache.lookup(RECORD, 5000), Some(Some("r".to_owned())));
        assert_eq!(cache.lookup(RECORD, 5999), Some(Some("r".to_owned())));
        assert_eq!(cache.lookup(RECORD, 6000), None);
        // A clock that went backwards does not extend an entry's life.
        assert_eq!(cache.lookup(RECORD, 4999), None);
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let mut cache = SessionCache::new(0);
        cache.remember(RECORD, Some("r"), 1);
        assert!(cache.is_empty());
        assert_eq!(cache.lookup(RECORD, 1), None);
    }

    #[test]
    fn only_session_keys_are_kept() {
        let mut cache = SessionCache::new(1000);
        cache.remember("user:YWxpY2U:abc", Some("1"), 0);
        cache.remember(ACTIVITY, None, 0);
        assert_eq!(cache.lookup("user:YWxpY2U:abc", 1), None);
        assert_eq!(cache.lookup(ACTIVITY, 1), Some(None));
    }

    #[test]
    fn forget_and_replace() {
        let mut cache = SessionCache::new(1000);
        cache.remember(RECORD, Some("old"), 0);
        cache.remember(RECORD, Some("new"), 10);
        assert_eq!(cache.lookup(RECORD, 20), Some(Some("new".to_owned())));
        // The replaced entry's first insertion time does not expire the newer one early.
        assert_eq!(cache.lookup(RECORD, 1005), Some(Some("new".to_owned())));
        cache.forget(RECORD);
        assert_eq!(cache.lookup(RECORD, 20), None);
    }

    #[test]
    fn size_is_bounded_and_the_oldest_go_first() {
        let mut cache = SessionCache::new(60_000);
        for i in 0..(CAPACITY as u64 + 10) {
            cache.remember(&format!("sess:{i}"), Some("r"), i);
        }
        assert_eq!(cache.len(), CAPACITY);
        assert_eq!(cache.lookup("sess:0", 20_000), None);
        assert_eq!(cache.lookup("sess:9", 20_000), None);
        assert!(cache.lookup("sess:10", 20_000).is_some());
        let last = format!("sess:{}", CAPACITY + 9);
        assert!(cache.lookup(&last, 20_000).is_some());
    }

    #[test]
    fn rewriting_one_key_behind_a_live_entry_keeps_the_queue_bounded() {
        let mut cache = SessionCache::new(60_000);
        cache.remember(RECORD, Some("r"), 0);
        for i in 0..(3 * CAPACITY as u64) {
            cache.remember(ACTIVITY, None, 1 + i);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.order.len() <= 2 * CAPACITY + 1);
        let now = 3 * CAPACITY as u64 + 10;
        assert_eq!(cache.lookup(RECORD, now), Some(Some("r".to_owned())));
        assert_eq!(cache.lookup(ACTIVITY, now), Some(None));
    }

    #[test]
    fn expired_entries_are_dropped_on_the_next_insert() {
        let mut cache = SessionCache::new(100);
        for i in 0..50u64 {
            cache.remember(&format!("sess:{i}"), Some("r"), i);
        }
        cache.remember("sess:late", Some("r"), 1000);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.order.len(), 1);
    }
}
