//! The operators' session admin API under `{GATEWAY_PATH}/admin/`, present only when
//! `ADMIN_TOKENS` is set (otherwise `/admin/*` is the ordinary 404). Every call carries
//! `Authorization: Bearer <token>`; the token names the operator, and every call is logged with
//! that name (never the token).
//!
//! - `GET  /admin/sessions?user=<user>[&offset=<n>]`: the user's live sessions (handle, device,
//!   created, last seen), most recently active first, a page of [`SESSIONS_PER_PAGE`] at a time;
//! - `DELETE /admin/sessions/<handle>?user=<user>`: ends that session;
//! - `POST /admin/sessions/end-all?user=<user>`: ends the user's sessions, as many as one request
//!   may (KV's operation limit), answering how many are `remaining` for another call.
//!
//! Sessions are named by their handle (the keyed hash of the assertion's `sid`), never by id.

use std::borrow::Cow;

use serde::Serialize;

use super::exchange::GateRequest;
use super::refusal::{store_refusal, Refusal, Refused};
use super::respond::{Flow, Outcome};
use super::sessions_page::{
    live_sessions, page_json, query_number, query_param, SESSIONS_PER_PAGE,
};
use crate::config::{AdminTokens, SessionConfig};
use crate::cookie::decode_uri_component;
use crate::headers::header_value;
use crate::session::is_valid_user;
use crate::store::SessionStore;

/// The admin path after `/admin`, if `endpoint` (the path after `GATEWAY_PATH`) is one.
pub(super) fn route(endpoint: &str) -> Option<&str> {
    let rest = endpoint.strip_prefix("/admin")?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The operator whose token the request's `Authorization: Bearer` header carries.
pub(super) fn bearer_operator<'t>(
    tokens: &'t AdminTokens,
    headers: &[(String, String)],
) -> Option<&'t str> {
    let value = header_value(headers, "authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    tokens.operator(token.trim())
}

/// The admin API of one configuration.
pub(super) struct Admin<'c> {
    pub tokens: &'c AdminTokens,
    pub sessions: Option<&'c SessionConfig>,
}

#[derive(Serialize)]
struct AdminSession {
    handle: String,
    device: String,
    created: u64,
    last_seen: u64,
}

/// A query parameter, percent-decoded (`+` is a space, as `URLSearchParams` writes it; an
/// encoded `%2B` stays a plus).
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let raw = query_param(query, name)?.replace('+', " ");
    decode_uri_component(&raw).map(Cow::into_owned)
}

type Answer = Result<String, Refused>;

impl Admin<'_> {
    /// Answers `rest`, the path after `/admin`.
    pub(super) async fn answer<S: SessionStore, B, Body>(
        self,
        mut flow: Flow<'_>,
        store: &S,
        rest: &str,
        request: &GateRequest<Body>,
        now_ms: u64,
    ) -> Outcome<B> {
        flow.log.event = "admin";
        let Some(operator) = bearer_operator(self.tokens, &request.headers) else {
            flow.extra_headers
                .push(("www-authenticate".to_owned(), "Bearer".to_owned()));
            return flow.refuse((Refusal::AdminUnauthorized, None));
        };
        flow.log.operator = Some(operator.to_owned());
        let is = |m: &str| request.method.eq_ignore_ascii_case(m);
        let allowed = match rest {
            "/sessions" => is("GET"),
            "/sessions/end-all" => is("POST"),
            _ if rest.starts_with("/sessions/") => is("DELETE"),
            _ => return flow.refuse((Refusal::NotFound, None)),
        };
        if !allowed {
            return flow.refuse((Refusal::MethodNotAllowed, None));
        }
        let Some(sessions) = self.sessions else {
            return flow.refuse(super::session_settings_invalid());
        };
        let query = request.query.as_deref();
        let Some(user) = query_value(query, "user").filter(|u| is_valid_user(u)) else {
            return flow.refuse((
                Refusal::BadRequest,
                Some("?user= must name a user (1-256 printable ASCII characters)".to_owned()),
            ));
        };
        flow.log.user = Some(user.clone());
        let answer = match rest {
            "/sessions" => {
                let offset = query_number(query, "offset").unwrap_or(0);
                list(&mut flow, sessions, store, &user, offset, now_ms).await
            }
            "/sessions/end-all" => end_all(&mut flow, store, &user).await,
            _ => {
                let handle = rest.strip_prefix("/sessions/").unwrap_or("");
                end_one(&mut flow, sessions, store, &user, handle).await
            }
        };
        match answer {
            Ok(body) => flow.json_ok(body),
            Err(refused) => flow.refuse(refused),
        }
    }
}

async fn list<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    user: &str,
    offset: usize,
    now_ms: u64,
) -> Answer {
    let ids = store
        .ids_of(user)
        .await
        .map_err(|e| store_refusal("session list", e))?;
    let (found, unread) = live_sessions(store, user, &ids, now_ms).await?;
    let total = found.len();
    let views: Vec<AdminSession> = found
        .into_iter()
        .skip(offset)
        .take(SESSIONS_PER_PAGE)
        .map(|(id, record)| AdminSession {
            handle: sessions.assertion_key.session_handle(&id),
            device: record.device.unwrap_or_else(|| "Unknown device".to_owned()),
            created: record.created,
            last_seen: record.last_seen,
        })
        .collect();
    page_json(flow, user, views, total, offset, unread)
}

async fn end_one<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    user: &str,
    handle: &str,
) -> Answer {
    let ids = store
        .ids_of(user)
        .await
        .map_err(|e| store_refusal("session list", e))?;
    let Some(id) = ids
        .into_iter()
        .find(|id| sessions.assertion_key.session_handle(id) == handle)
    else {
        return Err((
            Refusal::NotFound,
            Some("no such session of this user".to_owned()),
        ));
    };
    store
        .end(&id, Some(user))
        .await
        .map_err(|e| store_refusal("session end", e))?;
    flow.log.sid = Some(handle.to_owned());
    flow.log.detail = Some("session ended".to_owned());
    Ok("{\"ok\":true,\"ended\":1,\"remaining\":0}".to_owned())
}

async fn end_all<S: SessionStore>(flow: &mut Flow<'_>, store: &S, user: &str) -> Answer {
    let ending = store
        .end_all(user, None)
        .await
        .map_err(|e| store_refusal("session end", e))?;
    flow.log.detail = Some(format!(
        "{} sessions ended, {} remaining",
        ending.ended, ending.remaining
    ));
    Ok(format!(
        "{{\"ok\":true,\"ended\":{},\"remaining\":{}}}",
        ending.ended, ending.remaining
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let q = Some("user=alice%40example.com&offset=100&x=a+b");
        assert_eq!(query_value(q, "user").as_deref(), Some("alice@example.com"));
        assert_eq!(query_value(q, "offset").as_deref(), Some("100"));
        assert_eq!(query_value(q, "x").as_deref(), Some("a b"));
        assert_eq!(query_value(q, "missing"), None);
        assert_eq!(query_value(Some("user=%4"), "user"), None);
        assert_eq!(query_value(Some("user=%zz"), "user"), None);
        assert_eq!(query_value(Some("user=%ff"), "user"), None, "not UTF-8");
        assert_eq!(
            query_value(Some("user=%+a"), "user"),
            None,
            "a sign is no hex digit"
        );
        assert_eq!(
            query_value(Some("user=a%2Bb"), "user").as_deref(),
            Some("a+b")
        );
        assert_eq!(route("/admin/sessions"), Some("/sessions"));
        assert_eq!(route("/administrator"), None);
    }
}
