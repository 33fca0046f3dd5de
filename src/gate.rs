//! The gateway's request flow, platform-free.
//!
//! [`handle`] takes one request and decides: refuse it, or forward it (with the user header and
//! assertion), then apply the origin's login / logout control headers. The only I/O goes through
//! two small traits, [`KeyValueStore`] (Workers KV in production) and [`Origin`] (a `fetch`), so the
//! whole flow runs natively in tests with an in-memory store and a fake origin. Time is passed in;
//! randomness comes from `getrandom`.
//!
//! Work that must not delay the response (the sliding-expiry refresh) is returned as
//! [`BackgroundWrite`]s for the caller to run after responding (`waitUntil` in a Worker).

use serde::Deserialize;

mod account;

use crate::assertion::{Claims, ISSUER};
use crate::config::{ForwardConfig, LoadedConfig, SessionConfig};
use crate::cookie::{find_cookie, remove_cookie};
use crate::headers::{header_value, is_control_response_header};
use crate::json::JsonObject;
use crate::session::{
    is_valid_user, user_agent_fingerprint, user_index_key, user_index_prefix, Activity, Freshness,
    SessionId, SessionRecord, KV_MIN_TTL_SECONDS, MAX_DATA_LEN,
};

/// Why a store operation failed. The text never contains keys or values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    Unavailable(String),
    Timeout,
}

/// Why the origin could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginError {
    Unreachable(String),
    Timeout,
}

/// The key-value operations the gateway needs (Workers KV semantics: TTL in seconds, at least
/// 60; listing by prefix returns keys, all pages).
// Futures here are not `Send`: a Worker isolate is single-threaded, and so is every caller.
#[allow(async_fn_in_trait)]
pub trait KeyValueStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Two reads at once (a session's record and activity). Stores that can make them one call
    /// override this; it is never slower than the two `get`s side by side.
    async fn get_pair(
        &self,
        first: &str,
        second: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let (first, second) = futures_util::future::join(self.get(first), self.get(second)).await;
        Ok((first?, second?))
    }
    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// Sends a request to the origin and returns its response head with an opaque, streaming body.
#[allow(async_fn_in_trait)]
pub trait Origin {
    type RequestBody;
    type ResponseBody;
    async fn send(
        &self,
        request: OriginRequest<Self::RequestBody>,
    ) -> Result<OriginResponse<Self::ResponseBody>, OriginError>;
}

/// A request as the gateway sees it. `path` is the URL path as the runtime's URL parser produced
/// it (dot segments resolved), `query` is without the `?`.
#[derive(Debug)]
pub struct GateRequest<B> {
    pub method: String,
    /// `scheme://host[:port]` of the request URL, for the same-origin check.
    pub origin: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

#[derive(Debug)]
pub struct OriginRequest<B> {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

#[derive(Debug)]
pub struct OriginResponse<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: B,
}

/// A response body: the origin's (streamed through) or the gateway's own (a JSON answer, or
/// the sessions page and its assets; the headers give the type).
#[derive(Debug)]
pub enum Body<B> {
    /// The origin's body, streamed through under the headers of the [`GateResponse`].
    Origin(B),
    /// The origin's response exactly as it came: same status and headers (nothing to strip, no
    /// cookie to set). The glue may pass the runtime's own response object on instead of
    /// rebuilding it, which saves a copy of every header per request.
    OriginAsIs(B),
    Gateway(String),
}

#[derive(Debug)]
pub struct GateResponse<B> {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body<B>,
}

/// A KV write to run after the response is sent; its failure must not affect the response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackgroundWrite {
    pub key: String,
    pub value: String,
    pub ttl_seconds: u64,
}

/// One decision, for the log: a single JSON line without secrets or session ids.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub event: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Keyed handle of the session, never the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub method: String,
    pub path: String,
}

impl LogLine {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What [`handle`] returns.
#[derive(Debug)]
pub struct Outcome<B> {
    pub response: GateResponse<B>,
    pub background: Vec<BackgroundWrite>,
    pub log: LogLine,
}

/// Every refusal the gateway can give, with its status and stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    MissingSession,
    InvalidSessionCookie,
    UnknownSession,
    SessionExpired,
    UserAgentMismatch,
    CrossSiteRequest,
    NotFound,
    MethodNotAllowed,
    Misconfigured,
    InternalError,
    OriginUnreachable,
    OriginProtocolError,
    StoreUnavailable,
    OriginTimeout,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::MissingSession
            | Refusal::InvalidSessionCookie
            | Refusal::UnknownSession
            | Refusal::SessionExpired
            | Refusal::UserAgentMismatch => 401,
            Refusal::CrossSiteRequest => 403,
            Refusal::NotFound => 404,
            Refusal::MethodNotAllowed => 405,
            Refusal::Misconfigured | Refusal::InternalError => 500,
            Refusal::OriginUnreachable | Refusal::OriginProtocolError => 502,
            Refusal::StoreUnavailable => 503,
            Refusal::OriginTimeout => 504,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingSession => "missing_session",
            Refusal::InvalidSessionCookie => "invalid_session_cookie",
            Refusal::UnknownSession => "unknown_session",
            Refusal::SessionExpired => "session_expired",
            Refusal::UserAgentMismatch => "user_agent_mismatch",
            Refusal::CrossSiteRequest => "cross_site_request",
            Refusal::NotFound => "not_found",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::Misconfigured => "misconfigured",
            Refusal::InternalError => "internal_error",
            Refusal::OriginUnreachable => "origin_unreachable",
            Refusal::OriginProtocolError => "origin_protocol_error",
            Refusal::StoreUnavailable => "store_unavailable",
            Refusal::OriginTimeout => "origin_timeout",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingSession => "No session: sign in first.",
            Refusal::InvalidSessionCookie => "The session cookie is not valid.",
            Refusal::UnknownSession => "The session does not exist or has ended.",
            Refusal::SessionExpired => "The session has expired: sign in again.",
            Refusal::UserAgentMismatch => {
                "The session was used from a different client and has been ended."
            }
            Refusal::CrossSiteRequest => "Cross-site request refused.",
            Refusal::NotFound => "Not found.",
            Refusal::MethodNotAllowed => "Method not allowed.",
            Refusal::Misconfigured => "The gateway is not configured correctly.",
            Refusal::InternalError => "The gateway could not complete the request.",
            Refusal::OriginUnreachable => "The origin could not be reached.",
            Refusal::OriginProtocolError => "The origin sent an invalid session instruction.",
            Refusal::StoreUnavailable => "The session store is unavailable; try again.",
            Refusal::OriginTimeout => "The origin did not answer in time.",
        }
    }

    /// Refusals about the presented session also clear the cookie.
    fn clears_cookie(self) -> bool {
        matches!(
            self,
            Refusal::InvalidSessionCookie
                | Refusal::UnknownSession
                | Refusal::SessionExpired
                | Refusal::UserAgentMismatch
        )
    }

    /// The JSON body of this refusal.
    pub fn body(self) -> String {
        format!(
            "{{\"error\":\"{}\",\"message\":\"{}\"}}",
            self.code(),
            self.message()
        )
    }
}

/// Header name of the origin's login instruction.
pub const LOGIN_HEADER: &str = "sessiongate-login";
/// Header name of the origin's logout instruction.
pub const LOGOUT_HEADER: &str = "sessiongate-logout";

/// Whether an origin response header sets the session cookie. The gateway owns that cookie: an
/// origin (an old express-session app under the same name, a reflected header) must not plant or
/// overwrite it, so such `Set-Cookie` lines are dropped.
fn sets_session_cookie(name: &str, value: &str, session_config: Option<&SessionConfig>) -> bool {
    let Some(s) = session_config else {
        return false;
    };
    name.eq_ignore_ascii_case("set-cookie")
        && value
            .split_once('=')
            .is_some_and(|(cookie_name, _)| cookie_name.trim() == s.cookie.name)
}

/// The cookie as presented by the client.
enum Presented {
    Absent,
    Invalid,
    Valid(SessionId),
}

/// A session that passed every check.
struct LiveSession {
    id: SessionId,
    record: SessionRecord,
    /// Keyed handle of the id (computed once: it goes into the log and the assertion).
    handle: String,
}

/// State carried through one request: the log line and the cookie to set, if any.
struct Flow<'a> {
    session_config: Option<&'a SessionConfig>,
    log: LogLine,
    set_cookie: Option<String>,
}

impl<'a> Flow<'a> {
    fn refuse<B>(mut self, refusal: Refusal, detail: Option<String>) -> Outcome<B> {
        self.log.event = "refuse";
        self.log.status = refusal.status();
        self.log.code = Some(refusal.code());
        self.log.detail = detail;
        let mut headers = json_headers();
        if refusal.clears_cookie() {
            if let Some(s) = self.session_config {
                headers.push(("set-cookie".to_owned(), s.cookie.clear_cookie()));
            }
        } else if let Some(cookie) = self.set_cookie.take() {
            headers.push(("set-cookie".to_owned(), cookie));
        }
        Outcome {
            response: GateResponse {
                status: refusal.status(),
                headers,
                body: Body::Gateway(refusal.body()),
            },
            background: Vec::new(),
            log: self.log,
        }
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
        ("x-content-type-options".to_owned(), "nosniff".to_owned()),
    ]
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
    S: KeyValueStore,
    O: Origin,
{
    let mut flow = Flow {
        session_config: config.session.as_ref(),
        log: LogLine {
            method: request.method.clone(),
            path: request.path.clone(),
            ..LogLine::default()
        },
        set_cookie: None,
    };
    let Some(forward) = config.forward.as_ref() else {
        return flow.refuse(
            Refusal::Misconfigured,
            Some("forwarding settings invalid".to_owned()),
        );
    };
    let GateRequest {
        method,
        origin: request_origin,
        path,
        query,
        headers,
        body,
    } = request;
    // Hygiene first, on every route, so nothing below can see a spoofed header either.
    let headers = forward.header_policy.sanitize(headers);

    if path == forward.gateway_path || path.starts_with(&format!("{}/", forward.gateway_path)) {
        return gateway_endpoint(
            flow,
            forward,
            store,
            &method,
            &request_origin,
            &path,
            query.as_deref(),
            &headers,
            now_ms,
        )
        .await;
    }

    let presented = presented_cookie(flow.session_config, &headers);
    let is_public = forward.public_paths.matches(&path) || is_cors_preflight(&method, &headers);

    let mut session: Option<LiveSession> = None;
    if !is_public {
        match authenticate(&mut flow, store, &presented, &headers, now_ms).await {
            Ok(live) => session = Some(live),
            Err((refusal, detail)) => return flow.refuse(refusal, detail),
        }
    }

    // Captured before the headers move into the origin request: a login binds this user agent.
    let user_agent = header_value(&headers, "user-agent").map(str::to_owned);
    let origin_request = build_origin_request(
        forward,
        flow.session_config,
        &method,
        &path,
        query.as_deref(),
        headers,
        session.as_ref(),
        now_ms,
        body,
    );
    let response = match origin.send(origin_request).await {
        Ok(response) => response,
        Err(OriginError::Timeout) => return flow.refuse(Refusal::OriginTimeout, None),
        Err(OriginError::Unreachable(why)) => {
            return flow.refuse(Refusal::OriginUnreachable, Some(why))
        }
    };

    let login = header_value(&response.headers, LOGIN_HEADER).map(str::to_owned);
    let logout = header_value(&response.headers, LOGOUT_HEADER).map(str::to_owned);
    let mut background = Vec::new();
    flow.log.event = "forward";
    if login.is_some() || logout.is_some() {
        if let Err((refusal, detail)) = apply_instructions(
            &mut flow,
            store,
            login.as_deref(),
            logout.as_deref(),
            &presented,
            session.as_ref(),
            user_agent.as_deref(),
            now_ms,
        )
        .await
        {
            return flow.refuse(refusal, detail);
        }
    } else if let (Some(live), Some(s)) = (&session, flow.session_config) {
        if let Some(touched) = live.record.touched(now_ms, &s.timeouts) {
            // Only the activity key: rewriting the record could undo a logout (see `Activity`).
            background.push(BackgroundWrite {
                key: live.id.activity_key(),
                value: touched.activity().encode(),
                ttl_seconds: touched.ttl_seconds(now_ms),
            });
        }
    }

    let origin_header_count = response.headers.len();
    let mut out_headers: Vec<(String, String)> = response
        .headers
        .into_iter()
        .filter(|(name, value)| {
            !is_control_response_header(name)
                && !sets_session_cookie(name, value, flow.session_config)
        })
        .collect();
    let body = match flow.set_cookie.take() {
        Some(cookie) => {
            out_headers.push(("set-cookie".to_owned(), cookie));
            Body::Origin(response.body)
        }
        None if out_headers.len() == origin_header_count => Body::OriginAsIs(response.body),
        None => Body::Origin(response.body),
    };
    flow.log.status = response.status;
    Outcome {
        response: GateResponse {
            status: response.status,
            headers: out_headers,
            body,
        },
        background,
        log: flow.log,
    }
}

/// Splits a request URL as the runtime serialized it (WHATWG-normalized: lowercase scheme and
/// host, dot segments resolved) into `(origin, path, query)`. The fragment, which clients do not
/// send, is dropped if present. `None` for anything that is not an absolute http(s) URL.
///
/// ```
/// use sessiongate::gate::split_request_url;
/// assert_eq!(
///     split_request_url("https://gate.example.com:8443/a/b?x=1&y#f"),
///     Some(("https://gate.example.com:8443", "/a/b", Some("x=1&y")))
/// );
/// assert_eq!(split_request_url("https://gate.example.com"), Some(("https://gate.example.com", "/", None)));
/// assert_eq!(split_request_url("mailto:x"), None);
/// ```
pub fn split_request_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let scheme_len = url.len() - after_scheme.len();
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .map_or(without_fragment.len(), |i| scheme_len + i);
    let origin = without_fragment.get(..authority_end)?;
    let rest = without_fragment.get(authority_end..)?;
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    Some((origin, if path.is_empty() { "/" } else { path }, query))
}

fn is_cors_preflight(method: &str, headers: &[(String, String)]) -> bool {
    method.eq_ignore_ascii_case("OPTIONS")
        && header_value(headers, "access-control-request-method").is_some()
        && header_value(headers, "origin").is_some()
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

fn presented_cookie(
    session_config: Option<&SessionConfig>,
    headers: &[(String, String)],
) -> Presented {
    let Some(s) = session_config else {
        return Presented::Absent;
    };
    let header = cookie_header(headers);
    let Some(value) = find_cookie(&header, &s.cookie.name) else {
        return Presented::Absent;
    };
    let id = value
        .strip_prefix("s:")
        .and_then(|signed| s.keyring.unsign(signed).ok())
        .and_then(SessionId::parse);
    match id {
        Some(id) => Presented::Valid(id),
        None => Presented::Invalid,
    }
}

type Refused = (Refusal, Option<String>);

fn store_refusal(operation: &str, error: StoreError) -> Refused {
    let detail = match error {
        StoreError::Timeout => format!("{operation} timed out"),
        StoreError::Unavailable(why) => format!("{operation} failed: {why}"),
    };
    (Refusal::StoreUnavailable, Some(detail))
}

/// Loads the presented session and checks everything about it. Refusals that end a session
/// (expiry, user-agent mismatch, malformed record) delete it before answering.
async fn authenticate<S: KeyValueStore>(
    flow: &mut Flow<'_>,
    store: &S,
    presented: &Presented,
    headers: &[(String, String)],
    now_ms: u64,
) -> Result<LiveSession, Refused> {
    let Some(s) = flow.session_config else {
        return Err((
            Refusal::Misconfigured,
            Some("session settings invalid".to_owned()),
        ));
    };
    let id = match presented {
        Presented::Absent => return Err((Refusal::MissingSession, None)),
        // Refused before any KV read: a flood of forged cookies costs no KV operations.
        Presented::Invalid => return Err((Refusal::InvalidSessionCookie, None)),
        Presented::Valid(id) => id.clone(),
    };
    let handle = s.assertion_key.session_handle(&id);
    flow.log.sid = Some(handle.clone());
    // Record and activity are read together: one KV round trip of latency, not two.
    let (stored, activity) = read_session(store, &id)
        .await
        .map_err(|e| store_refusal("session read", e))?;
    let Some(json) = stored else {
        return Err((Refusal::UnknownSession, None));
    };
    let record = match SessionRecord::decode(&json) {
        Ok(record) => record.with_activity(activity),
        Err(e) => {
            let _ = store.delete(&id.record_key()).await;
            return Err((
                Refusal::UnknownSession,
                Some(format!("unusable record: {e:?}")),
            ));
        }
    };
    flow.log.user = Some(record.user.clone());
    match record.freshness(now_ms) {
        Freshness::Live => {}
        expired => {
            let _ = destroy(store, &id, &record.user).await;
            return Err((Refusal::SessionExpired, Some(format!("{expired:?}"))));
        }
    }
    let fingerprint = user_agent_fingerprint(header_value(headers, "user-agent"));
    if !record.user_agent_matches(&fingerprint) {
        let detail = match destroy(store, &id, &record.user).await {
            Ok(()) => "session destroyed".to_owned(),
            Err(e) => format!("session destroy failed: {e:?}"),
        };
        return Err((Refusal::UserAgentMismatch, Some(detail)));
    }
    Ok(LiveSession { id, record, handle })
}

#[allow(clippy::too_many_arguments)]
fn build_origin_request<B>(
    forward: &ForwardConfig,
    session_config: Option<&SessionConfig>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: Vec<(String, String)>,
    session: Option<&LiveSession>,
    now_ms: u64,
    body: B,
) -> OriginRequest<B> {
    let mut url = String::with_capacity(forward.origin_base.len() + path.len() + 64);
    url.push_str(&forward.origin_base);
    url.push_str(&forward.origin_path_prefix);
    url.push_str(path);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    // The gateway's own cookie is its business: the origin never sees the session id.
    let cookie_name = session_config.map(|s| s.cookie.name.as_str());
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            if let Some(cookie_name) = cookie_name {
                if let Some(rest) = remove_cookie(&value, cookie_name) {
                    out.push((name, rest));
                }
                continue;
            }
        }
        out.push((name, value));
    }
    if let (Some(live), Some(s)) = (session, session_config) {
        out.push((forward.user_header.clone(), live.record.user.clone()));
        let now_s = now_ms / 1000;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: live.record.user.clone(),
            aud: s.assertion_audience.clone(),
            sid: live.handle.clone(),
            iat: now_s,
            exp: now_s.saturating_add(s.assertion_ttl_s),
            data: live.record.data.clone(),
        };
        out.push((
            forward.assertion_header.clone(),
            s.assertion_key.mint(&claims),
        ));
    }
    OriginRequest {
        method: method.to_owned(),
        url,
        headers: out,
        body,
    }
}

/// The login instruction: `{"user":"alice","data":{...}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInstruction {
    user: String,
    #[serde(default)]
    data: Option<JsonObject>,
}

fn parse_login(raw: &str) -> Result<LoginInstruction, String> {
    let login: LoginInstruction = crate::json::from_object(raw.trim().as_bytes())
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogoutScope {
    Session,
    AllOfUser,
}

fn parse_logout(raw: &str) -> Result<LogoutScope, String> {
    match raw.trim() {
        "session" => Ok(LogoutScope::Session),
        "all" => Ok(LogoutScope::AllOfUser),
        _ => Err("Sessiongate-Logout must be `session` or `all`".to_owned()),
    }
}

/// The raw record of `id` and its decoded activity, read together.
async fn read_session<S: KeyValueStore>(
    store: &S,
    id: &SessionId,
) -> Result<(Option<String>, Option<Activity>), StoreError> {
    let (record, activity) = store.get_pair(&id.record_key(), &id.activity_key()).await?;
    Ok((record, activity.as_deref().and_then(Activity::decode)))
}

/// Deletes one session: its record first (what makes it invalid), then its activity and index
/// entry.
async fn destroy<S: KeyValueStore>(
    store: &S,
    id: &SessionId,
    user: &str,
) -> Result<(), StoreError> {
    store.delete(&id.record_key()).await?;
    store.delete(&id.activity_key()).await?;
    store.delete(&user_index_key(user, id)).await
}

/// Deletes every indexed session of `user`; returns how many.
async fn destroy_all<S: KeyValueStore>(store: &S, user: &str) -> Result<usize, StoreError> {
    let prefix = user_index_prefix(user);
    let keys = store.list_keys(&prefix).await?;
    let mut destroyed = 0;
    for key in keys {
        let Some(id) = key.strip_prefix(&prefix).and_then(SessionId::parse) else {
            continue;
        };
        store.delete(&id.record_key()).await?;
        store.delete(&id.activity_key()).await?;
        store.delete(&key).await?;
        destroyed += 1;
    }
    Ok(destroyed)
}

/// The record of a session, with its activity applied, where no authentication looked it up
/// (a verified cookie on a public path, the other sessions listed on the sessions page).
async fn load_record<S: KeyValueStore>(
    store: &S,
    id: &SessionId,
) -> Result<Option<SessionRecord>, StoreError> {
    let (record, activity) = read_session(store, id).await?;
    Ok(record
        .and_then(|json| SessionRecord::decode(&json).ok())
        .map(|record| record.with_activity(activity)))
}

/// Ends the current session (or all of the user's); returns how many were destroyed.
async fn end_sessions<S: KeyValueStore>(
    store: &S,
    scope: LogoutScope,
    presented: &Presented,
    session: Option<&LiveSession>,
) -> Result<usize, StoreError> {
    let (id, user) = match (session, presented) {
        (Some(live), _) => (live.id.clone(), Some(live.record.user.clone())),
        (None, Presented::Valid(id)) => (id.clone(), load_record(store, id).await?.map(|r| r.user)),
        (None, _) => return Ok(0),
    };
    match (scope, user) {
        (LogoutScope::AllOfUser, Some(user)) => {
            // The current session first, in case the index entry is missing or not yet listed.
            destroy(store, &id, &user).await?;
            Ok(destroy_all(store, &user).await? + 1)
        }
        (_, Some(user)) => destroy(store, &id, &user).await.map(|()| 1),
        (_, None) => {
            store.delete(&id.record_key()).await?;
            store.delete(&id.activity_key()).await.map(|()| 0)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_instructions<S: KeyValueStore>(
    flow: &mut Flow<'_>,
    store: &S,
    login: Option<&str>,
    logout: Option<&str>,
    presented: &Presented,
    session: Option<&LiveSession>,
    user_agent: Option<&str>,
    now_ms: u64,
) -> Result<(), Refused> {
    let Some(s) = flow.session_config else {
        return Err((
            Refusal::Misconfigured,
            Some("session settings invalid; cannot apply login/logout".to_owned()),
        ));
    };
    if login.is_some() && logout.is_some() {
        return Err((
            Refusal::OriginProtocolError,
            Some("both Sessiongate-Login and Sessiongate-Logout".to_owned()),
        ));
    }
    if let Some(raw) = logout {
        let scope = parse_logout(raw).map_err(|e| (Refusal::OriginProtocolError, Some(e)))?;
        let destroyed = end_sessions(store, scope, presented, session)
            .await
            .map_err(|e| store_refusal("logout", e))?;
        flow.log.event = "logout";
        flow.log.detail = Some(format!("{scope:?}, {destroyed} destroyed"));
        flow.set_cookie = Some(s.cookie.clear_cookie());
        return Ok(());
    }
    let Some(raw) = login else {
        return Ok(());
    };
    let login = parse_login(raw).map_err(|e| (Refusal::OriginProtocolError, Some(e)))?;
    // No fixation: whatever session the client had ends here, and the new one gets a fresh id.
    if let Err(e) = end_sessions(store, LogoutScope::Session, presented, session).await {
        flow.log.detail = Some(format!("previous session not destroyed: {e:?}"));
    }
    let id = SessionId::generate().map_err(|_| {
        (
            Refusal::InternalError,
            Some("CSPRNG unavailable".to_owned()),
        )
    })?;
    let fingerprint = s.ua_binding.then(|| user_agent_fingerprint(user_agent));
    let mut record = SessionRecord::new(login.user, login.data, fingerprint, now_ms, &s.timeouts);
    record.device = Some(crate::device::describe(user_agent));
    // The record is never rewritten (refreshes go to the activity key), so it lives in KV for the
    // absolute lifetime; the idle expiry is enforced from the timestamps on every request. The
    // index entry lives as long, so "log out everywhere" can never miss a live session.
    let lifetime_ttl = record
        .absolute_expires
        .saturating_sub(now_ms)
        .div_ceil(1000)
        .max(KV_MIN_TTL_SECONDS);
    // Index first: a session that exists must always be reachable by "log out everywhere".
    store
        .put(&user_index_key(&record.user, &id), "", lifetime_ttl)
        .await
        .map_err(|e| store_refusal("index write", e))?;
    store
        .put(&id.record_key(), &record.encode(), lifetime_ttl)
        .await
        .map_err(|e| store_refusal("session write", e))?;
    let max_age = s.timeouts.absolute_ms / 1000;
    flow.set_cookie = Some(
        s.cookie
            .set_cookie(&format!("s:{}", s.keyring.sign(id.as_str())), max_age),
    );
    flow.log.event = "login";
    flow.log.sid = Some(s.assertion_key.session_handle(&id));
    flow.log.user = Some(record.user);
    Ok(())
}

fn same_origin(headers: &[(String, String)], request_origin: &str) -> bool {
    if let Some(origin) = header_value(headers, "origin") {
        return origin == request_origin;
    }
    match header_value(headers, "sec-fetch-site") {
        Some(site) => site == "same-origin" || site == "none",
        // Neither header: not a browser, so not a cross-site request forgery.
        None => true,
    }
}

fn json_ok<B>(mut flow: Flow<'_>, body: String) -> Outcome<B> {
    let mut headers = json_headers();
    if let Some(cookie) = flow.set_cookie.take() {
        headers.push(("set-cookie".to_owned(), cookie));
    }
    flow.log.status = 200;
    Outcome {
        response: GateResponse {
            status: 200,
            headers,
            body: Body::Gateway(body),
        },
        background: Vec::new(),
        log: flow.log,
    }
}

#[allow(clippy::too_many_arguments)]
async fn gateway_endpoint<S: KeyValueStore, B>(
    mut flow: Flow<'_>,
    forward: &ForwardConfig,
    store: &S,
    method: &str,
    request_origin: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(String, String)],
    now_ms: u64,
) -> Outcome<B> {
    flow.log.event = "gateway";
    let endpoint = path.get(forward.gateway_path.len()..).unwrap_or("");
    if endpoint != "/logout" {
        return account::endpoint(
            flow,
            store,
            method,
            request_origin,
            endpoint,
            headers,
            now_ms,
        )
        .await;
    }
    if !method.eq_ignore_ascii_case("POST") {
        return flow.refuse(Refusal::MethodNotAllowed, None);
    }
    // Logout is POST-only, so the cross-site check always applies.
    if !same_origin(headers, request_origin) {
        return flow.refuse(Refusal::CrossSiteRequest, None);
    }
    let presented = presented_cookie(flow.session_config, headers);
    let live = match authenticate(&mut flow, store, &presented, headers, now_ms).await {
        Ok(live) => live,
        Err((refusal, detail)) => return flow.refuse(refusal, detail),
    };
    let scope = match query.map(|q| q.split('&').any(|pair| pair == "scope=all")) {
        Some(true) => LogoutScope::AllOfUser,
        _ => LogoutScope::Session,
    };
    let destroyed = match end_sessions(store, scope, &presented, Some(&live)).await {
        Ok(n) => n,
        Err(e) => {
            let (refusal, detail) = store_refusal("logout", e);
            return flow.refuse(refusal, detail);
        }
    };
    if let Some(s) = flow.session_config {
        flow.set_cookie = Some(s.cookie.clear_cookie());
    }
    flow.log.event = "logout";
    flow.log.detail = Some(format!("{scope:?}, {destroyed} destroyed"));
    json_ok(flow, format!("{{\"ok\":true,\"destroyed\":{destroyed}}}"))
}

#[cfg(test)]
mod tests {
    use super::split_request_url;

    #[test]
    fn request_url_split() {
        assert_eq!(
            split_request_url("http://[::1]:8787/x?"),
            Some(("http://[::1]:8787", "/x", Some("")))
        );
        assert_eq!(
            split_request_url("http://h?q=/path"),
            Some(("http://h", "/", Some("q=/path")))
        );
        assert_eq!(
            split_request_url("http://h/a?b?c#d?e"),
            Some(("http://h", "/a", Some("b?c")))
        );
        assert_eq!(
            split_request_url("http://h#frag"),
            Some(("http://h", "/", None))
        );
        assert_eq!(split_request_url("ftp://h/a"), None);
        assert_eq!(split_request_url(""), None);
    }
}
