//! The gate's answers: its own responses (refusals, JSON, the sessions page), the log line of
//! every decision, and the state one request carries until it is answered.

use super::browser::SignIn;
use super::caching;
use super::exchange::{Body, GateResponse};
use super::refusal::{Refusal, Refused};
use super::websocket::WebSocketRelay;
use crate::config::ConfigError;
use crate::session::SessionId;
use crate::set_cookie::CookieSettings;
use crate::store::Refresh;

/// One request, for the log: a JSON object without secrets or session ids. Every field below
/// is present on every request's line (`null` when it does not apply), except `operator`,
/// `detail` and `config_errors`, which appear only when they say something.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// What happened: `forward`, `refuse`, `login`, `logout`, `gateway`, `revoke`, `health`,
    /// `admin`, or `websocket_close` (a socket closed by its session's re-check).
    pub event: &'static str,
    /// `info`, `warn` (a refusal worth a look, an origin's 5xx) or `error` (the gateway failed).
    pub level: &'static str,
    /// The status answered.
    pub status: u16,
    /// The refusal's stable code (the `error` of its JSON body).
    pub code: Option<&'static str>,
    /// Milliseconds from the request's arrival to its response's headers (the runtime's clock
    /// advances only across I/O). Set by the runtime.
    pub duration_ms: u64,
    /// The runtime's request id: the `cf-ray` header when present.
    pub request_id: Option<String>,
    /// The request's method.
    pub method: String,
    /// The request's path, without the query.
    pub path: String,
    /// Keyed handle of the session, never the id.
    pub sid: Option<String>,
    /// The session's user (for the admin API: the user acted on).
    pub user: Option<String>,
    /// Which secret verified the session cookie (`current`, `previous[n]`, `weak-previous[n]`),
    /// so an operator sees when a previous secret is no longer used.
    pub secret: Option<String>,
    /// The operator of an admin API call (the name in `ADMIN_TOKENS`, never the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Why, in words (never a secret, a key or an id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every configuration problem, on the line of each request refused for one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_errors: Vec<String>,
    /// Not printed (`LOG_PUBLIC_PATHS=false` and a plain forward on a public path).
    #[serde(skip)]
    pub quiet: bool,
}

impl LogLine {
    /// The line as JSON (the runtime logs it as an object).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What [`handle`](super::handle) returns.
#[derive(Debug)]
pub struct Outcome<B> {
    /// The response for the client.
    pub response: GateResponse<B>,
    /// A refresh of the session's idle expiry, to run after the response (`waitUntil`) through
    /// the same store; its failure must not affect the response.
    pub refresh: Option<Refresh>,
    /// The log line of this request.
    pub log: LogLine,
    /// An accepted WebSocket handshake that the origin upgraded: the glue relays the socket and
    /// re-checks its session (the response is the origin's `101`).
    pub websocket: Option<WebSocketRelay>,
}

/// State carried through one request: the log line and the cookie to set, if any.
pub(super) struct Flow<'a> {
    /// The session cookie's settings, when the session settings are valid (to clear it).
    pub cookie: Option<&'a CookieSettings>,
    pub log: LogLine,
    /// A `Set-Cookie` line for the session cookie.
    pub set_cookie: Option<String>,
    /// Further headers of the gateway's own for the client.
    pub extra_headers: Vec<(String, String)>,
    /// The previous cookie name's settings when the session cookie came under that name: a
    /// refusal that clears the cookie clears that one.
    pub previous_cookie: Option<&'a CookieSettings>,
    /// How a 401 is answered: the sign-in redirect or `WWW-Authenticate` (set once the
    /// forwarding settings are known).
    pub sign_in: Option<SignIn>,
    /// The configuration's problems, named on the line of a request refused for them.
    pub config_errors: &'a [ConfigError],
    /// The session a login instruction created in this request (for `MAX_SESSIONS_PER_USER`).
    pub created: Option<SessionId>,
}

impl<'a> Flow<'a> {
    pub fn new(cookie: Option<&'a CookieSettings>, method: &str, path: &str) -> Self {
        Flow {
            cookie,
            log: LogLine {
                method: method.to_owned(),
                path: path.to_owned(),
                ..LogLine::default()
            },
            set_cookie: None,
            extra_headers: Vec::new(),
            previous_cookie: None,
            sign_in: None,
            config_errors: &[],
            created: None,
        }
    }

    /// Records a refusal of the presented session in the log, and clears the session cookie when
    /// the refusal is about it; the caller then refuses, or (on an optional path) forwards
    /// without identity.
    pub fn drop_session(&mut self, (refusal, detail): Refused) {
        self.log.code = Some(refusal.code());
        self.log.detail = detail;
        self.log.level = refusal.level();
        if refusal == Refusal::Misconfigured {
            self.log.config_errors = self.config_errors.iter().map(ToString::to_string).collect();
        }
        if refusal.clears_cookie() {
            self.set_cookie = self.cookie.map(CookieSettings::clear_cookie);
            if let Some(previous) = self.previous_cookie.take() {
                self.extra_headers
                    .push(("set-cookie".to_owned(), previous.clear_cookie()));
            }
        }
    }

    /// Refuses the request; refusals about the presented session also clear its cookie. A 401
    /// that asks for a session redirects a browser navigation to `LOGIN_URL` when set, and
    /// otherwise carries `WWW-Authenticate: Session realm="…"` (the admin API's 401 carries its
    /// own `WWW-Authenticate: Bearer`).
    pub fn refuse<B>(mut self, refused: Refused) -> Outcome<B> {
        let refusal = refused.0;
        self.log.event = "refuse";
        self.drop_session(refused);
        let mut headers = json_headers();
        if refusal.asks_for_session() {
            if let Some(sign_in) = self.sign_in.take() {
                if let Some(location) = sign_in.location {
                    let headers = vec![
                        ("location".to_owned(), location),
                        ("cache-control".to_owned(), caching::NO_STORE.to_owned()),
                    ];
                    return self.answer(sign_in.redirect_status, headers, String::new());
                }
                headers.push(("www-authenticate".to_owned(), sign_in.challenge()));
            }
        }
        self.answer(refusal.status(), headers, refusal.body())
    }

    /// Answers 200 with the gateway's own JSON.
    pub fn json_ok<B>(self, body: String) -> Outcome<B> {
        self.answer(200, json_headers(), body)
    }

    /// Answers with the gateway's own body, adding the session cookie and extra headers.
    pub fn answer<B>(
        mut self,
        status: u16,
        mut headers: Vec<(String, String)>,
        body: String,
    ) -> Outcome<B> {
        if let Some(cookie) = self.set_cookie.take() {
            headers.push(("set-cookie".to_owned(), cookie));
        }
        headers.append(&mut self.extra_headers);
        caching::no_store_with_cookie(&mut headers);
        self.log.status = status;
        if self.log.level.is_empty() {
            self.log.level = "info";
        }
        Outcome {
            response: GateResponse {
                status,
                headers,
                body: Body::Gateway(body),
            },
            refresh: None,
            log: self.log,
            websocket: None,
        }
    }
}

/// Headers of every JSON answer of the gateway.
pub(super) fn json_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("cache-control".to_owned(), "no-store".to_owned()),
        ("x-content-type-options".to_owned(), "nosniff".to_owned()),
    ]
}
