//! The "your sessions" page and its JSON API, served by the gateway itself under `GATEWAY_PATH`:
//! a signed-in user sees each of their live sessions (device, created, last seen, which one is
//! this one), page by page, and can sign out one other session or all the others.
//!
//! Sessions are named by their handle (the keyed hash in the assertion's `sid`), never by id.
//! Every API call needs a valid session (with the user-agent binding, like any request); the
//! unsafe ones (`DELETE`, `POST`) also need a same-origin request (`Origin` / `Sec-Fetch-Site`).
//! The page is static (embedded at build time) and renders what the API returns. A listing shows
//! a page of sessions; signing out reaches every session of the user, however many.

use serde::Serialize;

use super::exchange::GateRequest;
use super::refusal::{store_refusal, Refusal, Refused};
use super::respond::{Flow, Outcome};
use super::session_check::{endpoint_session, LiveSession};
use crate::config::SessionConfig;
use crate::session::{Freshness, SessionId, SessionRecord};
use crate::store::SessionStore;

const PAGE_HTML: &str = include_str!("../../www/sessions/sessions.html");
const PAGE_CSS: &str = include_str!("../../www/shared/style.css");
const PAGE_JS: &str = include_str!("../../www/sessions/sessions.js");

/// The page loads only its own script and style and talks only to its own origin; it cannot be
/// framed (clickjacking on the sign-out buttons).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Sessions in one page of the listing.
pub const SESSIONS_PER_PAGE: usize = 100;

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

/// One page of a user's live sessions, as the sessions API (this session first, then the others
/// by last activity) and the admin API (by last activity) answer it.
#[derive(Serialize)]
struct SessionPage<'a, V> {
    user: &'a str,
    sessions: Vec<V>,
    /// Live sessions in all pages.
    total: usize,
    /// Position of the first session of this page.
    offset: usize,
    /// `offset` of the next page, if there is one.
    next: Option<usize>,
    /// False when not every indexed session could be read within one request.
    complete: bool,
}

/// Answers `endpoint` (the path after `GATEWAY_PATH`) if it is one of the page's or API's.
pub(super) async fn answer<S: SessionStore, B, Body>(
    mut flow: Flow<'_>,
    sessions: Option<&SessionConfig>,
    store: &S,
    endpoint: &str,
    request: &GateRequest<Body>,
    now_ms: u64,
) -> Outcome<B> {
    let is = |m: &str| request.method.eq_ignore_ascii_case(m);
    let readable = is("GET") || is("HEAD");
    let (allowed, unsafe_method) = match endpoint {
        "/sessions" | "/sessions.css" | "/sessions.js" | "/api/sessions" => (readable, false),
        "/api/sessions/revoke-others" => (is("POST"), true),
        _ if endpoint.starts_with("/api/sessions/") => (is("DELETE"), true),
        _ => return flow.refuse((Refusal::NotFound, None)),
    };
    if !allowed {
        return flow.refuse((Refusal::MethodNotAllowed, None));
    }
    match endpoint {
        "/sessions" => return static_response(flow, "text/html; charset=utf-8", PAGE_HTML),
        "/sessions.css" => return static_response(flow, "text/css; charset=utf-8", PAGE_CSS),
        "/sessions.js" => return static_response(flow, "text/javascript; charset=utf-8", PAGE_JS),
        _ => {}
    }
    if unsafe_method && !request.is_same_origin() {
        return flow.refuse((Refusal::CrossSiteRequest, None));
    }
    let (sessions, _, live) =
        match endpoint_session(&mut flow, sessions, store, request, now_ms).await {
            Ok(found) => found,
            Err(refused) => return flow.refuse(refused),
        };
    let answer = match endpoint {
        "/api/sessions" => {
            let offset = query_number(request.query.as_deref(), "offset").unwrap_or(0);
            list(&mut flow, sessions, store, &live, offset, now_ms).await
        }
        "/api/sessions/revoke-others" => revoke_others(&mut flow, store, &live).await,
        _ => {
            let handle = endpoint.strip_prefix("/api/sessions/").unwrap_or("");
            revoke_one(&mut flow, sessions, store, &live, handle).await
        }
    };
    match answer {
        Ok(body) => flow.json_ok(body),
        Err(refused) => flow.refuse(refused),
    }
}

fn static_response<B>(flow: Flow<'_>, content_type: &str, body: &str) -> Outcome<B> {
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
    flow.answer(200, headers, body.to_owned())
}

/// The raw (still percent-encoded) value of the first `name=` in a query string.
pub(super) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The whole-number value of `name` in a query string.
pub(super) fn query_number(query: Option<&str>, name: &str) -> Option<usize> {
    let n = query_param(query, name)?.parse::<u64>().ok()?;
    usize::try_from(n).ok()
}

type Answer = Result<String, Refused>;

/// The indexed ids of the user, the current one included even when not listed yet (KV lists
/// are eventually consistent).
async fn user_ids<S: SessionStore>(
    store: &S,
    live: &LiveSession,
) -> Result<Vec<SessionId>, Refused> {
    let mut ids = store
        .ids_of(&live.record.user)
        .await
        .map_err(|e| store_refusal("session list", e))?;
    if !ids.contains(&live.id) {
        ids.push(live.id.clone());
    }
    Ok(ids)
}

async fn list<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    live: &LiveSession,
    offset: usize,
    now_ms: u64,
) -> Answer {
    let mut others = user_ids(store, live).await?;
    others.retain(|id| *id != live.id);
    let (mut found, unread) = live_sessions(store, &live.record.user, &others, now_ms).await?;
    // This session first.
    found.push((live.id.clone(), live.record.clone()));
    found.rotate_right(1);
    let total = found.len();
    let mut views: Vec<SessionView> = Vec::new();
    for (id, record) in found.into_iter().skip(offset).take(SESSIONS_PER_PAGE) {
        let current = id == live.id;
        views.push(SessionView {
            id: if current {
                live.handle.clone()
            } else {
                sessions.assertion_key.session_handle(&id)
            },
            device: record.device.unwrap_or_else(|| "Unknown device".to_owned()),
            created: record.created,
            last_seen: record.last_seen,
            current,
        });
    }
    page_json(flow, &live.record.user, views, total, offset, unread)
}

/// The JSON of one page of `user`'s sessions (`views`, from `offset`, of `total`; `unread`
/// could not be read within one request), and its count on the log line.
pub(super) fn page_json<V: Serialize>(
    flow: &mut Flow<'_>,
    user: &str,
    views: Vec<V>,
    total: usize,
    offset: usize,
    unread: usize,
) -> Answer {
    let end = offset.saturating_add(views.len());
    flow.log.detail = Some(format!("{} of {total} sessions listed", views.len()));
    let page = SessionPage {
        user,
        sessions: views,
        total,
        offset,
        next: (end < total).then_some(end),
        complete: unread == 0,
    };
    serde_json::to_string(&page).map_err(|_| (Refusal::InternalError, None))
}

/// The live sessions of `user` among `ids`, read in bulk, the most recently active first, and how
/// many of `ids` could not be read within one request (shared with the admin API).
///
/// Gone (or not yet visible here), expired, or not this user's: not a live session of theirs.
/// Index entries are never deleted by a listing: one that merely missed a fresh record must stay,
/// so that signing out all other sessions still reaches it.
pub(super) async fn live_sessions<S: SessionStore>(
    store: &S,
    user: &str,
    ids: &[SessionId],
    now_ms: u64,
) -> Result<(Vec<(SessionId, SessionRecord)>, usize), Refused> {
    let loaded = store
        .load_sessions(ids)
        .await
        .map_err(|e| store_refusal("session read", e))?;
    let mut found = loaded.sessions;
    found.retain(|(_, r)| r.user == user && r.freshness(now_ms) == Freshness::Live);
    found.sort_by_key(|(_, record)| core::cmp::Reverse(record.last_seen));
    Ok((found, loaded.unread))
}

async fn revoke_one<S: SessionStore>(
    flow: &mut Flow<'_>,
    sessions: &SessionConfig,
    store: &S,
    live: &LiveSession,
    handle: &str,
) -> Answer {
    let well_formed = handle.len() == HANDLE_LEN
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err((Refusal::NotFound, Some("not a session handle".to_owned())));
    }
    // Every indexed session is looked at (one keyed hash each, no record reads): a session is
    // revocable however many the user has.
    let target = if handle == live.handle {
        Some(live.id.clone())
    } else {
        user_ids(store, live)
            .await?
            .into_iter()
            .find(|id| sessions.assertion_key.session_handle(id) == handle)
    };
    let Some(id) = target else {
        return Err((
            Refusal::NotFound,
            Some("no such session of this user".to_owned()),
        ));
    };
    store
        .end(&id, Some(&live.record.user))
        .await
        .map_err(|e| store_refusal("session revoke", e))?;
    let current = id == live.id;
    if current {
        flow.set_cookie = Some(sessions.cookie.clear_cookie());
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

async fn revoke_others<S: SessionStore>(
    flow: &mut Flow<'_>,
    store: &S,
    live: &LiveSession,
) -> Answer {
    let ending = store
        .end_all(&live.record.user, Some(&live.id))
        .await
        .map_err(|e| store_refusal("session revoke", e))?;
    flow.log.event = "revoke";
    flow.log.detail = Some(format!(
        "{} other sessions ended, {} remaining",
        ending.ended, ending.remaining
    ));
    Ok(format!(
        "{{\"ok\":true,\"revoked\":{},\"remaining\":{}}}",
        ending.ended, ending.remaining
    ))
}
