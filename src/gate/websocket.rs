//! WebSocket upgrades: which handshakes the gate accepts, what the origin and the client see of
//! them, and the periodic re-check of the session behind an open socket.
//!
//! The gateway terminates both ends of a WebSocket (the runtime glue relays the messages), so it
//! can close the socket itself when the session ends. This module decides; the glue relays:
//!
//! - [`requested`]: a `GET` whose `Upgrade` lists `websocket`. Every other upgrade (`h2c`, …) is
//!   an ordinary request with `Upgrade` stripped as a hop-by-hop header.
//! - `check_origin`: the handshake's `Origin` must be the gateway's own origin or one of
//!   `CSRF_ALLOWED_ORIGINS`, whether or not the path is public and whether or not
//!   `CSRF_PROTECTION` is on: browsers send cookies with cross-site handshakes and CORS does not
//!   cover them (cross-site WebSocket hijacking). Decided by [`super::is_allowed_origin`], the
//!   one place for every origin check.
//! - `origin_request` and `client_response`: the handshake headers each side's runtime makes
//!   for itself are dropped; `Sec-WebSocket-Protocol` passes both ways.
//! - [`WebSocketRelay`]: what the glue needs to relay an accepted socket, and
//!   [`WebSocketRelay::recheck`], the session check it runs every `WEBSOCKET_RECHECK_SECONDS`.
//!
//! Messages do not count as activity for the idle timeout: most are sent by code (pushes,
//! heartbeats), not by the user, so counting them would keep an unattended tab's session alive
//! until its absolute timeout. The handshake itself is a request like any other, and refreshes
//! the session as one.

use super::cookie_check::{Presented, VerifiedCookie};
use super::exchange::{Body, GateRequest, GateResponse, OriginRequest};
use super::refusal::{Refusal, Refused};
use super::respond::{Flow, LogLine};
use super::session_check::{authenticate, LiveSession};
use crate::config::{SessionConfig, VerifiedBy};
use crate::headers::header_value;
use crate::session::SessionId;
use crate::store::SessionStore;

/// The close code when the session behind a socket is gone: ended, expired, unknown, or used from
/// another user agent (4000 + the HTTP status of the same refusal; the reason is its code, such as
/// `unknown_session`).
pub const CLOSE_SESSION_ENDED: u16 = 4401;

/// The close code when the session store failed during a re-check (4000 + 503; fail closed, as
/// for requests). The client may reconnect: its handshake is checked in full.
pub const CLOSE_STORE_UNAVAILABLE: u16 = 4503;

/// Handshake headers the runtime on each side makes for itself (key, accept, version,
/// extensions), never passed from one connection to the other. `Sec-WebSocket-Protocol` is
/// passed: the origin chooses the subprotocol.
const HANDSHAKE_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-accept",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// Whether a request asks for a WebSocket: a `GET` whose `Upgrade` header lists `websocket`
/// (compared case-insensitively). Must be asked before header hygiene, which strips `Upgrade`.
///
/// ```
/// use sessiongate::gate::websocket::requested;
/// let upgrade = |value: &str| vec![("Upgrade".to_owned(), value.to_owned())];
/// assert!(requested("GET", &upgrade("websocket")));
/// assert!(requested("get", &upgrade("WebSocket")));
/// assert!(!requested("GET", &upgrade("h2c")));
/// assert!(!requested("POST", &upgrade("websocket")));
/// assert!(!requested("GET", &[]));
/// ```
pub fn requested(method: &str, headers: &[(String, String)]) -> bool {
    method.eq_ignore_ascii_case("GET")
        && headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
            .flat_map(|(_, value)| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Whether a WebSocket handshake may proceed from where it comes: its `Origin` must equal the
/// gateway's origin or one of `allowed` (`CSRF_ALLOWED_ORIGINS`), as [`super::is_allowed_origin`]
/// decides for every origin check. A handshake without `Origin` is refused too: every browser
/// sends one, and a non-browser client can. Refused with 403 `cross_site_request`.
pub(super) fn check_origin<B>(request: &GateRequest<B>, allowed: &[String]) -> Result<(), Refused> {
    match header_value(&request.headers, "origin") {
        Some(_) if super::is_allowed_origin(request, allowed) => Ok(()),
        Some(_) => Err((
            Refusal::CrossSiteRequest,
            Some(
                "WebSocket handshake from an origin neither this one nor in CSRF_ALLOWED_ORIGINS"
                    .to_owned(),
            ),
        )),
        None => Err((
            Refusal::CrossSiteRequest,
            Some("WebSocket handshake without Origin".to_owned()),
        )),
    }
}

fn is_handshake_header(name: &str) -> bool {
    HANDSHAKE_HEADERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// The origin request of an accepted handshake: the client's handshake headers replaced by
/// `Upgrade: websocket` (the adapter's runtime opens its own connection to the origin).
pub(super) fn origin_request<B>(mut request: OriginRequest<B>) -> OriginRequest<B> {
    request
        .headers
        .retain(|(name, _)| !is_handshake_header(name));
    request
        .headers
        .push(("upgrade".to_owned(), "websocket".to_owned()));
    request
}

/// The client's `101` from the origin's: without the origin connection's handshake headers
/// (the runtime answers the client's handshake itself), never passed on as it came.
pub(super) fn client_response<B>(response: GateResponse<B>) -> GateResponse<B> {
    let GateResponse {
        status,
        mut headers,
        body,
    } = response;
    headers.retain(|(name, _)| !is_handshake_header(name));
    let body = match body {
        Body::Origin(b) | Body::OriginAsIs(b) => Body::Origin(b),
        Body::Gateway(text) => Body::Gateway(text),
    };
    GateResponse {
        status,
        headers,
        body,
    }
}

/// An accepted WebSocket: the glue relays the origin's socket to the client and, when a session
/// was checked for the handshake, re-checks it every [`WebSocketRelay::recheck_every_ms`].
#[derive(Clone, Debug)]
pub struct WebSocketRelay {
    watch: Option<SessionWatch>,
}

/// The session behind a socket, and what checking it again needs.
#[derive(Clone, Debug)]
struct SessionWatch {
    id: SessionId,
    /// Whose socket it is, for the log line of its close (a session already gone has no record).
    user: String,
    /// The handshake's request id, on the log line of the close.
    request_id: Option<String>,
    user_agent: Option<String>,
    path: String,
    /// The secret that verified the handshake's cookie (the re-check checks as that cookie would).
    by: VerifiedBy,
    sessions: SessionConfig,
}

/// Why the gateway closes a socket: the close code and reason for both sides, and the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketClose {
    /// [`CLOSE_SESSION_ENDED`] or [`CLOSE_STORE_UNAVAILABLE`].
    pub code: u16,
    /// The refusal's stable code, e.g. `unknown_session` (ASCII, well under 123 bytes).
    pub reason: &'static str,
    /// The log line of the decision (event `websocket_close`).
    pub log: LogLine,
}

impl WebSocketRelay {
    /// A relay for the handshake logged as `handshake` (its path and request id are named again on
    /// the line of the socket's close); `live` is the session checked for it (none on a public
    /// path: nothing to re-check).
    pub(super) fn new(
        sessions: Option<&SessionConfig>,
        presented: &Presented,
        live: Option<&LiveSession>,
        user_agent: Option<&str>,
        handshake: &LogLine,
    ) -> Self {
        let watch = match (sessions, presented, live) {
            (Some(sessions), Presented::Valid(cookie), Some(live)) => Some(SessionWatch {
                id: live.id.clone(),
                user: live.record.user.clone(),
                request_id: handshake.request_id.clone(),
                user_agent: user_agent.map(str::to_owned),
                path: handshake.path.clone(),
                by: cookie.by,
                sessions: sessions.clone(),
            }),
            _ => None,
        };
        WebSocketRelay { watch }
    }

    /// How often to re-check the session (`WEBSOCKET_RECHECK_SECONDS`), or `None` when the socket
    /// has no session (a public path).
    pub fn recheck_every_ms(&self) -> Option<u64> {
        self.watch.as_ref().map(|w| w.sessions.websocket_recheck_ms)
    }

    /// Checks the socket's session again through `store` (the same checks as a request: present,
    /// not expired, same user agent; an expired or mismatched session is ended as for a request).
    /// `Some` says how to close the socket; `None`: the session lives. Reads only: re-checks are
    /// not activity.
    pub async fn recheck<S: SessionStore>(&self, store: &S, now_ms: u64) -> Option<SocketClose> {
        let watch = self.watch.as_ref()?;
        let mut flow = Flow::new(None, "GET", &watch.path);
        flow.log.user = Some(watch.user.clone());
        flow.log.request_id = watch.request_id.clone();
        let headers: Vec<(String, String)> = watch
            .user_agent
            .iter()
            .map(|ua| ("user-agent".to_owned(), ua.clone()))
            .collect();
        let presented = Presented::Valid(VerifiedCookie {
            id: watch.id.clone(),
            by: watch.by,
            previous_name: false,
        });
        match authenticate(
            &mut flow,
            &watch.sessions,
            store,
            &presented,
            &headers,
            now_ms,
        )
        .await
        {
            Ok(_) => None,
            Err((refusal, detail)) => {
                let code = if refusal == Refusal::StoreUnavailable {
                    CLOSE_STORE_UNAVAILABLE
                } else {
                    CLOSE_SESSION_ENDED
                };
                let mut log = flow.log;
                log.event = "websocket_close";
                log.level = refusal.level();
                log.status = refusal.status();
                log.code = Some(refusal.code());
                log.detail = detail;
                Some(SocketClose {
                    code,
                    reason: refusal.code(),
                    log,
                })
            }
        }
    }
}
