//! Cookie → signature: finds the session cookie and verifies it, before anything is read from
//! the store (a flood of forged cookies costs no store operations). The cookie is looked for under
//! `COOKIE_NAME`, then under `COOKIE_NAME_PREVIOUS`, and verified against every secret; which
//! secret verified it and under which name it came decide whether it is re-issued.

use crate::config::{SessionConfig, VerifiedBy};
use crate::cookie::find_cookie;
use crate::session::SessionId;

/// The session cookie as presented by the client.
pub(super) enum Presented {
    /// No session cookie.
    Absent,
    /// A session cookie that is not `s:<id>.<signature>` under a configured secret, or whose id
    /// has a shape the gateway never issues; the detail says why when the log should know.
    Invalid(Option<&'static str>),
    /// A verified session id.
    Valid(VerifiedCookie),
}

/// A session cookie whose signature verified.
pub(super) struct VerifiedCookie {
    pub id: SessionId,
    /// The secret that verified it.
    pub by: VerifiedBy,
    /// It came under `COOKIE_NAME_PREVIOUS`.
    pub previous_name: bool,
}

/// All `Cookie` headers joined, as a server sees them after HTTP/2 cookie splitting.
pub(super) fn cookie_header(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The session cookie of `headers`, verified against every secret (constant time) at `now_ms`.
pub(super) fn presented_cookie(
    sessions: &SessionConfig,
    headers: &[(String, String)],
    now_ms: u64,
) -> Presented {
    let header = cookie_header(headers);
    let (value, previous_name) = match find_cookie(&header, &sessions.cookie.name) {
        Some(value) => (value, false),
        None => match sessions
            .previous_cookie
            .as_ref()
            .and_then(|previous| find_cookie(&header, &previous.name))
        {
            Some(value) => (value, true),
            None => return Presented::Absent,
        },
    };
    let Some((id, position)) = value
        .strip_prefix("s:")
        .and_then(|signed| sessions.keyring.verify(signed).ok())
    else {
        return Presented::Invalid(None);
    };
    let Some(id) = SessionId::parse(id) else {
        return Presented::Invalid(None);
    };
    match sessions.secrets.role(position, now_ms) {
        (by, true) => Presented::Valid(VerifiedCookie {
            id,
            by,
            previous_name,
        }),
        (_, false) => Presented::Invalid(Some(
            "verified only by a weak previous secret past ALLOW_WEAK_PREVIOUS_SECRETS",
        )),
    }
}
