//! Sessions in a key-value store with Workers KV's semantics, within its operation limit.

use core::cell::Cell;
use core::future::Future;

use super::layout::{
    activity_key, id_of_index_key, index_key, index_prefix, new_session_entries,
    parse_index_metadata, record_key, ttl_seconds,
};
use super::{Ending, Indexed, Loaded, Refresh, SessionList, SessionStore, StoreError};
use crate::session::{Activity, SessionId, SessionRecord};

/// Workers KV allows this many operations per Worker invocation (a bulk read of up to
/// [`MAX_KEYS_PER_READ`] keys counts as one).
pub const KV_OPERATIONS_PER_REQUEST: u32 = 1000;

/// Operations bulk work leaves for what may follow in the same invocation (the refresh run after
/// the response, the ending of the current session after the others).
const RESERVED_OPERATIONS: u32 = 10;

/// Most keys one bulk read may ask for.
pub const MAX_KEYS_PER_READ: usize = 100;

/// One page of a listing by prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Key names, in the store's order.
    pub keys: Vec<String>,
    /// The cursor of the next page, `None` on the last.
    pub cursor: Option<String>,
    /// Each key's metadata (a JSON object's text), in the order of `keys`; shorter than `keys`
    /// (or empty) when the store keeps none.
    pub metadata: Vec<Option<String>>,
}

/// The key-value operations sessions need (Workers KV semantics: TTLs in whole seconds, at least
/// 60; every method is one operation).
#[allow(async_fn_in_trait)]
pub trait KeyValueStore {
    /// The values of up to [`MAX_KEYS_PER_READ`] keys, in order, in one operation.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError>;
    /// Writes `value` under `key`, expiring after `ttl_seconds`.
    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError>;
    /// [`put`](Self::put) with `metadata` (a JSON object's text, under 1,024 bytes) that listings
    /// return with the key. A store without metadata keeps only the value (the default): its
    /// listings then say nothing about the key, which readers must allow for.
    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        ttl_seconds: u64,
        metadata: &str,
    ) -> Result<(), StoreError> {
        let _ = metadata;
        self.put(key, value, ttl_seconds).await
    }
    /// Deletes `key` (deleting a missing key succeeds).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// One page (up to 1,000 keys) of the keys starting with `prefix`, after `cursor`.
    async fn list_page(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError>;
}

/// The [`SessionStore`] over a [`KeyValueStore`]. Made per request: it counts the request's
/// operations, and work over many sessions (ending all of a user's, listing them) stops before
/// the count would pass [`KV_OPERATIONS_PER_REQUEST`], reporting what is left.
///
/// Ending one session deletes its record (what makes it invalid), then its activity and index
/// entry. Ending many at once reads which are still present (in bulk, 50 sessions an operation) and
/// deletes as much as the request may: every key of a session while all of them fit, otherwise
/// only records, leaving activity and index entries to expire by their TTLs.
pub struct KvSessions<'a, K> {
    kv: &'a K,
    operations: Cell<u32>,
    limit: u32,
}

impl<'a, K: KeyValueStore> KvSessions<'a, K> {
    /// A store for one request, with Workers KV's operation limit.
    pub fn new(kv: &'a K) -> Self {
        Self::with_limit(kv, KV_OPERATIONS_PER_REQUEST)
    }

    /// A store for one request that may make at most `limit` operations.
    pub fn with_limit(kv: &'a K, limit: u32) -> Self {
        KvSessions {
            kv,
            operations: Cell::new(0),
            limit,
        }
    }

    /// Operations made so far.
    pub fn operations(&self) -> u32 {
        self.operations.get()
    }

    fn count(&self, n: u32) {
        self.operations.set(self.operations.get().saturating_add(n));
    }

    /// Operations bulk work may still make.
    fn spare(&self) -> u32 {
        self.limit
            .saturating_sub(RESERVED_OPERATIONS)
            .saturating_sub(self.operations.get())
    }

    // Counted when called: plain functions handing back the store's own futures.
    fn get_many<'k>(
        &self,
        keys: &'k [&'k str],
    ) -> impl Future<Output = Result<Vec<Option<String>>, StoreError>> + use<'_, 'k, 'a, K> {
        self.count(1);
        self.kv.get_many(keys)
    }

    fn put<'k>(
        &self,
        key: &'k str,
        value: &'k str,
        ttl: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + use<'_, 'k, 'a, K> {
        self.count(1);
        self.kv.put(key, value, ttl)
    }

    fn delete<'k>(
        &self,
        key: &'k str,
    ) -> impl Future<Output = Result<(), StoreError>> + use<'_, 'k, 'a, K> {
        self.count(1);
        self.kv.delete(key)
    }

    /// Every indexed id of `user`, as far as the spare operations go (`false`: not all listed).
    async fn indexed(&self, user: &str) -> Result<(Vec<SessionId>, bool), StoreError> {
        let (listed, all) = self.indexed_with_created(user).await?;
        Ok((listed.into_iter().map(|s| s.id).collect(), all))
    }

    /// [`indexed`](Self::indexed), with each entry's creation time from its metadata.
    async fn indexed_with_created(&self, user: &str) -> Result<(Vec<Indexed>, bool), StoreError> {
        let prefix = index_prefix(user);
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            if self.spare() == 0 {
                return Ok((ids, false));
            }
            self.count(1);
            let page = self.kv.list_page(&prefix, cursor.as_deref()).await?;
            let mut metadata = page.metadata.into_iter();
            for key in &page.keys {
                let created = metadata
                    .next()
                    .flatten()
                    .and_then(|m| parse_index_metadata(&m));
                if let Some(id) = id_of_index_key(key, &prefix) {
                    ids.push(Indexed { id, created });
                }
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((ids, true)),
            }
        }
    }
}

fn decode(record: Option<String>, activity: Option<String>) -> Loaded {
    let Some(json) = record else {
        return Loaded::Missing;
    };
    match SessionRecord::decode(&json) {
        Ok(record) => {
            Loaded::Found(record.with_activity(activity.as_deref().and_then(Activity::decode)))
        }
        Err(e) => Loaded::Unusable(e),
    }
}

impl<K: KeyValueStore> SessionStore for KvSessions<'_, K> {
    async fn load(&self, id: &SessionId) -> Result<Loaded, StoreError> {
        // Record and activity in one bulk read: one operation and one round trip.
        let (record, activity) = (record_key(id), activity_key(id));
        let mut values = self.get_many(&[&record, &activity]).await?.into_iter();
        Ok(decode(values.next().flatten(), values.next().flatten()))
    }

    async fn create(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        for entry in new_session_entries(id, record, now_ms) {
            match &entry.metadata {
                Some(metadata) => {
                    self.count(1);
                    self.kv
                        .put_with_metadata(&entry.key, &entry.value, entry.ttl_seconds, metadata)
                        .await?;
                }
                None => {
                    self.put(&entry.key, &entry.value, entry.ttl_seconds)
                        .await?
                }
            }
        }
        Ok(())
    }

    async fn refresh(&self, refresh: &Refresh) -> Result<(), StoreError> {
        let activity = &refresh.activity;
        let ttl = ttl_seconds(activity.idle_expires, activity.last_seen);
        self.put(&activity_key(&refresh.id), &activity.encode(), ttl)
            .await
    }

    async fn end(&self, id: &SessionId, user: Option<&str>) -> Result<(), StoreError> {
        // The record first: its deletion is what ends the session.
        self.delete(&record_key(id)).await?;
        self.delete(&activity_key(id)).await?;
        match user {
            Some(user) => self.delete(&index_key(user, id)).await,
            None => Ok(()),
        }
    }

    async fn end_all(&self, user: &str, keep: Option<&SessionId>) -> Result<Ending, StoreError> {
        let (mut others, listed_all) = self.indexed(user).await?;
        others.retain(|id| Some(id) != keep);
        // Only sessions still present are ended: entries left by an earlier call that ran out of
        // operations (or by sessions that expired) cost no deletes.
        let present = self.load_sessions(&others).await?;
        let mut left = present.sessions.len();
        for (id, _) in &present.sessions {
            let spare = usize::try_from(self.spare()).unwrap_or(usize::MAX);
            if spare == 0 {
                break;
            }
            if spare >= 3 * left {
                self.end(id, Some(user)).await?;
            } else {
                // Not every key of every session fits: the record now (what makes the session
                // invalid), the activity and index entry by their TTLs.
                self.delete(&record_key(id)).await?;
            }
            left -= 1;
        }
        Ok(Ending {
            ended: present.sessions.len() - left,
            remaining: left + present.unread + usize::from(!listed_all),
        })
    }

    async fn ids_of(&self, user: &str) -> Result<Vec<SessionId>, StoreError> {
        Ok(self.indexed(user).await?.0)
    }

    async fn indexed_of(&self, user: &str) -> Result<Vec<Indexed>, StoreError> {
        Ok(self.indexed_with_created(user).await?.0)
    }

    async fn load_sessions(&self, ids: &[SessionId]) -> Result<SessionList, StoreError> {
        let mut list = SessionList {
            sessions: Vec::new(),
            unread: 0,
        };
        // A record and an activity per session: 50 sessions per bulk read.
        for chunk in ids.chunks(MAX_KEYS_PER_READ / 2) {
            if self.spare() == 0 {
                list.unread += chunk.len();
                continue;
            }
            let mut keys = Vec::with_capacity(2 * chunk.len());
            for id in chunk {
                keys.push(record_key(id));
                keys.push(activity_key(id));
            }
            let names: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut values = self.get_many(&names).await?.into_iter();
            for id in chunk {
                let (record, activity) = (values.next().flatten(), values.next().flatten());
                if let Loaded::Found(record) = decode(record, activity) {
                    list.sessions.push((id.clone(), record));
                }
            }
        }
        Ok(list)
    }
}
