//! The session store: everything about how sessions are kept, behind one trait.
//!
//! The gate asks for sessions, never for keys: [`SessionStore`] loads a session (its record with
//! its latest activity), creates one, refreshes its idle expiry, ends one, ends all of a user's,
//! and lists a user's sessions. Backends plug in here:
//! - [`KvSessions`] keeps sessions in a [`KeyValueStore`] (Workers KV in production) with the key
//!   layout of [`layout`], and keeps every request within KV's per-invocation operation limit;
//! - [`CachedSessions`] wraps any store with the per-isolate read cache and refresh memory of
//!   [`IsolateMemory`];
//! - [`import`] builds the same entries for sessions taken over from an express-session store;
//! - in-memory and faulty stores for tests live in `testing` (feature `testing`).

use core::fmt;

mod cache;
pub mod import;
mod kv;
pub mod layout;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use cache::{
    CachedSessions, IsolateMemory, RecentRefreshes, SessionCache, CACHE_CAPACITY, MAX_CACHE_TTL_MS,
    REFRESH_MEMORY_CAPACITY,
};
pub use kv::{KeyPage, KeyValueStore, KvSessions, KV_OPERATIONS_PER_REQUEST, MAX_KEYS_PER_READ};

use crate::session::{Activity, RecordError, SessionId, SessionRecord};

/// Why a store operation failed. The text never contains keys, values or session ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The store answered with an error (or is missing).
    Unavailable(String),
    /// The store did not answer within its time limit.
    Timeout,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "unavailable: {why}"),
            StoreError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What loading a session found.
#[derive(Clone, Debug, PartialEq)]
pub enum Loaded {
    /// No such session (never created, ended, or evicted by its TTL).
    Missing,
    /// Something is stored under the id that the gateway cannot use.
    Unusable(RecordError),
    /// The session's record, with its latest activity applied.
    Found(SessionRecord),
}

/// A refresh of a session's idle expiry, asked for by the gate and run after the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refresh {
    /// The session to refresh.
    pub id: SessionId,
    /// Its new activity (`last_seen` is the request's time).
    pub activity: Activity,
}

/// How far ending all of a user's sessions got within one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ending {
    /// Sessions ended by this call.
    pub ended: usize,
    /// Sessions left for a later call (the request's store operations ran out); 0 when done.
    pub remaining: usize,
}

/// The sessions of a user as listed by [`SessionStore::load_sessions`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionList {
    /// Every session found, with its record (ended, expired and unusable ones left out).
    pub sessions: Vec<(SessionId, SessionRecord)>,
    /// How many of the ids asked for could not be read (the request's operations ran out).
    pub unread: usize,
}

/// One of a user's sessions as the index lists it, without its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indexed {
    /// The session.
    pub id: SessionId,
    /// When it was created (Unix ms), when the index says (see `docs/kv-layout.md`).
    pub created: Option<u64>,
}

/// Where sessions are kept. Futures are not `Send`: a Worker isolate is single-threaded.
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    /// The session `id`, with its latest activity applied.
    async fn load(&self, id: &SessionId) -> Result<Loaded, StoreError>;

    /// Stores a new session `id` for `record.user`, created at `now_ms`.
    async fn create(
        &self,
        id: &SessionId,
        record: &SessionRecord,
        now_ms: u64,
    ) -> Result<(), StoreError>;

    /// Writes a refreshed idle expiry. The record itself is never rewritten: a refresh run by a
    /// location that still sees an ended session must not bring it back.
    async fn refresh(&self, refresh: &Refresh) -> Result<(), StoreError>;

    /// Ends one session (`user` is `None` when its record could not be read).
    async fn end(&self, id: &SessionId, user: Option<&str>) -> Result<(), StoreError>;

    /// Ends every session of `user` except `keep`, as far as this request may go; what is left
    /// is reported in [`Ending::remaining`] for a later call.
    async fn end_all(&self, user: &str, keep: Option<&SessionId>) -> Result<Ending, StoreError>;

    /// The ids of `user`'s sessions, every one of them (ended ones may linger until their TTL).
    async fn ids_of(&self, user: &str) -> Result<Vec<SessionId>, StoreError>;

    /// The live-or-expired sessions among `ids` with their records, read in bulk.
    async fn load_sessions(&self, ids: &[SessionId]) -> Result<SessionList, StoreError>;

    /// `user`'s sessions as the index lists them, each with its creation time when the index
    /// carries one; no record is read (`MAX_SESSIONS_PER_USER` ends the oldest by it). The
    /// default knows no creation times.
    async fn indexed_of(&self, user: &str) -> Result<Vec<Indexed>, StoreError> {
        let ids = self.ids_of(user).await?;
        Ok(ids
            .into_iter()
            .map(|id| Indexed { id, created: None })
            .collect())
    }
}
