//! The gateway's request flow, platform-free.
//!
//! [`handle`] takes one request and decides: refuse it, or forward it (with the user header and
//! assertion), then apply the origin's login / logout instructions. The modules follow the
//! request's path:
//!
//! 1. `endpoints` and `sessions_page`: requests under `GATEWAY_PATH`, answered by the gateway;
//! 2. header hygiene ([`crate::headers`]) and public paths ([`crate::paths`]);
//! 3. `cookie_check`: the session cookie and its signature;
//! 4. `session_check`: the session from the store, its expiry and user-agent binding;
//! 5. `forward`: the request for the origin, and its response for the client;
//! 6. `instructions`: the origin's login and logout instructions;
//! 7. `respond`: the gateway's own answers and the log line; `refusal`: every refusal;
//! 8. [`websocket`]: which upgrades are accepted, and the re-check of an open socket's session.
//!
//! The only I/O goes through [`SessionStore`] and [`Origin`], so the whole flow runs natively in
//! tests with an in-memory store and a fake origin. Time is passed in; randomness comes from
//! `getrandom`. The sliding-expiry refresh is returned as a typed [`Refresh`] for the caller to
//! run after responding (`waitUntil` in a Worker).

mod admin;
mod browser;
mod caching;
mod cap;
mod cookie_check;
mod cross_site;
mod endpoints;
mod exchange;
mod forward;
mod health;
mod instructions;
mod refusal;
mod respond;
mod session_check;
mod sessions_page;
pub mod websocket;

pub use browser::{safe_return_path, MAX_RETURN_PATH_LEN};
pub use cross_site::is_allowed_origin;
pub use exchange::{
    split_request_url, Body, GateRequest, GateResponse, Origin, OriginError, OriginRequest,
    OriginResponse,
};
pub use instructions::{LOGIN_HEADER, LOGOUT_HEADER, LOGOUT_REMAINING_HEADER};
pub use refusal::Refusal;
pub use respond::{LogLine, Outcome};
pub use sessions_page::SESSIONS_PER_PAGE;

use crate::config::LoadedConfig;
use crate::headers::header_value;
use crate::store::{Refresh, SessionStore};
use cookie_check::{presented_cookie, Presented};
use instructions::Caller;
use refusal::Refused;
use respond::Flow;
use session_check::authenticate;

/// The refusal when a request needs the session settings and they are invalid.
fn session_settings_invalid() -> Refused {
    (
        Refusal::Misconfigured,
        Some("session settings invalid".to_owned()),
    )
}

/// The part of `path` after `gateway_path`, if `path` is under it.
fn gateway_endpoint<'p>(path: &'p str, gateway_path: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(gateway_path)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Handles one request end to end.
pub async fn handle<S, O>(
    config: &LoadedConfig,
    store: &S,
    origin: &O,
    request: GateRequest<O::RequestBody>,
    now_ms: u64,
) -> Outcome<O::ResponseBody>
where
    S: SessionStore,
    O: Origin,
{
    let sessions = config.session.as_ref();
    let mut flow = Flow::new(sessions.map(|s| &s.cookie), &request.method, &request.path);
    flow.config_errors = &config.errors;
    // The runtime's request id, read before hygiene (which keeps no `cf-` header for the origin).
    flow.log.request_id = header_value(&request.headers, "cf-ray").map(str::to_owned);
    let Some(forward) = config.forward.as_ref() else {
        return flow.refuse((
            Refusal::Misconfigured,
            Some("forwarding settings invalid".to_owned()),
        ));
    };
    // Asked before hygiene strips `Upgrade`; any other upgrade stays stripped.
    let is_websocket = websocket::requested(&request.method, &request.headers);
    // Hygiene first, on every route, so nothing below can see a spoofed header either.
    let request = GateRequest {
        headers: forward.header_policy.sanitize(request.headers),
        ..request
    };
    flow.sign_in = Some(browser::SignIn::for_request(&forward.browser, &request));
    if let Some(endpoint) = gateway_endpoint(&request.path, &forward.gateway_path) {
        let endpoint = endpoint.to_owned();
        if endpoint == "/health" {
            return health::answer(flow, config, store, &request, now_ms).await;
        }
        if let Some(tokens) = &config.operations.admin_tokens {
            if let Some(rest) = admin::route(&endpoint) {
                let admin = admin::Admin { tokens, sessions };
                return admin.answer(flow, store, rest, &request, now_ms).await;
            }
        }
        return endpoints::answer(flow, sessions, store, &endpoint, &request, now_ms).await;
    }

    if let Err(refused) = cross_site::check(&forward.browser, &request) {
        return flow.refuse(refused);
    }

    if is_websocket {
        if let Err(refused) =
            websocket::check_origin(&request, &forward.browser.csrf_allowed_origins)
        {
            return flow.refuse(refused);
        }
    }
    let headers = &request.headers;
    let presented = sessions.map_or(Presented::Absent, |s| presented_cookie(s, headers, now_ms));
    let is_public = forward.public_paths.matches(&request.path)
        || forward::is_cors_preflight(&request.method, headers);
    // Optional paths: an identity when the session is valid; otherwise, after what a protected
    // path does to a refused session (ended, cookie cleared), forwarded without one.
    let is_optional = !is_public && forward.browser.optional_paths.matches(&request.path);
    let live = match sessions {
        _ if is_public => None,
        None if is_optional => None,
        None => return flow.refuse(session_settings_invalid()),
        Some(s) => match authenticate(&mut flow, s, store, &presented, headers, now_ms).await {
            Ok(live) => Some(live),
            Err((Refusal::MissingSession, _)) if is_optional => None,
            Err(refused) if is_optional => {
                flow.drop_session(refused);
                None
            }
            Err(refused) => return flow.refuse(refused),
        },
    };

    // Captured before the headers move into the origin request: a login binds this user agent.
    let user_agent = header_value(headers, "user-agent").map(str::to_owned);
    let identified = live.is_some();
    let origin_request = forward::origin_request(forward, sessions, request, live.as_ref(), now_ms);
    let origin_request = if is_websocket {
        websocket::origin_request(origin_request)
    } else {
        origin_request
    };
    let response = match origin.send(origin_request).await {
        Ok(response) => response,
        Err(OriginError::Timeout) => return flow.refuse((Refusal::OriginTimeout, None)),
        Err(OriginError::Unreachable(why)) => {
            return flow.refuse((Refusal::OriginUnreachable, Some(why)))
        }
    };

    let login = header_value(&response.headers, LOGIN_HEADER).map(str::to_owned);
    let logout = header_value(&response.headers, LOGOUT_HEADER).map(str::to_owned);
    flow.log.event = "forward";
    let mut refresh = None;
    if login.is_some() || logout.is_some() {
        let Some(s) = sessions else {
            return flow.refuse((
                Refusal::Misconfigured,
                Some("session settings invalid; cannot apply login/logout".to_owned()),
            ));
        };
        let caller = Caller {
            presented: &presented,
            live: live.as_ref(),
            user_agent: user_agent.as_deref(),
        };
        let applied = instructions::apply(
            &mut flow,
            s,
            store,
            login.as_deref(),
            logout.as_deref(),
            &caller,
            now_ms,
        )
        .await;
        if let Err(refused) = applied {
            return flow.refuse(refused);
        }
        if let (Some(max), Some(id)) =
            (config.operations.max_sessions_per_user, flow.created.take())
        {
            cap::enforce(&mut flow, store, &id, max).await;
        }
    } else if let (Some(live), Some(s)) = (&live, sessions) {
        // Only the activity: rewriting the record could undo a logout (see `Activity`).
        refresh = live
            .record
            .refreshed(now_ms, &s.timeouts)
            .map(|activity| Refresh {
                id: live.id.clone(),
                activity,
            });
    }

    let mut added = std::mem::take(&mut flow.extra_headers);
    if let Some(cookie) = flow.set_cookie.take() {
        added.push(("set-cookie".to_owned(), cookie));
    }
    if caching::sets_cookie(&added) {
        added.push(("cache-control".to_owned(), caching::NO_STORE.to_owned()));
    } else if identified {
        if let Some(private) = caching::private_for_identity(&response.headers) {
            added.push(("cache-control".to_owned(), private));
        }
    }
    flow.log.status = response.status;
    // A failed origin (5xx) is worth a look; a refused session on an optional path keeps its
    // level (set with its code).
    if response.status >= 500 {
        flow.log.level = "warn";
    } else if flow.log.level.is_empty() {
        flow.log.level = "info";
    }
    flow.log.quiet = is_public
        && !config.operations.log_public_paths
        && flow.log.event == "forward"
        && response.status < 500;
    let upgraded = response.status == 101;
    let response = forward::client_response(
        response.status,
        response.headers,
        response.body,
        &forward::session_cookie_names(sessions),
        added,
    );
    // A handshake the origin refused (any other status) is an ordinary response.
    let (response, websocket) = match (is_websocket, upgraded) {
        (true, true) => (
            websocket::client_response(response),
            Some(websocket::WebSocketRelay::new(
                sessions,
                &presented,
                live.as_ref(),
                user_agent.as_deref(),
                &flow.log,
            )),
        ),
        _ => (response, None),
    };
    Outcome {
        response,
        refresh,
        log: flow.log,
        websocket,
    }
}
