//! The built-in endpoints under `GATEWAY_PATH`: the logout endpoint here, the sessions page and
//! its API in [`sessions_page`](super::sessions_page).

use super::exchange::GateRequest;
use super::instructions::{end_sessions, logged_out, Caller, LogoutScope};
use super::refusal::{store_refusal, Refusal};
use super::respond::{Flow, Outcome};
use super::session_check::endpoint_session;
use super::sessions_page;
use crate::config::SessionConfig;
use crate::store::SessionStore;

/// Answers a request under `GATEWAY_PATH`; `endpoint` is the path after it.
pub(super) async fn answer<S: SessionStore, B, Body>(
    mut flow: Flow<'_>,
    sessions: Option<&SessionConfig>,
    store: &S,
    endpoint: &str,
    request: &GateRequest<Body>,
    now_ms: u64,
) -> Outcome<B> {
    flow.log.event = "gateway";
    if endpoint != "/logout" {
        return sessions_page::answer(flow, sessions, store, endpoint, request, now_ms).await;
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return flow.refuse((Refusal::MethodNotAllowed, None));
    }
    // Logout is POST-only, so the cross-site check always applies.
    if !request.is_same_origin() {
        return flow.refuse((Refusal::CrossSiteRequest, None));
    }
    let (sessions, presented, live) =
        match endpoint_session(&mut flow, sessions, store, request, now_ms).await {
            Ok(found) => found,
            Err(refused) => return flow.refuse(refused),
        };
    let all = request
        .query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == "scope=all"));
    let scope = if all {
        LogoutScope::AllOfUser
    } else {
        LogoutScope::Session
    };
    let caller = Caller {
        presented: &presented,
        live: Some(&live),
        user_agent: None,
    };
    let out = match end_sessions(store, scope, &caller).await {
        Ok(out) => out,
        Err(e) => return flow.refuse(store_refusal("logout", e)),
    };
    logged_out(&mut flow, sessions, out);
    flow.json_ok(format!(
        "{{\"ok\":true,\"destroyed\":{},\"remaining\":{}}}",
        out.ended, out.remaining
    ))
}
