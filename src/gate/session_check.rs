//! Store → session checks: loads a verified session and checks its expiry and user-agent
//! binding. Checks that end a session (expiry, user-agent mismatch, an unusable record) end it in
//! the store before answering.

use super::cookie_check::{presented_cookie, Presented, VerifiedCookie};
use super::exchange::GateRequest;
use super::refusal::{store_refusal, Refusal, Refused};
use super::respond::Flow;
use crate::config::{SessionConfig, VerifiedBy};
use crate::headers::header_value;
use crate::session::{user_agent_fingerprint, Freshness, SessionId, SessionRecord};
use crate::store::{Loaded, SessionStore};

/// A session that passed every check.
pub(super) struct LiveSession {
    pub id: SessionId,
    pub record: SessionRecord,
    /// Keyed handle of the id (computed once: it goes into the log and the assertion).
    pub handle: String,
}

/// Loads the presented session and checks everything about it.
pub(super) async fn authenticate<'a, S: SessionStore>(
    flow: &mut Flow<'a>,
    sessions: &'a SessionConfig,
    store: &S,
    presented: &Presented,
    headers: &[(String, String)],
    now_ms: u64,
) -> Result<LiveSession, Refused> {
    let cookie = match presented {
        Presented::Absent => return Err((Refusal::MissingSession, None)),
        // Refused before any store read.
        Presented::Invalid(why) => {
            return Err((Refusal::InvalidSessionCookie, why.map(str::to_owned)))
        }
        Presented::Valid(cookie) => cookie,
    };
    let id = cookie.id.clone();
    let handle = sessions.assertion_key.session_handle(&id);
    flow.log.sid = Some(handle.clone());
    flow.log.secret = Some(cookie.by.log_name());
    if cookie.previous_name {
        flow.previous_cookie = sessions.previous_cookie.as_ref();
    }
    let record = match store.load(&id).await {
        Err(e) => return Err(store_refusal("session read", e)),
        Ok(Loaded::Missing) => return Err((Refusal::UnknownSession, None)),
        Ok(Loaded::Unusable(e)) => {
            let _ = store.end(&id, None).await;
            return Err((
                Refusal::UnknownSession,
                Some(format!("unusable record: {e}")),
            ));
        }
        Ok(Loaded::Found(record)) => record,
    };
    // A weak secret may be public (a tutorial's "keyboard cat"): anyone could sign any id with
    // it. It is trusted only for sessions taken over from the app, which it protected before the
    // move, never for the gateway's own; and before anything that could end the session.
    if matches!(cookie.by, VerifiedBy::WeakPrevious(_)) && !record.imported {
        return Err((
            Refusal::InvalidSessionCookie,
            Some("a weak previous secret signed a session the gateway created".to_owned()),
        ));
    }
    flow.log.user = Some(record.user.clone());
    let expired = match record.freshness(now_ms) {
        Freshness::Live => None,
        Freshness::IdleExpired => Some("idle timeout passed"),
        Freshness::AbsoluteExpired => Some("absolute timeout passed"),
    };
    if let Some(why) = expired {
        let _ = store.end(&id, Some(&record.user)).await;
        return Err((Refusal::SessionExpired, Some(why.to_owned())));
    }
    let fingerprint = user_agent_fingerprint(header_value(headers, "user-agent"));
    if !record.user_agent_matches(&fingerprint) {
        let detail = match store.end(&id, Some(&record.user)).await {
            Ok(()) => "session ended".to_owned(),
            Err(e) => format!("session end failed: {e}"),
        };
        return Err((Refusal::UserAgentMismatch, Some(detail)));
    }
    reissue(flow, sessions, cookie, &record, now_ms);
    Ok(LiveSession { id, record, handle })
}

/// A cookie that verified with a previous secret, or came under the previous name, is issued
/// again under the current secret and name: same id, same remaining lifetime, the configured
/// `Domain` and `Path` (so it replaces the browser's cookie instead of adding one). A cookie under
/// the previous name is cleared with that name's own `Domain` and `Path`. Where a name has a
/// `Domain`, a host-only cookie of that name is cleared as well.
fn reissue(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    cookie: &VerifiedCookie,
    record: &SessionRecord,
    now_ms: u64,
) {
    if cookie.by == VerifiedBy::Current && !cookie.previous_name {
        return;
    }
    let remaining_s = record
        .absolute_expires
        .saturating_sub(now_ms)
        .div_ceil(1000);
    let signed = format!("s:{}", sessions.keyring.sign(cookie.id.as_str()));
    flow.set_cookie = Some(sessions.cookie.set_cookie(&signed, remaining_s));
    // A browser may hold a host-only cookie of the name beside the `Domain` one (the app's, from
    // before it set a `Domain`), sent first: removed too, so that one cookie is left.
    let mut clears = vec![sessions.cookie.clear_host_only_cookie()];
    if let Some(previous) = flow.previous_cookie.take() {
        clears.push(Some(previous.clear_cookie()));
        clears.push(previous.clear_host_only_cookie());
    }
    for line in clears.into_iter().flatten() {
        flow.extra_headers.push(("set-cookie".to_owned(), line));
    }
}

/// The session of a request to a built-in endpoint that needs one: the session settings, the
/// presented cookie and the checked session.
pub(super) async fn endpoint_session<'c, S: SessionStore, B>(
    flow: &mut Flow<'c>,
    sessions: Option<&'c SessionConfig>,
    store: &S,
    request: &GateRequest<B>,
    now_ms: u64,
) -> Result<(&'c SessionConfig, Presented, LiveSession), Refused> {
    let sessions = sessions.ok_or_else(super::session_settings_invalid)?;
    let presented = presented_cookie(sessions, &request.headers, now_ms);
    let live = authenticate(flow, sessions, store, &presented, &request.headers, now_ms).await?;
    Ok((sessions, presented, live))
}
