//! Store → session checks: loads a verified session and checks its expiry and user-agent
//! binding. Checks that end a session (expiry, user-agent mismatch, an unusable record) end it in
//! the store before answering.

use super::cookie_check::{presented_cookie, Presented};
use super::exchange::GateRequest;
use super::refusal::{store_refusal, Refusal, Refused};
use super::respond::Flow;
use crate::config::SessionConfig;
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
pub(super) async fn authenticate<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    presented: &Presented,
    headers: &[(String, String)],
    now_ms: u64,
) -> Result<LiveSession, Refused> {
    let id = match presented {
        Presented::Absent => return Err((Refusal::MissingSession, None)),
        // Refused before any store read.
        Presented::Invalid => return Err((Refusal::InvalidSessionCookie, None)),
        Presented::Valid(id) => id.clone(),
    };
    let handle = sessions.assertion_key.session_handle(&id);
    flow.log.sid = Some(handle.clone());
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
    Ok(LiveSession { id, record, handle })
}

/// The session of a request to a built-in endpoint that needs one: the session settings, the
/// presented cookie and the checked session.
pub(super) async fn endpoint_session<'c, S: SessionStore, B>(
    flow: &mut Flow<'_>,
    sessions: Option<&'c SessionConfig>,
    store: &S,
    request: &GateRequest<B>,
    now_ms: u64,
) -> Result<(&'c SessionConfig, Presented, LiveSession), Refused> {
    let sessions = sessions.ok_or_else(super::session_settings_invalid)?;
    let presented = presented_cookie(sessions, &request.headers);
    let live = authenticate(flow, sessions, store, &presented, &request.headers, now_ms).await?;
    Ok((sessions, presented, live))
}
