//! The "your sessions" page and its JSON API, served by the gateway itself under `GATEWAY_PATH`:
//! a signed-in user sees each of their live sessions (device, created, last seen, which one is
//! this one) and can sign out one other session or all the others.
//!
//! Sessions are named by their handle (the keyed hash in the assertion's `sid`), never by id.
//! Every API call needs a valid session (with the user-agent binding, like any request); the
//! unsafe ones (`DELETE`, `POST`) also need a same-origin request (`Origin` / `Sec-Fetch-Site`).
//! The page is static (embedded at build time) and renders what the API returns.

use serde::Serialize;

use super::{
    authenticate, destroy, json_ok, load_record, presented_cookie, same_origin, store_refusal,
    Body, Flow, GateResponse, KeyValueStore, LiveSession, Outcome, Refusal,
};
use crate::session::{user_index_prefix, Freshness, SessionId};

const PAGE_HTML: &str = include_str!("../../www/sessions/sessions.html");
const PAGE_CSS: &str = include_str!("../../www/shared/style.css");
const PAGE_JS: &str = include_str!("../../www/sessions/sessions.js");

/// The page loads only its own script and style and talks only to its own origin; it cannot be
/// framed (clickjacking on the sign-out buttons).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// At most this many index entries are looked at per call (each costs a KV read).
const MAX_LISTED: usize = 100;

/// Length of a session handle.
const HANDLE_LEN: usize = 22;

/// One session as the page shows it.
#[derive(Serialize)]
struct SessionView {
    id: String,
    device: String,
    created: u64,
    last_seen: u64,
    current: bool,
}

#[derive(Serialize)]
struct SessionList<'a> {
    user: &'a str,
    sessions: Vec<SessionView>,
}

/// Answers `endpoint` (the path after `GATEWAY_PATH`) if it is one of the page's or API's.
#[allow(clippy::too_many_arguments)]
pub(super) async fn endpoint<S: KeyValueStore, B>(
    mut flow: Flow<'_>,
    store: &S,
    method: &str,
    request_origin: &str,
    endpoint: &str,
    headers: &[(String, String)],
    now_ms: u64,
) -> Outcome<B> {
    let is = |m: &str| method.eq_ignore_ascii_case(m);
    let readable = is("GET") || is("HEAD");
    let (allowed, unsafe_method) = match endpoint {
        "/sessions" | "/sessions.css" | "/sessions.js" | "/api/sessions" => (readable, false),
        "/api/sessions/revoke-others" => (is("POST"), true),
        _ if endpoint.starts_with("/api/sessions/") => (is("DELETE"), true),
        _ => return flow.refuse(Refusal::NotFound, None),
    };
    if !allowed {
        return flow.refuse(Refusal::MethodNotAllowed, None);
    }
    match endpoint {
        "/sessions" => return static_response(flow, "text/html; charset=utf-8", PAGE_HTML),
        "/sessions.css" => return static_response(flow, "text/css; charset=utf-8", PAGE_CSS),
        "/sessions.js" => return static_response(flow, "text/javascript; charset=utf-8", PAGE_JS),
        _ => {}
    }
    if unsafe_method && !same_origin(headers, request_origin) {
        return flow.refuse(Refusal::CrossSiteRequest, None);
    }
    let presented = presented_cookie(flow.session_config, headers);
    let live = match authenticate(&mut flow, store, &presented, headers, now_ms).await {
        Ok(live) => live,
        Err((refusal, detail)) => return flow.refuse(refusal, detail),
    };
    let answer = match endpoint {
        "/api/sessions" => list(&mut flow, store, &live, now_ms).await,
        "/api/sessions/revoke-others" => revoke_others(&mut flow, store, &live).await,
        _ => {
            let handle = endpoint.strip_prefix("/api/sessions/").unwrap_or("");
            revoke_one(&mut flow, store, &live, handle).await
        }
    };
    match answer {
        Ok(body) => json_ok(flow, body),
        Err((refusal, detail)) => flow.refuse(refusal, detail),
    }
}

fn static_response<B>(mut flow: Flow<'_>, content_type: &str, body: &str) -> Outcome<B> {
    flow.log.status = 200;
    let mut headers = vec![
        ("content-type".to_owned(), content_type.to_owned()),
        ("x-content-type-options".to_owned(), "nosniff".to_owned()),
        // Revalidate on every load: the page changes with the gateway's version.
        ("cache-control".to_owned(), "no-cache".to_owned()),
    ];
    if content_type.starts_with("text/html") {
        headers.extend([
            ("content-security-policy".to_owned(), PAGE_CSP.to_owned()),
            ("x-frame-options".to_owned(), "DENY".to_owned()),
            ("referrer-policy".to_owned(), "no-referrer".to_owned()),
        ]);
    }
    Outcome {
        response: GateResponse {
            status: 200,
            headers,
            body: Body::Gateway(body.to_owned()),
        },
        background: Vec::new(),
        log: flow.log,
    }
}

type Answer = Result<String, (Refusal, Option<String>)>;

/// The ids in the user's index (at most [`MAX_LISTED`]), the current one included.
async fn indexed_ids<S: KeyValueStore>(
    store: &S,
    live: &LiveSession,
) -> Result<Vec<SessionId>, (Refusal, Option<String>)> {
    let prefix = user_index_prefix(&live.record.user);
    let keys = store
        .list_keys(&prefix)
        .await
        .map_err(|e| store_refusal("session list", e))?;
    let mut ids: Vec<SessionId> = keys
        .iter()
        .filter_map(|key| key.strip_prefix(&prefix).and_then(SessionId::parse))
        .take(MAX_LISTED)
        .collect();
    // KV lists are eventually consistent: the current session is shown even if not listed yet.
    if !ids.contains(&live.id) {
        ids.push(live.id.clone());
    }
    Ok(ids)
}

async fn list<S: KeyValueStore>(
    flow: &mut Flow<'_>,
    store: &S,
    live: &LiveSession,
    now_ms: u64,
) -> Answer {
    let Some(s) = flow.session_config else {
        return Err((Refusal::Misconfigured, None));
    };
    let mut sessions = Vec::new();
    for id in indexed_ids(store, live).await? {
        let current = id == live.id;
        let record = if current {
            Some(live.record.clone())
        } else {
            load_record(store, &id)
                .await
                .map_err(|e| store_refusal("session read", e))?
        };
        // Gone (or not yet visible here), expired, or not this user's: not a live session of theirs.
        // Its index entry stays (it expires with the session): deleting it on a read that merely
        // missed a fresh record would hide that session from "sign out all others".
        let Some(record) =
            record.filter(|r| r.user == live.record.user && r.freshness(now_ms) == Freshness::Live)
        else {
            continue;
        };
        sessions.push(SessionView {
            id: if current {
                live.handle.clone()
            } else {
                s.assertion_key.session_handle(&id)
            },
            device: record.device.unwrap_or_else(|| "Unknown device".to_owned()),
            created: record.created,
            last_seen: record.last_seen,
            current,
        });
    }
    sessions.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.last_seen.cmp(&a.last_seen))
    });
    flow.log.detail = Some(format!("{} sessions listed", sessions.len()));
    let body = SessionList {
        user: &live.record.user,
        sessions,
    };
    serde_json::to_string(&body).map_err(|_| (Refusal::InternalError, None))
}

async fn revoke_one<S: KeyValueStore>(
    flow: &mut Flow<'_>,
    store: &S,
    live: &LiveSession,
    handle: &str,
) -> Answer {
    let Some(s) = flow.session_config else {
        return Err((Refusal::Misconfigured, None));
    };
    let well_formed = handle.len() == HANDLE_LEN
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err((Refusal::NotFound, Some("not a session handle".to_owned())));
    }
    let target = if handle == live.handle {
        Some(live.id.clone())
    } else {
        indexed_ids(store, live)
            .await?
            .into_iter()
            .find(|id| s.assertion_key.session_handle(id) == handle)
    };
    let Some(id) = target else {
        return Err((
            Refusal::NotFound,
            Some("no such session of this user".to_owned()),
        ));
    };
    destroy(store, &id, &live.record.user)
        .await
        .map_err(|e| store_refusal("session revoke", e))?;
    let current = id == live.id;
    if current {
        flow.set_cookie = Some(s.cookie.clear_cookie());
    }
    flow.log.event = "revoke";
    flow.log.detail = Some(if current {
        "current session".to_owned()
    } else {
        "another session".to_owned()
    });
    Ok(format!(
        "{{\"ok\":true,\"revoked\":1,\"current\":{current}}}"
    ))
}

async fn revoke_others<S: KeyValueStore>(
    flow: &mut Flow<'_>,
    store: &S,
    live: &LiveSession,
) -> Answer {
    let mut revoked = 0usize;
    for id in indexed_ids(store, live).await? {
        if id == live.id {
            continue;
        }
        destroy(store, &id, &live.record.user)
            .await
            .map_err(|e| store_refusal("session revoke", e))?;
        revoked += 1;
    }
    flow.log.event = "revoke";
    flow.log.detail = Some(format!("{revoked} other sessions"));
    Ok(format!("{{\"ok\":true,\"revoked\":{revoked}}}"))
}
