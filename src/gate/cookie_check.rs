//! Cookie → signature: finds the session cookie and verifies it, before anything is read from
//! the store (a flood of forged cookies costs no store operations).

use crate::config::SessionConfig;
use crate::cookie::find_cookie;
use crate::session::SessionId;

/// The session cookie as presented by the client.
pub(super) enum Presented {
    /// No session cookie.
    Absent,
    /// A session cookie that is not `s:<id>.<signature>` under a configured secret, or whose id
    /// has a shape the gateway never issues.
    Invalid,
    /// A verified session id.
    Valid(SessionId),
}

/// All `Cookie` headers joined, as a server sees them after HTTP/2 cookie splitting.
fn cookie_header(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The session cookie of `headers`, verified against every secret (constant time).
pub(super) fn presented_cookie(
    sessions: &SessionConfig,
    headers: &[(String, String)],
) -> Presented {
    let header = cookie_header(headers);
    let Some(value) = find_cookie(&header, &sessions.cookie.name) else {
        return Presented::Absent;
    };
    let id = value
        .strip_prefix("s:")
        .and_then(|signed| sessions.keyring.unsign(signed).ok())
        .and_then(SessionId::parse);
    match id {
        Some(id) => Presented::Valid(id),
        None => Presented::Invalid,
    }
}
