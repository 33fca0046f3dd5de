//! WebSocket upgrades through the gate, natively (`gate::websocket`): which handshakes are
//! accepted and what each side sees of them, and the re-check of an open socket's session over an
//! in-memory store behind the isolate's cache, as the Worker runs it.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sessiongate::config::{self, LoadedConfig};
use sessiongate::gate::websocket::{CLOSE_SESSION_ENDED, CLOSE_STORE_UNAVAILABLE};
use sessiongate::gate::{
    handle, Body, GateRequest, Origin, OriginError, OriginRequest, OriginResponse, Outcome,
};
use sessiongate::store::testing::{run_now as run, Fault, MemoryKv};
use sessiongate::store::{CachedSessions, IsolateMemory, KvSessions};

const SECRET: &str = "test-session-secret-0123456789abcdef";
const ASSERTION_SECRET: &str = "test-assertion-secret-0123456789abc";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";
const GATE: &str = "https://gate.test";
const T0: u64 = 1_700_000_000_000;
const RAY: &str = "8a1b2c3d4e5f6789-AMS";

/// An origin that upgrades every request carrying `Upgrade: websocket` (unless told to refuse),
/// and answers login / logout instructions when asked.
struct FakeOrigin {
    seen: RefCell<Vec<OriginRequest<()>>>,
    refuse_upgrades: RefCell<bool>,
    instruction: RefCell<Option<(&'static str, String)>>,
}

impl Origin for FakeOrigin {
    type RequestBody = ();
    type ResponseBody = &'static str;
    async fn send(
        &self,
        request: OriginRequest<()>,
    ) -> Result<OriginResponse<&'static str>, OriginError> {
        let upgrade = request
            .headers
            .iter()
            .any(|(n, v)| n == "upgrade" && v == "websocket");
        self.seen.borrow_mut().push(request);
        let mut headers = vec![("x-origin".to_owned(), "1".to_owned())];
        if let Some((name, value)) = self.instruction.borrow_mut().take() {
            headers.push((name.to_owned(), value));
        }
        if upgrade && !*self.refuse_upgrades.borrow() {
            headers.extend(
                [
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                    ("Sec-WebSocket-Extensions", "permessage-deflate"),
                    ("Sec-WebSocket-Protocol", "chat.v1"),
                ]
                .map(|(n, v)| (n.to_owned(), v.to_owned())),
            );
            return Ok(OriginResponse {
                status: 101,
                headers,
                body: "origin socket",
            });
        }
        Ok(OriginResponse {
            status: 200,
            headers,
            body: "origin body",
        })
    }
}

struct Harness {
    config: LoadedConfig,
    store: MemoryKv,
    memory: IsolateMemory,
    origin: FakeOrigin,
}

impl Harness {
    fn with(extra: &[(&str, &str)]) -> Self {
        let mut vars: BTreeMap<String, String> = [
            ("SESSION_SECRET", SECRET),
            ("ASSERTION_SECRET", ASSERTION_SECRET),
            ("ORIGIN_URL", "http://origin.test"),
            ("PUBLIC_PATHS", "/login,/public/*"),
            ("COOKIE_NAME", "sid"),
            ("COOKIE_SECURE", "false"),
            ("IDLE_TIMEOUT", "600"),
            ("ABSOLUTE_TIMEOUT", "3600"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = config::load(&move |name| vars.get(name).cloned(), T0);
        assert!(config.errors.is_empty(), "{:?}", config.errors);
        Harness {
            memory: config.session.as_ref().unwrap().isolate_memory(),
            config,
            store: MemoryKv::new(),
            origin: FakeOrigin {
                seen: RefCell::new(Vec::new()),
                refuse_upgrades: RefCell::new(false),
                instruction: RefCell::new(None),
            },
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        now: u64,
    ) -> Outcome<&'static str> {
        let request = GateRequest {
            method: method.into(),
            origin: GATE.into(),
            path: path.into(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: (),
        };
        let sessions = KvSessions::new(&self.store);
        let store = CachedSessions::new(&sessions, &self.memory, now);
        run(handle(&self.config, &store, &self.origin, request, now))
    }

    /// Logs `user` in through the origin's login instruction; the `Cookie` header value.
    fn login(&self, user: &str) -> String {
        *self.origin.instruction.borrow_mut() =
            Some(("Sessiongate-Login", format!("{{\"user\":\"{user}\"}}")));
        let out = self.send("POST", "/login", &[("user-agent", UA)], T0);
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        header(&out, "set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// A WebSocket handshake from the gateway's own origin with `cookie`.
    fn handshake(&self, path: &str, cookie: &str, now: u64) -> Outcome<&'static str> {
        self.send(
            "GET",
            path,
            &[
                ("cookie", cookie),
                ("user-agent", UA),
                ("origin", GATE),
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("sec-websocket-version", "13"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits",
                ),
                ("sec-websocket-protocol", "chat.v1, chat.v2"),
                ("cf-ray", RAY),
            ],
            now,
        )
    }

    fn last_seen_headers(&self) -> Vec<(String, String)> {
        self.origin.seen.borrow().last().unwrap().headers.clone()
    }

    fn recheck(
        &self,
        out: &Outcome<&'static str>,
        now: u64,
    ) -> Option<sessiongate::gate::websocket::SocketClose> {
        let relay = out.websocket.as_ref().expect("a relay");
        let sessions = KvSessions::new(&self.store);
        let store = CachedSessions::new(&sessions, &self.memory, now);
        run(relay.recheck(&store, now))
    }
}

fn header<'a>(out: &'a Outcome<&'static str>, name: &str) -> Option<&'a str> {
    out.response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn error_code(out: &Outcome<&'static str>) -> String {
    match &out.response.body {
        Body::Gateway(text) => serde_json::from_str::<serde_json::Value>(text).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_accepted_handshake_reaches_the_origin_with_the_identity_and_only_its_own_handshake() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    let out = h.handshake("/chat", &format!("{cookie}; theme=dark"), T0 + 120_000);
    assert_eq!(out.response.status, 101, "{:?}", out.log);
    assert_eq!(out.log.event, "forward");

    let seen = h.last_seen_headers();
    assert_eq!(value(&seen, "upgrade"), Some("websocket"));
    assert_eq!(value(&seen, "x-sessiongate-user"), Some("alice"));
    assert!(value(&seen, "x-sessiongate-assertion").is_some());
    assert_eq!(value(&seen, "cookie"), Some("theme=dark"));
    assert_eq!(
        value(&seen, "sec-websocket-protocol"),
        Some("chat.v1, chat.v2")
    );
    for name in [
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
    ] {
        assert_eq!(
            value(&seen, name),
            None,
            "{name} is the client connection's own"
        );
    }

    // The client's 101: the origin's chosen subprotocol and other headers, not its handshake.
    assert_eq!(header(&out, "sec-websocket-protocol"), Some("chat.v1"));
    assert_eq!(header(&out, "x-origin"), Some("1"));
    for name in [
        "upgrade",
        "connection",
        "sec-websocket-accept",
        "sec-websocket-extensions",
    ] {
        assert_eq!(
            header(&out, name),
            None,
            "{name} is the origin connection's own"
        );
    }
    assert!(matches!(out.response.body, Body::Origin("origin socket")));
    let relay = out.websocket.as_ref().expect("relayed");
    assert_eq!(relay.recheck_every_ms(), Some(60_000), "the default");
    // The handshake is a request like any other: it refreshes the session's activity.
    assert!(out.refresh.is_some());
}

#[test]
fn refusals_are_ordinary_answers_and_reach_neither_the_origin_nor_the_store() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    let calls = h.origin.seen.borrow().len();
    let reads = h.store.counts().reads;
    let handshake = |origin: Option<&str>, cookie: Option<&str>| {
        let mut headers = vec![("user-agent", UA), ("upgrade", "websocket")];
        headers.extend(origin.map(|o| ("origin", o)));
        headers.extend(cookie.map(|c| ("cookie", c)));
        h.send("GET", "/chat", &headers, T0)
    };
    for (origin, status, code) in [
        (Some("https://evil.test"), 403, "cross_site_request"),
        (
            Some("https://gate.test.evil.test"),
            403,
            "cross_site_request",
        ),
        (Some("http://gate.test"), 403, "cross_site_request"),
        (None, 403, "cross_site_request"),
    ] {
        let out = handshake(origin, Some(&cookie));
        assert_eq!(
            (out.response.status, error_code(&out).as_str()),
            (status, code),
            "{origin:?}"
        );
        assert!(out.websocket.is_none());
    }
    assert_eq!(
        h.store.counts().reads,
        reads,
        "checked before any store read"
    );
    let out = handshake(Some(GATE), None);
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (401, "missing_session")
    );
    let forged = format!("{}x", cookie);
    let out = handshake(Some(GATE), Some(&forged));
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (401, "invalid_session_cookie")
    );
    assert_eq!(h.origin.seen.borrow().len(), calls, "the origin saw none");
    // A foreign origin is refused on a public path too (the origin's own cookies are forwarded).
    let out = h.send(
        "GET",
        "/public/feed",
        &[("upgrade", "websocket"), ("origin", "https://evil.test")],
        T0,
    );
    assert_eq!(error_code(&out), "cross_site_request");
}

#[test]
fn other_upgrades_and_other_methods_are_ordinary_requests_with_upgrade_stripped() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    for (method, upgrade) in [("GET", "h2c"), ("POST", "websocket"), ("GET", "websocket2")] {
        let out = h.send(
            method,
            "/api",
            &[
                ("cookie", &cookie),
                ("user-agent", UA),
                ("upgrade", upgrade),
                ("connection", "Upgrade, HTTP2-Settings"),
                ("http2-settings", "AAMAAABk"),
            ],
            T0,
        );
        assert_eq!(
            out.response.status, 200,
            "{method} {upgrade}: {:?}",
            out.log
        );
        assert!(out.websocket.is_none());
        let seen = h.last_seen_headers();
        for name in ["upgrade", "connection", "http2-settings"] {
            assert_eq!(value(&seen, name), None, "{method} {upgrade}: {name}");
        }
    }
    // `websocket` among several offered protocols, in any case, is a WebSocket handshake.
    let out = h.send(
        "GET",
        "/chat",
        &[
            ("cookie", &cookie),
            ("user-agent", UA),
            ("upgrade", "h2c, WebSocket"),
            ("origin", GATE),
        ],
        T0,
    );
    assert_eq!(out.response.status, 101);
    assert_eq!(value(&h.last_seen_headers(), "upgrade"), Some("websocket"));
}

#[test]
fn a_handshake_the_origin_refuses_is_passed_on_as_its_answer() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    *h.origin.refuse_upgrades.borrow_mut() = true;
    let out = h.handshake("/chat", &cookie, T0);
    assert_eq!(out.response.status, 200);
    assert!(out.websocket.is_none());
    assert!(matches!(
        out.response.body,
        Body::Origin("origin body") | Body::OriginAsIs("origin body")
    ));
}

#[test]
fn a_public_path_relays_without_a_session_to_recheck() {
    let h = Harness::with(&[]);
    let out = h.send(
        "GET",
        "/public/feed",
        &[("upgrade", "websocket"), ("origin", GATE)],
        T0,
    );
    assert_eq!(out.response.status, 101);
    let relay = out.websocket.as_ref().unwrap();
    assert_eq!(relay.recheck_every_ms(), None);
    assert_eq!(value(&h.last_seen_headers(), "x-sessiongate-user"), None);
    assert_eq!(h.recheck(&out, T0 + 3_600_000), None);
}

#[test]
fn the_recheck_closes_with_4401_once_the_session_is_gone() {
    let h = Harness::with(&[("WEBSOCKET_RECHECK_SECONDS", "5")]);
    let cookie = h.login("alice");
    let out = h.handshake("/chat", &cookie, T0);
    assert_eq!(
        out.websocket.as_ref().unwrap().recheck_every_ms(),
        Some(5000)
    );
    assert_eq!(h.recheck(&out, T0 + 5000), None);
    let writes = h.store.counts().writes;
    assert_eq!(h.recheck(&out, T0 + 10_000), None);
    assert_eq!(
        h.store.counts().writes,
        writes,
        "a re-check is not activity"
    );

    // Logged out through the same isolate.
    *h.origin.instruction.borrow_mut() = Some(("Sessiongate-Logout", "session".to_owned()));
    let logout = h.send(
        "POST",
        "/logout",
        &[("cookie", &cookie), ("user-agent", UA)],
        T0 + 12_000,
    );
    assert_eq!(logout.log.event, "logout", "{:?}", logout.log);
    let close = h.recheck(&out, T0 + 15_000).unwrap();
    assert_eq!(
        (close.code, close.reason),
        (CLOSE_SESSION_ENDED, "unknown_session")
    );
    assert_eq!(close.log.event, "websocket_close");
    assert_eq!(close.log.level, "info", "a session that ended is everyday");
    assert_eq!(close.log.status, 401);
    assert_eq!(close.log.code, Some("unknown_session"));
    assert_eq!(close.log.user.as_deref(), Some("alice"));
    assert_eq!(close.log.path, "/chat");
    assert_eq!(close.log.sid, out.log.sid, "the handshake's session handle");
    assert!(close.log.sid.is_some());
    assert_eq!(close.log.secret.as_deref(), Some("current"));
    assert_eq!(
        close.log.request_id.as_deref(),
        Some(RAY),
        "the handshake's request id"
    );
    assert_eq!(out.log.request_id.as_deref(), Some(RAY));
    assert!(
        !close.log.to_json().contains(&cookie[4..20]),
        "no session id in the log"
    );
}

#[test]
fn the_recheck_sees_an_end_through_the_same_isolate_despite_the_session_cache() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "30000")]);
    let cookie = h.login("alice");
    let out = h.handshake("/chat", &cookie, T0);
    assert_eq!(h.recheck(&out, T0 + 1000), None);
    *h.origin.instruction.borrow_mut() = Some(("Sessiongate-Logout", "session".to_owned()));
    h.send(
        "POST",
        "/logout",
        &[("cookie", &cookie), ("user-agent", UA)],
        T0 + 1500,
    );
    let close = h.recheck(&out, T0 + 2000).unwrap();
    assert_eq!(close.code, CLOSE_SESSION_ENDED);
}

#[test]
fn the_recheck_closes_an_expired_session_and_ends_it() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    let out = h.handshake("/chat", &cookie, T0);
    // Messages are not activity: with no request for IDLE_TIMEOUT, the socket's session expires.
    let close = h.recheck(&out, T0 + 601_000).unwrap();
    assert_eq!(
        (close.code, close.reason),
        (CLOSE_SESSION_ENDED, "session_expired")
    );
    assert!(
        h.store.keys().iter().all(|k| !k.starts_with("sess:")),
        "ended in the store: {:?}",
        h.store.keys()
    );
}

#[test]
fn the_recheck_fails_closed_when_the_store_fails() {
    let h = Harness::with(&[]);
    let cookie = h.login("alice");
    let out = h.handshake("/chat", &cookie, T0);
    for fault in [Fault::Error, Fault::Timeout] {
        h.store.set_fault(Some(fault));
        let close = h.recheck(&out, T0 + 1000).unwrap();
        assert_eq!(
            (close.code, close.reason),
            (CLOSE_STORE_UNAVAILABLE, "store_unavailable")
        );
        assert_eq!(close.log.level, "error", "the store failed");
    }
    h.store.set_fault(None);
    assert_eq!(h.recheck(&out, T0 + 2000), None);
}

#[test]
fn csrf_allowed_origins_may_open_sockets_whatever_csrf_protection_says() {
    for protection in ["true", "false"] {
        let h = Harness::with(&[
            ("CSRF_ALLOWED_ORIGINS", "https://admin.test:8443"),
            ("CSRF_PROTECTION", protection),
        ]);
        let cookie = h.login("alice");
        let handshake = |origin: &str| {
            h.send(
                "GET",
                "/chat",
                &[
                    ("cookie", &cookie),
                    ("user-agent", UA),
                    ("upgrade", "websocket"),
                    ("origin", origin),
                ],
                T0,
            )
        };
        assert_eq!(
            handshake("https://admin.test:8443").response.status,
            101,
            "{protection}"
        );
        assert_eq!(handshake(GATE).response.status, 101, "{protection}");
        let out = handshake("https://admin.test");
        assert_eq!(error_code(&out), "cross_site_request", "{protection}");
    }
}
