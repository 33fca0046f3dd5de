//! The key layout of sessions in a key-value store (Workers KV), in one place.
//!
//! Layout version 2 (see `docs/kv-layout.md`; version 1 is read as is):
//! - `sess:<id>`: the session record ([`SessionRecord`] as JSON, `"v":1`), written once at login
//!   with a TTL of the session's absolute lifetime, afterwards only deleted;
//! - `seen:<id>`: the session's latest activity ([`Activity`]), rewritten by refreshes with a TTL
//!   of the remaining idle lifetime;
//! - `user:<base64url(user)>:<id>`: an empty index entry per session, so a user's sessions can be
//!   listed by prefix; its TTL is the session's absolute lifetime. Since version 2 it carries KV
//!   metadata `{"c":<created, Unix ms>}`, returned by listings, so the oldest sessions of a user
//!   are known without reading records; a version 1 entry (no metadata) is of unknown age.
//!
//! [`SessionRecord`]: crate::session::SessionRecord
//! [`Activity`]: crate::session::Activity

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::session::{SessionId, SessionRecord};

/// KV refuses `expirationTtl` below 60 seconds.
pub const KV_MIN_TTL_SECONDS: u64 = 60;

const RECORD_PREFIX: &str = "sess:";
const ACTIVITY_PREFIX: &str = "seen:";

/// Key of a session's record.
pub fn record_key(id: &SessionId) -> String {
    format!("{RECORD_PREFIX}{}", id.as_str())
}

/// Key of a session's activity.
pub fn activity_key(id: &SessionId) -> String {
    format!("{ACTIVITY_PREFIX}{}", id.as_str())
}

/// Prefix under which `user`'s sessions are indexed.
pub fn index_prefix(user: &str) -> String {
    format!("user:{}:", URL_SAFE_NO_PAD.encode(user.as_bytes()))
}

/// Key of one index entry.
pub fn index_key(user: &str, id: &SessionId) -> String {
    let mut key = index_prefix(user);
    key.push_str(id.as_str());
    key
}

/// The session id of an index key listed under `prefix` (`None` for anything else).
pub fn id_of_index_key(key: &str, prefix: &str) -> Option<SessionId> {
    key.strip_prefix(prefix).and_then(SessionId::parse)
}

/// The metadata of an index entry: the session's creation time.
pub fn index_metadata(created_ms: u64) -> String {
    format!("{{\"c\":{created_ms}}}")
}

/// The creation time in an index entry's metadata, the JSON object `{"c":<Unix ms>}` (`None`: a
/// version 1 entry, or anything else). The only reading of index metadata: it accepts exactly
/// what [`index_metadata`] writes and KV hands back (`JSON.stringify` of the stored object).
pub fn parse_index_metadata(metadata: &str) -> Option<u64> {
    let digits = metadata.strip_prefix("{\"c\":")?.strip_suffix('}')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// One value to write: key, value, `expirationTtl` and KV metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Seconds until KV removes it.
    pub ttl_seconds: u64,
    /// KV metadata (a JSON object's text), returned with the key by listings.
    pub metadata: Option<String>,
}

/// What a new session writes, in order: its index entry first (a session that exists is always
/// reachable by "log out everywhere"), then its record. Both live for the session's absolute
/// lifetime: the record is never rewritten (refreshes go to the activity key), and the idle
/// expiry is enforced from the timestamps on every request.
pub fn new_session_entries(id: &SessionId, record: &SessionRecord, now_ms: u64) -> [Entry; 2] {
    let ttl_seconds = ttl_seconds(record.absolute_expires, now_ms);
    [
        Entry {
            key: index_key(&record.user, id),
            value: String::new(),
            ttl_seconds,
            metadata: Some(index_metadata(record.created)),
        },
        Entry {
            key: record_key(id),
            value: record.encode(),
            ttl_seconds,
            metadata: None,
        },
    ]
}

/// KV `expirationTtl` for a value that must live until `until_ms`, written at `now_ms`: the
/// remaining time rounded up to whole seconds, at least KV's minimum of 60 s.
pub fn ttl_seconds(until_ms: u64, now_ms: u64) -> u64 {
    until_ms
        .saturating_sub(now_ms)
        .div_ceil(1000)
        .max(KV_MIN_TTL_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let id = SessionId::parse(&"x".repeat(22)).unwrap();
        assert_eq!(record_key(&id), format!("sess:{}", "x".repeat(22)));
        assert_eq!(activity_key(&id), format!("seen:{}", "x".repeat(22)));
        assert_eq!(
            index_key("alice", &id),
            format!("user:YWxpY2U:{}", "x".repeat(22))
        );
        assert!(index_key("a:b", &id).starts_with("user:YTpi:"));
        let prefix = index_prefix("alice");
        assert_eq!(id_of_index_key(&index_key("alice", &id), &prefix), Some(id));
        assert_eq!(id_of_index_key("user:YWxpY2U:short", &prefix), None);
        assert_eq!(id_of_index_key("sess:whatever", &prefix), None);
    }

    #[test]
    fn index_metadata_carries_the_creation_time() {
        assert_eq!(index_metadata(1_700_000_000_123), r#"{"c":1700000000123}"#);
        assert_eq!(
            parse_index_metadata(&index_metadata(42)),
            Some(42),
            "round trip"
        );
        for other in ["", "null", "{}", r#"{"c":"1"}"#, r#"{"c":-1}"#] {
            assert_eq!(parse_index_metadata(other), None, "{other}");
        }
    }

    #[test]
    fn ttl_has_kv_minimum() {
        assert_eq!(ttl_seconds(1_800_000, 0), 1800);
        assert_eq!(ttl_seconds(1_800_000, 1), 1800);
        assert_eq!(ttl_seconds(1_800_000, 1_799_999), 60);
        assert_eq!(ttl_seconds(0, 1_000_000_000), 60);
    }
}
