//! Stores for tests, benchmarks and fuzzing (feature `testing`): an in-memory key-value store that
//! counts its operations and can fail, hang or serve stale data the way Workers KV can, and an
//! in-memory session store that has no prefix listing at all.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::kv::MAX_KEYS_PER_READ;
use super::layout::{Entry, KV_MIN_TTL_SECONDS};
use super::{
    Ending, Indexed, KeyPage, KeyValueStore, Loaded, Refresh, SessionList, SessionStore, StoreError,
};
use crate::session::{SessionId, SessionRecord};

/// Runs a future that completes without waiting: every double here (and the tests' fake
/// origins) answers at once, so one poll is enough, and a future still pending is a bug in the
/// test setup.
#[allow(clippy::panic)]
pub fn run_now<F: Future>(future: F) -> F::Output {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a future that should answer at once is still pending"),
    }
}

/// Keys per listed page, as in Workers KV.
const LIST_PAGE: usize = 1000;

/// A failure a [`MemoryKv`] can be told to give on every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every operation fails with [`StoreError::Unavailable`].
    Error,
    /// Every operation fails with [`StoreError::Timeout`].
    Timeout,
}

/// Operation counts of a [`MemoryKv`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Bulk reads (one operation each).
    pub reads: usize,
    /// Keys read by them.
    pub keys_read: usize,
    /// Writes.
    pub writes: usize,
    /// Deletes.
    pub deletes: usize,
    /// Listed pages.
    pub lists: usize,
}

impl Counts {
    /// Every operation, as Workers KV counts them.
    pub fn operations(&self) -> usize {
        self.reads + self.writes + self.deletes + self.lists
    }
}

/// An in-memory [`KeyValueStore`] with Workers KV's limits (TTL at least 60 s, at most 100 keys
/// per read, 1,000 keys per listed page) and its failure modes on request.
#[derive(Default)]
pub struct MemoryKv {
    data: RefCell<BTreeMap<String, (String, u64)>>,
    counts: Cell<Counts>,
    fault: Cell<Option<Fault>>,
    /// Values returned by reads regardless of writes and deletes: KV's eventual consistency.
    stale: RefCell<BTreeMap<String, String>>,
    /// Keys reads answer "not found" for although they exist: a cached miss.
    cached_misses: RefCell<BTreeSet<String>>,
    /// KV metadata by key (written by `put_with_metadata`, returned by listings).
    metadata: RefCell<BTreeMap<String, String>>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every operation fail with `fault` (`None`: work again).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.fault.set(fault);
    }

    /// Makes reads of `key` answer `value` until [`MemoryKv::clear_stale`].
    pub fn serve_stale(&self, key: &str, value: &str) {
        self.stale
            .borrow_mut()
            .insert(key.to_owned(), value.to_owned());
    }

    /// Ends every stale read.
    pub fn clear_stale(&self) {
        self.stale.borrow_mut().clear();
    }

    /// Makes reads of `key` answer "not found" until [`MemoryKv::clear_cached_misses`].
    pub fn serve_cached_miss(&self, key: &str) {
        self.cached_misses.borrow_mut().insert(key.to_owned());
    }

    /// Ends every cached miss.
    pub fn clear_cached_misses(&self) {
        self.cached_misses.borrow_mut().clear();
    }

    /// The operations made so far.
    pub fn counts(&self) -> Counts {
        self.counts.get()
    }

    /// Every key stored, in order.
    pub fn keys(&self) -> Vec<String> {
        self.data.borrow().keys().cloned().collect()
    }

    /// The value stored under `key`.
    pub fn value(&self, key: &str) -> Option<String> {
        self.data.borrow().get(key).map(|(v, _)| v.clone())
    }

    /// The TTL `key` was last written with.
    pub fn ttl(&self, key: &str) -> Option<u64> {
        self.data.borrow().get(key).map(|(_, ttl)| *ttl)
    }

    /// Stores `value` under `key` directly (no count, no fault).
    pub fn insert(&self, key: &str, value: &str, ttl_seconds: u64) {
        self.data
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), ttl_seconds));
    }

    /// Stores `entry` directly (no count, no fault) with its metadata, as `wrangler kv bulk put`
    /// writes a file of `sessiongate import`.
    pub fn insert_entry(&self, entry: &Entry) {
        self.insert(&entry.key, &entry.value, entry.ttl_seconds);
        let mut metadata = self.metadata.borrow_mut();
        match &entry.metadata {
            Some(m) => metadata.insert(entry.key.clone(), m.clone()),
            None => metadata.remove(&entry.key),
        };
    }

    /// Removes `key` directly (no count, no fault), as another location's delete would.
    pub fn remove(&self, key: &str) {
        self.data.borrow_mut().remove(key);
        self.metadata.borrow_mut().remove(key);
    }

    /// The metadata `key` was last written with.
    pub fn metadata(&self, key: &str) -> Option<String> {
        self.metadata.borrow().get(key).cloned()
    }

    fn check(&self) -> Result<(), StoreError> {
        match self.fault.get() {
            None => Ok(()),
            Some(Fault::Error) => Err(StoreError::Unavailable("injected".into())),
            Some(Fault::Timeout) => Err(StoreError::Timeout),
        }
    }

    fn count(&self, change: impl FnOnce(&mut Counts)) {
        let mut counts = self.counts.get();
        change(&mut counts);
        self.counts.set(counts);
    }
}

impl KeyValueStore for MemoryKv {
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        self.check()?;
        assert!(
            (1..=MAX_KEYS_PER_READ).contains(&keys.len()),
            "KV reads 1 to 100 keys at once, asked for {}",
            keys.len()
        );
        self.count(|c| {
            c.reads += 1;
            c.keys_read += keys.len();
        });
        Ok(keys
            .iter()
            .map(|key| {
                if let Some(stale) = self.stale.borrow().get(*key) {
                    return Some(stale.clone());
                }
                if self.cached_misses.borrow().contains(*key) {
                    return None;
                }
                self.value(key)
            })
            .collect())
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        self.check()?;
        assert!(
            ttl_seconds >= KV_MIN_TTL_SECONDS,
            "KV refuses TTLs under 60 s, got {ttl_seconds}"
        );
        self.count(|c| c.writes += 1);
        self.insert(key, value, ttl_seconds);
        self.metadata.borrow_mut().remove(key);
        Ok(())
    }

    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        ttl_seconds: u64,
        metadata: &str,
    ) -> Result<(), StoreError> {
        assert!(metadata.len() <= 1024, "KV metadata is at most 1024 bytes");
        self.put(key, value, ttl_seconds).await?;
        self.metadata
            .borrow_mut()
            .insert(key.to_owned(), metadata.to_owned());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.count(|c| c.deletes += 1);
        self.remove(key);
        Ok(())
    }

    async fn list_page(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        self.check()?;
        self.count(|c| c.lists += 1);
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap_or(usize::MAX));
        let matching: Vec<String> = self
            .data
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .skip(start)
            .take(LIST_PAGE + 1)
            .cloned()
            .collect();
        let more = matching.len() > LIST_PAGE;
        let keys: Vec<String> = matching.into_iter().take(LIST_PAGE).collect();
        let metadata = keys.iter().map(|key| self.metadata(key)).collect();
        Ok(KeyPage {
            keys,
            cursor: more.then(|| (start + LIST_PAGE).to_string()),
            metadata,
        })
    }
}

/// A [`SessionStore`] kept in maps, with no key layout and no prefix listing: a user's sessions
/// are found through a per-user set, the way a database or a Durable Object would keep them.
#[derive(Default)]
pub struct MapSessions {
    sessions: RefCell<BTreeMap<String, SessionRecord>>,
    by_user: RefCell<BTreeMap<String, BTreeSet<String>>>,
}

impl MapSessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MapSessions {
    async fn load(&self, id: &SessionId) -> Result<Loaded, StoreError> {
        Ok(match self.sessions.borrow().get(id.as_str()) {
            Some(record) => Loaded::Found(record.clone()),
            None => Loaded::Missing,
        })
    }

    async fn create(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        _now_ms: u64,
    ) -> Result<(), StoreError> {
        self.by_user
            .borrow_mut()
            .entry(record.user.clone())
            .or_default()
            .insert(id.as_str().to_owned());
        self.sessions
            .borrow_mut()
            .insert(id.as_str().to_owned(), record.clone());
        Ok(())
    }

    async fn refresh(&self, refresh: &Refresh) -> Result<(), StoreError> {
        let mut sessions = self.sessions.borrow_mut();
        if let Some(record) = sessions.get_mut(refresh.id.as_str()) {
            *record = record.clone().with_activity(Some(refresh.activity));
        }
        Ok(())
    }

    async fn end(&self, id: &SessionId, _user: Option<&str>) -> Result<(), StoreError> {
        if let Some(record) = self.sessions.borrow_mut().remove(id.as_str()) {
            if let Some(ids) = self.by_user.borrow_mut().get_mut(&record.user) {
                ids.remove(id.as_str());
            }
        }
        Ok(())
    }

    async fn end_all(&self, user: &str, keep: Option<&SessionId>) -> Result<Ending, StoreError> {
        let ids = self.ids_of(user).await?;
        let mut ended = 0;
        for id in ids.iter().filter(|id| Some(*id) != keep) {
            self.end(id, Some(user)).await?;
            ended += 1;
        }
        Ok(Ending {
            ended,
            remaining: 0,
        })
    }

    async fn ids_of(&self, user: &str) -> Result<Vec<SessionId>, StoreError> {
        Ok(self
            .by_user
            .borrow()
            .get(user)
            .map(|ids| ids.iter().filter_map(|id| SessionId::parse(id)).collect())
            .unwrap_or_default())
    }

    async fn indexed_of(&self, user: &str) -> Result<Vec<Indexed>, StoreError> {
        let ids = self.ids_of(user).await?;
        let sessions = self.sessions.borrow();
        Ok(ids
            .into_iter()
            .map(|id| {
                let created = sessions.get(id.as_str()).map(|r| r.created);
                Indexed { id, created }
            })
            .collect())
    }

    async fn load_sessions(&self, ids: &[SessionId]) -> Result<SessionList, StoreError> {
        let sessions = self.sessions.borrow();
        Ok(SessionList {
            sessions: ids
                .iter()
                .filter_map(|id| Some((id.clone(), sessions.get(id.as_str())?.clone())))
                .collect(),
            unread: 0,
        })
    }
}
