//! Origin instructions: the origin's `Sessiongate-Login` and `Sessiongate-Logout` response
//! headers, applied by the gateway (it owns sessions: it creates and ends them and sets or clears
//! the cookie), and the ending of sessions shared with the built-in logout endpoint.

use super::cookie_check::Presented;
use super::refusal::{store_refusal, Refusal, Refused};
use super::respond::Flow;
use super::session_check::LiveSession;
use crate::config::SessionConfig;
use crate::json::{once, read_object, JsonObject, Reader};
use crate::session::{
    is_valid_user, user_agent_fingerprint, SessionId, SessionRecord, MAX_DATA_LEN,
};
use crate::store::{Loaded, SessionStore, StoreError};

/// Header name of the origin's login instruction.
pub const LOGIN_HEADER: &str = "sessiongate-login";
/// Header name of the origin's logout instruction.
pub const LOGOUT_HEADER: &str = "sessiongate-logout";
/// Header telling the client how many sessions a "log out everywhere" has left for a later call.
pub const LOGOUT_REMAINING_HEADER: &str = "x-sessiongate-logout-remaining";

/// The login instruction: `{"user":"alice","data":{...}}`.
struct LoginInstruction {
    user: String,
    data: Option<JsonObject>,
}

impl LoginInstruction {
    /// `user` once and `data` (an object or null) at most once, nothing else.
    fn read(json: &str) -> Option<Self> {
        let (mut user, mut data) = (None, None);
        read_object(json, |name, value| match name {
            "user" => once(&mut user, value.string()),
            "data" => once(&mut data, value.nullable(Reader::object_text)),
            _ => None,
        })?;
        Some(LoginInstruction {
            user: user?,
            data: data.flatten(),
        })
    }
}

fn parse_login(raw: &str) -> Result<LoginInstruction, String> {
    let login = LoginInstruction::read(raw.trim())
        .ok_or_else(|| "Sessiongate-Login is not {\"user\":…,\"data\":{…}} JSON".to_owned())?;
    if !is_valid_user(&login.user) {
        return Err("Sessiongate-Login user must be 1-256 printable ASCII characters".to_owned());
    }
    if let Some(data) = &login.data {
        if data.as_str().len() > MAX_DATA_LEN {
            return Err(format!(
                "Sessiongate-Login data is larger than {MAX_DATA_LEN} bytes"
            ));
        }
    }
    Ok(login)
}

/// Which sessions a logout ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LogoutScope {
    /// The current session.
    Session,
    /// Every session of the current user.
    AllOfUser,
}

fn parse_logout(raw: &str) -> Result<LogoutScope, String> {
    match raw.trim() {
        "session" => Ok(LogoutScope::Session),
        "all" => Ok(LogoutScope::AllOfUser),
        _ => Err("Sessiongate-Logout must be `session` or `all`".to_owned()),
    }
}

/// The client's side of a request, for the instructions.
pub(super) struct Caller<'a> {
    pub presented: &'a Presented,
    pub live: Option<&'a LiveSession>,
    pub user_agent: Option<&'a str>,
}

/// What a logout did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LoggedOut {
    /// Sessions ended, the current one included when it was.
    pub ended: usize,
    /// Sessions of the user left for a later call (the current one is then kept, so the caller
    /// can make that call).
    pub remaining: usize,
}

/// Ends the caller's session, or all of its user's. With more sessions than one request may end,
/// the others are ended as far as the request goes and the current session is kept until none
/// is left, so a repeated call finishes the work.
pub(super) async fn end_sessions<S: SessionStore>(
    store: &S,
    scope: LogoutScope,
    caller: &Caller<'_>,
) -> Result<LoggedOut, StoreError> {
    let (id, user) = match (caller.live, caller.presented) {
        (Some(live), _) => (live.id.clone(), Some(live.record.user.clone())),
        (None, Presented::Valid(cookie)) => match store.load(&cookie.id).await? {
            Loaded::Found(record) => (cookie.id.clone(), Some(record.user)),
            Loaded::Missing | Loaded::Unusable(_) => (cookie.id.clone(), None),
        },
        (None, _) => return Ok(LoggedOut::default()),
    };
    let mut out = LoggedOut::default();
    if let (LogoutScope::AllOfUser, Some(user)) = (scope, &user) {
        let others = store.end_all(user, Some(&id)).await?;
        out.ended = others.ended;
        out.remaining = others.remaining;
        if out.remaining > 0 {
            return Ok(out);
        }
    }
    store.end(&id, user.as_deref()).await?;
    out.ended += usize::from(user.is_some());
    Ok(out)
}

/// Records a logout in the flow: the cookie is cleared once the current session has ended, and
/// sessions left for a later call are announced to the client.
pub(super) fn logged_out(flow: &mut Flow<'_>, sessions: &SessionConfig, out: LoggedOut) {
    flow.log.event = "logout";
    flow.log.detail = Some(format!("{} ended, {} remaining", out.ended, out.remaining));
    if out.remaining == 0 {
        flow.set_cookie = Some(sessions.cookie.clear_cookie());
    } else {
        flow.extra_headers.push((
            LOGOUT_REMAINING_HEADER.to_owned(),
            out.remaining.to_string(),
        ));
    }
}

/// Applies the origin's login or logout instruction.
pub(super) async fn apply<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    login: Option<&str>,
    logout: Option<&str>,
    caller: &Caller<'_>,
    now_ms: u64,
) -> Result<(), Refused> {
    if login.is_some() && logout.is_some() {
        return Err((
            Refusal::OriginProtocolError,
            Some("both Sessiongate-Login and Sessiongate-Logout".to_owned()),
        ));
    }
    if let Some(raw) = logout {
        let scope = parse_logout(raw).map_err(|e| (Refusal::OriginProtocolError, Some(e)))?;
        let out = end_sessions(store, scope, caller)
            .await
            .map_err(|e| store_refusal("logout", e))?;
        logged_out(flow, sessions, out);
        return Ok(());
    }
    let Some(raw) = login else {
        return Ok(());
    };
    let login = parse_login(raw).map_err(|e| (Refusal::OriginProtocolError, Some(e)))?;
    // No fixation: whatever session the client had ends here, and the new one gets a fresh id.
    if let Err(e) = end_sessions(store, LogoutScope::Session, caller).await {
        flow.log.detail = Some(format!("previous session not ended: {e}"));
    }
    let id = SessionId::generate().map_err(|_| {
        (
            Refusal::InternalError,
            Some("CSPRNG unavailable".to_owned()),
        )
    })?;
    let fingerprint = sessions
        .ua_binding
        .then(|| user_agent_fingerprint(caller.user_agent));
    let mut record = SessionRecord::new(
        login.user,
        login.data,
        fingerprint,
        now_ms,
        &sessions.timeouts,
    );
    record.device = Some(crate::device::describe(caller.user_agent));
    store
        .create(&id, &record, now_ms)
        .await
        .map_err(|e| store_refusal("session write", e))?;
    let max_age = sessions.timeouts.absolute_ms / 1000;
    flow.set_cookie = Some(sessions.cookie.set_cookie(
        &format!("s:{}", sessions.keyring.sign(id.as_str())),
        max_age,
    ));
    flow.log.event = "login";
    flow.log.sid = Some(sessions.assertion_key.session_handle(&id));
    flow.created = Some(id);
    flow.log.user = Some(record.user);
    Ok(())
}
