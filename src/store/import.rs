//! Sessions taken over from an express-session store (`sessiongate import`): an old session,
//! already mapped by the import tool (user, data, user agent, expiry), becomes the gateway's record
//! and index entry under the **same id**, so the app's existing cookies keep working. The entries
//! are the ones the gateway itself writes at login ([`new_session_entries`]): one layout, one
//! implementation.

use super::layout::{new_session_entries, Entry};
use crate::json::{once, read_object, JsonObject, Reader};
use crate::session::{
    is_valid_user, user_agent_fingerprint, SessionId, SessionRecord, Timeouts, MAX_DATA_LEN,
};

/// An old session, as the import tool mapped it. Times are Unix milliseconds.
#[derive(Clone, Debug)]
pub struct OldSession {
    /// express-session's id (what its cookie signs).
    pub id: String,
    /// The user the session belongs to.
    pub user: String,
    /// Fields passed on to the origin, as a JSON object.
    pub data: Option<JsonObject>,
    /// The user agent the app stored in the session, for the user-agent binding.
    pub user_agent: Option<String>,
    /// When the old session expires (`cookie.expires` or the store's own expiry).
    pub expires: u64,
    /// When the old session was created, if the store knows.
    pub created: Option<u64>,
}

impl OldSession {
    /// `{"id","user","data"?,"user_agent"?,"expires","created"?}`, the optional ones absent or
    /// null, nothing else.
    pub fn decode(json: &str) -> Option<Self> {
        let (mut id, mut user, mut data, mut user_agent, mut expires, mut created) =
            (None, None, None, None, None, None);
        read_object(json, |name, value| match name {
            "id" => once(&mut id, value.string()),
            "user" => once(&mut user, value.string()),
            "data" => once(&mut data, value.nullable(Reader::object_text)),
            "user_agent" => once(&mut user_agent, value.nullable(Reader::string)),
            "expires" => once(&mut expires, value.u64()),
            "created" => once(&mut created, value.nullable(Reader::u64)),
            _ => None,
        })?;
        Some(OldSession {
            id: id?,
            user: user?,
            data: data.flatten(),
            user_agent: user_agent.flatten(),
            expires: expires?,
            created: created.flatten(),
        })
    }
}

/// Why an old session is not taken over; the import tool counts them by [`Skip::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The id is not one the gateway accepts (22–64 characters of `A–Z a–z 0–9 - _`).
    InvalidId,
    /// The user is not 1–256 printable ASCII characters.
    InvalidUser,
    /// The data is larger than the gateway keeps.
    DataTooLarge,
    /// The old session has already expired.
    Expired,
}

impl Skip {
    /// Stable code of the reason.
    pub fn code(self) -> &'static str {
        match self {
            Skip::InvalidId => "invalid_id",
            Skip::InvalidUser => "invalid_user",
            Skip::DataTooLarge => "data_too_large",
            Skip::Expired => "expired",
        }
    }
}

/// The gateway's entries for `old`, imported at `now_ms` under `timeouts`.
///
/// The absolute expiry is the old session's own, capped by `ABSOLUTE_TIMEOUT` from its creation
/// (or from the import when the store does not say when it was created), never extended by the
/// import. `created` is the old session's creation when known, else the import time; `last_seen`
/// is the import time, so the idle timeout runs from the import. With a user agent, the session
/// is bound to it as at a login; without one, it is not bound.
pub fn import_entries(
    old: OldSession,
    timeouts: &Timeouts,
    now_ms: u64,
) -> Result<[Entry; 2], Skip> {
    let id = SessionId::parse(&old.id).ok_or(Skip::InvalidId)?;
    if !is_valid_user(&old.user) {
        return Err(Skip::InvalidUser);
    }
    if old
        .data
        .as_ref()
        .is_some_and(|d| d.as_str().len() > MAX_DATA_LEN)
    {
        return Err(Skip::DataTooLarge);
    }
    let created = old.created.filter(|&c| c <= now_ms).unwrap_or(now_ms);
    let absolute_expires = old
        .expires
        .min(created.saturating_add(timeouts.absolute_ms));
    if absolute_expires <= now_ms {
        return Err(Skip::Expired);
    }
    let user_agent = old.user_agent.as_deref();
    let record = SessionRecord {
        v: crate::session::RECORD_VERSION,
        ua: user_agent.map(|ua| user_agent_fingerprint(Some(ua))),
        device: Some(crate::device::describe(user_agent)),
        imported: true,
        created,
        last_seen: now_ms,
        idle_expires: now_ms
            .saturating_add(timeouts.idle_ms)
            .min(absolute_expires),
        absolute_expires,
        user: old.user,
        data: old.data,
    };
    Ok(new_session_entries(&id, &record, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::{index_key, parse_index_metadata, record_key};

    const NOW: u64 = 1_700_000_000_000;
    const T: Timeouts = Timeouts {
        idle_ms: 1_800_000,
        absolute_ms: 86_400_000,
        refresh_interval_ms: 60_000,
    };
    const ID: &str = "Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH";

    fn old() -> OldSession {
        OldSession {
            id: ID.into(),
            user: "alice".into(),
            data: JsonObject::parse(r#"{"role":"admin"}"#),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into()),
            expires: NOW + 3_600_000,
            created: Some(NOW - 600_000),
        }
    }

    #[test]
    fn an_old_session_becomes_the_gateways_record_under_the_same_id() {
        let [index, record] = import_entries(old(), &T, NOW).unwrap();
        let id = SessionId::parse(ID).unwrap();
        assert_eq!(index.key, index_key("alice", &id));
        assert_eq!(record.key, record_key(&id));
        assert_eq!(index.ttl_seconds, 3600);
        assert_eq!(record.ttl_seconds, 3600);
        // The old creation time is in the index (`MAX_SESSIONS_PER_USER` ends the oldest by it).
        assert_eq!(
            index.metadata.as_deref().and_then(parse_index_metadata),
            Some(NOW - 600_000)
        );
        assert_eq!(record.metadata, None);
        let decoded = SessionRecord::decode(&record.value).unwrap();
        assert!(decoded.imported);
        assert_eq!(decoded.created, NOW - 600_000);
        assert_eq!(decoded.last_seen, NOW);
        assert_eq!(decoded.absolute_expires, NOW + 3_600_000);
        assert_eq!(decoded.idle_expires, NOW + T.idle_ms);
        assert_eq!(
            decoded.data.as_ref().unwrap().as_str(),
            r#"{"role":"admin"}"#
        );
        assert!(decoded.user_agent_matches(&user_agent_fingerprint(old().user_agent.as_deref())));
        assert_eq!(decoded.device.as_deref(), Some("Firefox 133 on Linux"));
    }

    #[test]
    fn the_absolute_timeout_caps_the_old_expiry_and_the_import_never_extends_it() {
        let mut long = old();
        long.expires = NOW + 30 * 86_400_000;
        let [_, record] = import_entries(long.clone(), &T, NOW).unwrap();
        let decoded = SessionRecord::decode(&record.value).unwrap();
        assert_eq!(decoded.absolute_expires, NOW - 600_000 + T.absolute_ms);
        // Without a creation time, the cap counts from the import.
        long.created = None;
        let [_, record] = import_entries(long, &T, NOW).unwrap();
        let decoded = SessionRecord::decode(&record.value).unwrap();
        assert_eq!(
            (decoded.created, decoded.absolute_expires),
            (NOW, NOW + T.absolute_ms)
        );
    }

    #[test]
    fn without_a_user_agent_the_session_is_not_bound() {
        let mut unbound = old();
        unbound.user_agent = None;
        let [_, record] = import_entries(unbound, &T, NOW).unwrap();
        let decoded = SessionRecord::decode(&record.value).unwrap();
        assert_eq!(decoded.ua, None);
        assert!(decoded.user_agent_matches(&user_agent_fingerprint(Some("anything"))));
    }

    #[test]
    fn what_the_gateway_would_refuse_is_skipped_with_a_reason() {
        type Change = fn(&mut OldSession);
        let cases: [(Change, Skip); 5] = [
            (|o| o.id = "short".into(), Skip::InvalidId),
            (|o| o.id = format!("{ID}.sig"), Skip::InvalidId),
            (|o| o.user = "al\nice".into(), Skip::InvalidUser),
            (
                |o| o.data = JsonObject::parse(&format!(r#"{{"x":"{}"}}"#, "a".repeat(3000))),
                Skip::DataTooLarge,
            ),
            (|o| o.expires = NOW, Skip::Expired),
        ];
        for (change, skip) in cases {
            let mut session = old();
            change(&mut session);
            assert_eq!(import_entries(session, &T, NOW).err(), Some(skip));
        }
    }
}
