//! The session model: ids, the record and its activity, timeouts, and the user-agent binding.
//! Where and how sessions are stored is the [`store`](crate::store)'s business.

use crate::json::{once, read_object, JsonObject, ObjectWriter, Reader};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Current version of the record schema (`"v"` in the JSON).
pub const RECORD_VERSION: u32 = 1;
/// Largest user id accepted, in bytes.
pub const MAX_USER_LEN: usize = 256;
/// Largest `data` object accepted, serialized, in bytes.
pub const MAX_DATA_LEN: usize = 2048;
/// A stored record larger than this is refused before parsing.
pub const MAX_RECORD_LEN: usize = 8192;

/// Random bytes in a new session id (256 bits).
const NEW_ID_BYTES: usize = 32;
/// Accepted id lengths: 22 characters of base64url carry 132 bits, the floor of "at least 128
/// bits"; express-session's own ids (24 random bytes) are 32 characters.
const MIN_ID_LEN: usize = 22;
const MAX_ID_LEN: usize = 64;

/// A session id whose shape has been checked: 22–64 characters of `A–Z a–z 0–9 - _`.
/// Only such ids ever reach a KV key. `Debug` does not show it (ids are bearer secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl core::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// The platform's random source failed; no session can be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomUnavailable;

impl core::fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the platform's random source is unavailable")
    }
}

impl std::error::Error for RandomUnavailable {}

impl SessionId {
    /// Parses an id taken from a verified cookie. `None` for any other shape.
    pub fn parse(candidate: &str) -> Option<Self> {
        let well_formed = (MIN_ID_LEN..=MAX_ID_LEN).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| SessionId(candidate.to_owned()))
    }

    /// A fresh id: 256 bits from the platform CSPRNG (`getrandom`; Web Crypto in a Worker).
    pub fn generate() -> Result<Self, RandomUnavailable> {
        let mut bytes = [0u8; NEW_ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| RandomUnavailable)?;
        Ok(SessionId(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The id text (for signing and store keys only; never log it).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a user id: 1–256 bytes of printable ASCII, no leading or trailing space. It travels in
/// a request header, so control characters are never allowed.
pub fn is_valid_user(user: &str) -> bool {
    (1..=MAX_USER_LEN).contains(&user.len())
        && user.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !user.starts_with(' ')
        && !user.ends_with(' ')
}

/// The binding value stored for a user agent: base64url SHA-256 of the header, absent or empty
/// both being the empty string.
pub fn user_agent_fingerprint(user_agent: Option<&str>) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(user_agent.unwrap_or("").as_bytes()))
}

/// The session record, stored as JSON (see `docs/kv-layout.md`). Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// Layout version ([`RECORD_VERSION`]).
    pub v: u32,
    /// The user id.
    pub user: String,
    /// Session data from the login instruction, as its exact JSON text.
    pub data: Option<JsonObject>,
    /// User-agent fingerprint, or `None` when binding was off at login.
    pub ua: Option<String>,
    /// Readable device label for the sessions page ("Firefox 133 on Linux"), set at login;
    /// absent in records written before it existed.
    pub device: Option<String>,
    /// Taken over from the app's own session store (`sessiongate import`), not created by the
    /// gateway. Absent (false) in records the gateway writes.
    pub imported: bool,
    /// When the session was created.
    pub created: u64,
    /// When the session was last seen (as of the record; see [`Activity`]).
    pub last_seen: u64,
    /// When the idle timeout ends (as of the record).
    pub idle_expires: u64,
    /// When the absolute lifetime ends.
    pub absolute_expires: u64,
}

/// When a session was last used, stored apart from its record.
///
/// The record is written once, at login, and only ever deleted after that; the sliding idle
/// expiry is refreshed here. KV has no compare-and-set, so a refresh that rewrote the record could
/// resurrect a session that was logged out elsewhere (a location still serving its cached copy
/// would write it back). Writing the refresh to its own key cannot undo a deletion of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activity {
    /// When the session was last seen.
    pub last_seen: u64,
    /// When its idle timeout ends.
    pub idle_expires: u64,
}

impl Activity {
    /// `None` for anything the gateway did not write (the record's own times then apply).
    pub fn decode(json: &str) -> Option<Self> {
        if json.len() > 256 {
            return None;
        }
        let (mut last_seen, mut idle_expires) = (None, None);
        read_object(json, |name, value| match name {
            "last_seen" => once(&mut last_seen, value.u64()),
            "idle_expires" => once(&mut idle_expires, value.u64()),
            _ => None,
        })?;
        Some(Activity {
            last_seen: last_seen?,
            idle_expires: idle_expires?,
        })
    }

    /// The JSON stored.
    pub fn encode(&self) -> String {
        format!(
            "{{\"last_seen\":{},\"idle_expires\":{}}}",
            self.last_seen, self.idle_expires
        )
    }
}

/// Why a stored record was not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Longer than [`MAX_RECORD_LEN`].
    TooLarge,
    /// Not a record the gateway could have written.
    Malformed,
    /// A `"v"` other than [`RECORD_VERSION`].
    UnsupportedVersion,
}

impl core::fmt::Display for RecordError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RecordError::TooLarge => "record too large",
            RecordError::Malformed => "malformed record",
            RecordError::UnsupportedVersion => "unsupported record version",
        })
    }
}

impl std::error::Error for RecordError {}

/// Idle and absolute lifetimes, and the least time between two refreshes, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Sliding idle timeout (`IDLE_TIMEOUT`).
    pub idle_ms: u64,
    /// Lifetime from login (`ABSOLUTE_TIMEOUT`).
    pub absolute_ms: u64,
    /// Least time between two refreshes of the idle expiry (`TOUCH_INTERVAL`).
    pub refresh_interval_ms: u64,
}

/// Where a loaded session stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Usable.
    Live,
    /// The idle timeout has passed.
    IdleExpired,
    /// The absolute lifetime has passed.
    AbsoluteExpired,
}

impl SessionRecord {
    /// A new record for `user`, created at `now_ms`.
    pub fn new(
        user: String,
        data: Option<JsonObject>,
        ua: Option<String>,
        now_ms: u64,
        timeouts: &Timeouts,
    ) -> Self {
        let absolute_expires = now_ms.saturating_add(timeouts.absolute_ms);
        SessionRecord {
            v: RECORD_VERSION,
            user,
            data,
            ua,
            device: None,
            imported: false,
            created: now_ms,
            last_seen: now_ms,
            idle_expires: now_ms
                .saturating_add(timeouts.idle_ms)
                .min(absolute_expires),
            absolute_expires,
        }
    }

    /// Parses a stored record, refusing oversized, malformed and foreign-version values, and
    /// values whose fields could not have been written by the gateway.
    pub fn decode(json: &str) -> Result<Self, RecordError> {
        if json.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge);
        }
        let record = Self::read(json).ok_or(RecordError::Malformed)?;
        if record.v != RECORD_VERSION {
            return Err(RecordError::UnsupportedVersion);
        }
        if !is_valid_user(&record.user) {
            return Err(RecordError::Malformed);
        }
        Ok(record)
    }

    /// The fields of a record object: each at most once, no other member; `data`, `device` and
    /// `imported` may be absent, `data`, `ua` and `device` null. `ua` is never absent: every
    /// record is written with it (null when unbound), so a record is read back exactly as long
    /// as it was written.
    fn read(json: &str) -> Option<Self> {
        let (mut v, mut user, mut data, mut ua, mut device, mut imported) =
            (None, None, None, None, None, None);
        let (mut created, mut last_seen, mut idle_expires, mut absolute_expires) =
            (None, None, None, None);
        read_object(json, |name, value| match name {
            "v" => once(&mut v, value.u32()),
            "user" => once(&mut user, value.string()),
            "data" => once(&mut data, value.nullable(Reader::object_text)),
            "ua" => once(&mut ua, value.nullable(Reader::string)),
            "device" => once(&mut device, value.nullable(Reader::string)),
            "imported" => once(&mut imported, value.bool()),
            "created" => once(&mut created, value.u64()),
            "last_seen" => once(&mut last_seen, value.u64()),
            "idle_expires" => once(&mut idle_expires, value.u64()),
            "absolute_expires" => once(&mut absolute_expires, value.u64()),
            _ => None,
        })?;
        Some(SessionRecord {
            v: v?,
            user: user?,
            data: data.flatten(),
            ua: ua?,
            device: device.flatten(),
            imported: imported.unwrap_or(false),
            created: created?,
            last_seen: last_seen?,
            idle_expires: idle_expires?,
            absolute_expires: absolute_expires?,
        })
    }

    /// The JSON stored in KV: `ua` always (null when binding was off), `data`, `device` and
    /// `imported` only when set.
    pub fn encode(&self) -> String {
        let mut object = ObjectWriter::new()
            .u64("v", u64::from(self.v))
            .string("user", &self.user);
        if let Some(data) = &self.data {
            object = object.json("data", data.as_str());
        }
        object = match &self.ua {
            Some(ua) => object.string("ua", ua),
            None => object.json("ua", "null"),
        };
        if let Some(device) = &self.device {
            object = object.string("device", device);
        }
        if self.imported {
            object = object.flag("imported");
        }
        object
            .u64("created", self.created)
            .u64("last_seen", self.last_seen)
            .u64("idle_expires", self.idle_expires)
            .u64("absolute_expires", self.absolute_expires)
            .finish()
    }

    /// The record with its latest activity applied (activity never extends the absolute expiry).
    pub fn with_activity(mut self, activity: Option<Activity>) -> Self {
        if let Some(a) = activity.filter(|a| a.last_seen > self.last_seen) {
            self.last_seen = a.last_seen;
            self.idle_expires = a.idle_expires.min(self.absolute_expires);
        }
        self
    }

    /// The activity of this record.
    pub fn activity(&self) -> Activity {
        Activity {
            last_seen: self.last_seen,
            idle_expires: self.idle_expires,
        }
    }

    /// Whether the session may still be used at `now_ms`. Checked by the gateway itself on every
    /// request, whatever KV's TTL did.
    pub fn freshness(&self, now_ms: u64) -> Freshness {
        if now_ms >= self.absolute_expires {
            Freshness::AbsoluteExpired
        } else if now_ms >= self.idle_expires {
            Freshness::IdleExpired
        } else {
            Freshness::Live
        }
    }

    /// The refreshed activity when the last refresh is at least one refresh interval old.
    pub fn refreshed(&self, now_ms: u64, timeouts: &Timeouts) -> Option<Activity> {
        if now_ms.saturating_sub(self.last_seen) < timeouts.refresh_interval_ms {
            return None;
        }
        Some(Activity {
            last_seen: now_ms,
            idle_expires: now_ms
                .saturating_add(timeouts.idle_ms)
                .min(self.absolute_expires),
        })
    }

    /// Whether `fingerprint` matches the binding (always true for a record bound to nothing).
    pub fn user_agent_matches(&self, fingerprint: &str) -> bool {
        use subtle::ConstantTimeEq;
        match &self.ua {
            None => true,
            Some(bound) => bool::from(bound.as_bytes().ct_eq(fingerprint.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        idle_ms: 1_800_000,
        absolute_ms: 86_400_000,
        refresh_interval_ms: 60_000,
    };

    #[test]
    fn generated_ids_are_valid_long_and_distinct() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn id_shape_is_checked() {
        assert!(SessionId::parse(&"a".repeat(22)).is_some());
        assert!(SessionId::parse(&"a".repeat(21)).is_none());
        assert!(SessionId::parse(&"a".repeat(64)).is_some());
        assert!(SessionId::parse(&"a".repeat(65)).is_none());
        for bad in [
            "aaaaaaaaaaaaaaaaaaaaa:a",
            "aaaaaaaaaaaaaaaaaaaaa/a",
            "aaaaaaaaaaaaaaaaaaaaa.a",
            "aaaaaaaaaaaaaaaaaaaaa a",
            "aaaaaaaaaaaaaaaaaaaaa\na",
            "aaaaaaaaaaaaaaaaaaaaaéa",
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad:?}");
        }
        // express-session's uid-safe ids are accepted.
        assert!(SessionId::parse("Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH").is_some());
    }

    #[test]
    fn id_debug_is_redacted() {
        let id = SessionId::parse(&"x".repeat(30)).unwrap();
        assert!(!format!("{id:?}").contains("xxx"));
    }

    #[test]
    fn users() {
        assert!(is_valid_user("alice@example.com"));
        assert!(is_valid_user("a b"));
        assert!(!is_valid_user(""));
        assert!(!is_valid_user(" a"));
        assert!(!is_valid_user("a\r\nX-Injected: 1"));
        assert!(!is_valid_user("é"));
        assert!(!is_valid_user(&"a".repeat(257)));
    }

    #[test]
    fn record_round_trip_and_schema() {
        let r = SessionRecord::new(
            "alice".into(),
            None,
            Some(user_agent_fingerprint(Some("UA"))),
            1_000,
            &T,
        );
        let json = r.encode();
        assert!(json.starts_with("{\"v\":1,\"user\":\"alice\""), "{json}");
        assert_eq!(SessionRecord::decode(&json), Ok(r.clone()));
        // `ua` is written null when unbound, and a record without it at all is not one the
        // gateway wrote.
        let unbound = SessionRecord { ua: None, ..r };
        let json = unbound.encode();
        assert!(json.contains(",\"ua\":null,"), "{json}");
        assert_eq!(SessionRecord::decode(&json), Ok(unbound));
        assert_eq!(
            SessionRecord::decode(&json.replace(",\"ua\":null", "")),
            Err(RecordError::Malformed)
        );
    }

    #[test]
    fn numbers_in_data_survive_decode_and_encode_exactly() {
        // Found by fuzzing: serde_json's default float parser read this one ulp off, so each
        // refresh (decode, then encode) could change the data the origin stored. Data is now
        // kept as text, so it cannot drift.
        let text = r#"{"n":-1.5715450039294425e202,"m":0.1000000000000000055511151231257827}"#;
        let mut r = SessionRecord::new("alice".into(), None, None, 0, &T);
        r.data = JsonObject::parse(text);
        let json = r.encode();
        assert!(json.contains(text), "{json}");
        let decoded = SessionRecord::decode(&json).unwrap();
        assert_eq!(decoded.data.as_ref().map(JsonObject::as_str), Some(text));
        assert_eq!(decoded.encode(), json);
        let not_an_object = json.replace(text, "[1,2]");
        assert_eq!(
            SessionRecord::decode(&not_an_object),
            Err(RecordError::Malformed)
        );
    }

    #[test]
    fn activity_slides_the_idle_expiry_but_never_the_absolute_one() {
        let r = SessionRecord::new("alice".into(), None, None, 1_000, &T);
        let a = Activity {
            last_seen: 50_000,
            idle_expires: 50_000 + T.idle_ms,
        };
        assert_eq!(Activity::decode(&a.encode()), Some(a));
        let merged = r.clone().with_activity(Some(a));
        assert_eq!(
            (merged.last_seen, merged.idle_expires),
            (50_000, 50_000 + T.idle_ms)
        );
        assert_eq!(merged.absolute_expires, r.absolute_expires);
        let beyond = Activity {
            last_seen: 90_000_000,
            idle_expires: 200_000_000,
        };
        assert_eq!(
            r.clone().with_activity(Some(beyond)).idle_expires,
            r.absolute_expires
        );
        let older = Activity {
            last_seen: 500,
            idle_expires: 999_999_999,
        };
        assert_eq!(
            r.clone().with_activity(Some(older)),
            r,
            "older activity is ignored"
        );
        assert_eq!(r.clone().with_activity(None), r);
        for junk in [
            "",
            "[1,2]",
            "{\"last_seen\":1}",
            "{\"last_seen\":1,\"idle_expires\":2,\"x\":3}",
        ] {
            assert_eq!(Activity::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn bad_records_are_refused() {
        assert_eq!(SessionRecord::decode("nope"), Err(RecordError::Malformed));
        assert_eq!(
            SessionRecord::decode(&"x".repeat(MAX_RECORD_LEN + 1)),
            Err(RecordError::TooLarge)
        );
        let r = SessionRecord::new("alice".into(), None, None, 0, &T);
        let v2 = r.encode().replace("\"v\":1", "\"v\":2");
        assert_eq!(
            SessionRecord::decode(&v2),
            Err(RecordError::UnsupportedVersion)
        );
        let bad_user = r.encode().replace("alice", "al\\nice");
        assert_eq!(
            SessionRecord::decode(&bad_user),
            Err(RecordError::Malformed)
        );
        let extra = r.encode().replace("{\"v\":1", "{\"v\":1,\"admin\":true");
        assert_eq!(SessionRecord::decode(&extra), Err(RecordError::Malformed));
    }

    #[test]
    fn expiry() {
        let r = SessionRecord::new("a".into(), None, None, 0, &T);
        assert_eq!(r.freshness(T.idle_ms - 1), Freshness::Live);
        assert_eq!(r.freshness(T.idle_ms), Freshness::IdleExpired);
        let mut long = r.clone();
        long.idle_expires = u64::MAX;
        assert_eq!(long.freshness(T.absolute_ms), Freshness::AbsoluteExpired);
    }

    #[test]
    fn refresh_is_throttled_and_capped_by_absolute_expiry() {
        let r = SessionRecord::new("a".into(), None, None, 0, &T);
        assert!(r.refreshed(T.refresh_interval_ms - 1, &T).is_none());
        let a = r.refreshed(T.refresh_interval_ms, &T).unwrap();
        assert_eq!(a.last_seen, T.refresh_interval_ms);
        assert_eq!(a.idle_expires, T.refresh_interval_ms + T.idle_ms);
        let late = r.refreshed(T.absolute_ms - 10, &T).unwrap();
        assert_eq!(late.idle_expires, T.absolute_ms);
    }

    #[test]
    fn user_agent_binding() {
        let fp = user_agent_fingerprint(Some("Mozilla/5.0"));
        let r = SessionRecord::new("a".into(), None, Some(fp.clone()), 0, &T);
        assert!(r.user_agent_matches(&fp));
        assert!(!r.user_agent_matches(&user_agent_fingerprint(Some("curl/8"))));
        assert!(!r.user_agent_matches(&user_agent_fingerprint(None)));
        assert_eq!(
            user_agent_fingerprint(None),
            user_agent_fingerprint(Some(""))
        );
        let unbound = SessionRecord::new("a".into(), None, None, 0, &T);
        assert!(unbound.user_agent_matches(&user_agent_fingerprint(Some("anything"))));
    }
}
