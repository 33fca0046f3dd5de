//! The whole request flow, natively: an in-memory store (that can fail, hang or serve stale data)
//! and a recording origin stand in for Workers KV and `fetch`.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sessiongate::assertion::ISSUER;
use sessiongate::config::{self, LoadedConfig};
use sessiongate::cookie::find_cookie;
use sessiongate::gate::{
    handle, Body, GateRequest, Origin, OriginError, OriginRequest, OriginResponse, Outcome,
};
use sessiongate::session::SessionRecord;
use sessiongate::signing::Keyring;
use sessiongate::store::import::{import_entries, OldSession};
use sessiongate::store::testing::{run_now as run, Fault, MemoryKv};
use sessiongate::store::{CachedSessions, IsolateMemory, KeyValueStore, KvSessions, SessionStore};

/// The browser flow's tests, in their own file so that they merge apart from the rest.
#[path = "gate_flow/browser.rs"]
mod browser;

const SECRET: &str = "test-session-secret-0123456789abcdef";
const OLD_SECRET: &str = "old-session-secret-0123456789abcdef";
const ASSERTION_SECRET: &str = "test-assertion-secret-0123456789abc";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";
const T0: u64 = 1_700_000_000_000;

/// What the fake origin answers: status, extra response headers.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
}

struct FakeOrigin {
    seen: RefCell<Vec<OriginRequest<String>>>,
    answer: RefCell<Result<Answer, OriginError>>,
}

impl FakeOrigin {
    fn new() -> Self {
        FakeOrigin {
            seen: RefCell::new(Vec::new()),
            answer: RefCell::new(Ok(Answer {
                status: 200,
                headers: vec![],
            })),
        }
    }
    fn answer_with(&self, headers: &[(&str, &str)]) {
        *self.answer.borrow_mut() = Ok(Answer {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        });
    }
    fn last(&self) -> OriginRequest<String> {
        let seen = self.seen.borrow();
        let r = seen.last().expect("origin was called");
        OriginRequest {
            method: r.method.clone(),
            target: r.target.clone(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            identified: r.identified,
        }
    }
    fn calls(&self) -> usize {
        self.seen.borrow().len()
    }
}

impl Origin for FakeOrigin {
    type RequestBody = String;
    type ResponseBody = String;
    async fn send(
        &self,
        request: OriginRequest<String>,
    ) -> Result<OriginResponse<String>, OriginError> {
        self.seen.borrow_mut().push(request);
        let answer = self.answer.borrow().clone()?;
        let mut headers = vec![("content-type".to_string(), "text/plain".to_string())];
        headers.extend(answer.headers);
        Ok(OriginResponse {
            status: answer.status,
            headers,
            body: "origin body".into(),
        })
    }
}

fn config_with(extra: &[(&str, &str)]) -> LoadedConfig {
    let mut vars: BTreeMap<String, String> = [
        ("SESSION_SECRET", SECRET),
        ("ASSERTION_SECRET", ASSERTION_SECRET),
        ("ORIGIN_URL", "http://origin.test:8080/api"),
        ("PUBLIC_PATHS", "/health,/login,/static/*"),
        ("COOKIE_NAME", "sid"),
        ("COOKIE_SECURE", "false"),
        ("IDLE_TIMEOUT", "600"),
        ("ABSOLUTE_TIMEOUT", "3600"),
        ("TOUCH_INTERVAL", "60"),
        ("SESSION_SECRETS_PREVIOUS", OLD_SECRET),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    config::load(&move |name| vars.get(name).cloned(), T0)
}

struct Harness {
    config: LoadedConfig,
    store: MemoryKv,
    origin: FakeOrigin,
    /// The isolate's memory (session cache and refresh memory), in front of `store` as in the
    /// Worker (the cache is off unless the config sets `SESSION_CACHE_TTL_MS`, so most tests see
    /// every read reach the store).
    memory: IsolateMemory,
}

impl Harness {
    fn new() -> Self {
        Self::with(&[])
    }
    fn with(extra: &[(&str, &str)]) -> Self {
        let config = config_with(extra);
        Harness {
            memory: config
                .session
                .as_ref()
                .map_or_else(|| IsolateMemory::new(0, 0), |s| s.isolate_memory()),
            config,
            store: MemoryKv::new(),
            origin: FakeOrigin::new(),
        }
    }

    /// Runs `f` with the store as the glue gives it to the gate for a request at `now`.
    fn with_store<T>(
        &self,
        now: u64,
        f: impl FnOnce(&CachedSessions<'_, KvSessions<'_, MemoryKv>>) -> T,
    ) -> T {
        let sessions = KvSessions::new(&self.store);
        f(&CachedSessions::new(&sessions, &self.memory, now))
    }

    /// Runs an outcome's refresh as the glue does after the response (through the same store).
    fn run_refresh(&self, out: &Outcome<String>, now: u64) {
        if let Some(refresh) = &out.refresh {
            self.with_store(now, |store| run(store.refresh(refresh)))
                .unwrap();
        }
    }

    fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        now: u64,
    ) -> Outcome<String> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path_and_query.to_string(), None),
        };
        let request = GateRequest {
            method: method.into(),
            origin: "https://gate.test".into(),
            path,
            query,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: "request body".to_string(),
        };
        self.with_store(now, |store| {
            run(handle(&self.config, store, &self.origin, request, now))
        })
    }

    /// Logs in as `user` through the origin's control header; returns the `Cookie` header value.
    fn login(&self, user: &str, cookie: Option<&str>, now: u64) -> String {
        self.origin.answer_with(&[(
            "Sessiongate-Login",
            &format!("{{\"user\":\"{user}\",\"data\":{{\"role\":\"admin\"}}}}"),
        )]);
        let mut headers = vec![("user-agent", UA)];
        if let Some(c) = cookie {
            headers.push(("cookie", c));
        }
        let out = self.send("POST", "/login", &headers, now);
        self.origin.answer_with(&[]);
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        let set_cookie = header(&out, "set-cookie").expect("login sets a cookie");
        set_cookie.split(';').next().unwrap().to_string()
    }

    /// Logs the session of `cookie` out through the origin's control header.
    fn logout(&self, cookie: &str, now: u64) -> Outcome<String> {
        self.origin
            .answer_with(&[("Sessiongate-Logout", "session")]);
        let out = self.send(
            "POST",
            "/logout",
            &[("cookie", cookie), ("user-agent", UA)],
            now,
        );
        self.origin.answer_with(&[]);
        out
    }

    /// Logs `user` in and out at T0 while reads keep serving the record as it was before the
    /// logout (KV's eventual consistency). Returns the cookie and the record key.
    fn logout_leaving_a_stale_copy(&self, user: &str) -> (String, String) {
        let cookie = self.login(user, None, T0);
        let key = format!("sess:{}", session_id_of(&cookie));
        let stale = self.store.value(&key).unwrap();
        assert_eq!(self.logout(&cookie, T0).response.status, 200);
        assert!(self.store.value(&key).is_none(), "deleted in the store");
        self.store.serve_stale(&key, &stale);
        (cookie, key)
    }

    fn get(&self, path: &str, cookie: &str, now: u64) -> Outcome<String> {
        self.send("GET", path, &[("cookie", cookie), ("user-agent", UA)], now)
    }
}

/// The record stored under `key`, decoded.
fn record(store: &MemoryKv, key: &str) -> Option<SessionRecord> {
    store.value(key).map(|v| SessionRecord::decode(&v).unwrap())
}

fn header<'a>(out: &'a Outcome<String>, name: &str) -> Option<&'a str> {
    out.response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn error_code(out: &Outcome<String>) -> String {
    match &out.response.body {
        Body::Gateway(text) => serde_json::from_str::<serde_json::Value>(text).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string(),
        Body::Origin(_) | Body::OriginAsIs(_) => "<origin>".into(),
    }
}

fn sent_header(request: &OriginRequest<String>, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn session_id_of(cookie: &str) -> String {
    let value = find_cookie(cookie, "sid").unwrap();
    let signed = value.strip_prefix("s:").unwrap();
    Keyring::new(&[SECRET])
        .unwrap()
        .unsign(signed)
        .unwrap()
        .to_string()
}

#[test]
fn login_creates_a_session_and_hides_the_control_header() {
    let h = Harness::new();
    h.origin.answer_with(&[(
        "Sessiongate-Login",
        r#"{"user":"alice","data":{"role":"admin"}}"#,
    )]);
    let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
    assert_eq!(out.response.status, 200);
    assert!(header(&out, "sessiongate-login").is_none());
    // Headers changed, so the glue must build the response from these headers.
    assert!(matches!(out.response.body, Body::Origin(_)));
    let set_cookie = header(&out, "set-cookie").unwrap();
    assert!(set_cookie.starts_with("sid=s%3A"), "{set_cookie}");
    assert!(
        set_cookie.contains("; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap();
    let id = session_id_of(cookie);
    assert_eq!(id.len(), 43);
    let record = record(&h.store, &format!("sess:{id}")).unwrap();
    assert_eq!(record.user, "alice");
    assert_eq!(record.created, T0);
    assert_eq!(record.idle_expires, T0 + 600_000);
    assert_eq!(record.absolute_expires, T0 + 3_600_000);
    assert!(record.ua.is_some());
    assert!(h.store.keys().contains(&format!("user:YWxpY2U:{id}")));
    assert_eq!(out.log.event, "login");
    assert!(
        !out.log.to_json().contains(&id),
        "log must not contain the session id"
    );
}

#[test]
fn authenticated_request_reaches_origin_with_user_and_assertion() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.send(
        "POST",
        "/orders/7?expand=items&x=%2F",
        &[
            ("cookie", &format!("theme=dark; {cookie}; lang=en")),
            ("user-agent", UA),
            ("content-type", "application/json"),
        ],
        T0 + 1000,
    );
    assert_eq!(out.response.status, 200);
    // A response with an identity is made private (see the browser-flow tests); the body is the
    // origin's, streamed through.
    assert!(matches!(out.response.body, Body::Origin(ref b) if b == "origin body"));
    assert_eq!(header(&out, "cache-control"), Some("private"));
    let sent = h.origin.last();
    assert_eq!(sent.method, "POST");
    // The origin receives the path and query as sent, after ORIGIN_URL (with its path prefix).
    assert_eq!(sent.target, "/orders/7?expand=items&x=%2F");
    assert_eq!(
        h.config.forward.as_ref().unwrap().origin_url.as_deref(),
        Some("http://origin.test:8080/api")
    );
    assert_eq!(sent.body, "request body");
    assert_eq!(
        sent_header(&sent, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        sent_header(&sent, "x-sessiongate-user").as_deref(),
        Some("alice")
    );
    // The session cookie stays at the gateway; other cookies go through.
    assert_eq!(
        sent_header(&sent, "cookie").as_deref(),
        Some("theme=dark; lang=en")
    );
    let token = sent_header(&sent, "x-sessiongate-assertion").unwrap();
    let config = h.config.session.as_ref().unwrap();
    let claims = config
        .assertion_key
        .verify(&token, (T0 + 1000) / 1000, 0)
        .unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.exp - claims.iat, 60);
    assert_ne!(claims.sid, session_id_of(&cookie));
    assert_eq!(claims.data.unwrap().as_str(), r#"{"role":"admin"}"#);
}

#[test]
fn missing_cookie_is_401_without_kv_read() {
    let h = Harness::new();
    let out = h.send("GET", "/orders", &[("user-agent", UA)], T0);
    assert_eq!(out.response.status, 401);
    assert_eq!(error_code(&out), "missing_session");
    assert_eq!(h.store.counts().keys_read, 0);
    assert_eq!(h.origin.calls(), 0);
}

#[test]
fn tampered_cookies_are_refused_without_kv_reads() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let reads_after_login = h.store.counts().keys_read;
    let value = cookie.strip_prefix("sid=").unwrap();
    let other_secret = Keyring::new(&["another-secret-another-secret-0123"]).unwrap();
    let id = session_id_of(&cookie);
    let last = value.chars().last().unwrap();
    let flipped_last = format!(
        "{}{}",
        &value[..value.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    for bad in [
        flipped_last,
        value[..value.len() - 1].to_string(),
        format!("{value}x"),
        value.replacen("s%3A", "", 1),
        format!("s%3A{}", other_secret.sign(&id)),
        format!("s%3A{id}"),
        "s%3A".to_string(),
        String::new(),
    ] {
        let out = h.get("/orders", &format!("sid={bad}"), T0);
        assert_eq!(out.response.status, 401, "{bad}");
        assert_eq!(error_code(&out), "invalid_session_cookie", "{bad}");
        assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
    }
    assert_eq!(
        h.store.counts().keys_read,
        reads_after_login,
        "bad signatures must not read KV"
    );
    assert_eq!(h.origin.calls(), 1, "only the login reached the origin");
}

#[test]
fn first_cookie_of_a_name_wins() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let value = cookie.strip_prefix("sid=").unwrap();
    let good_first = h.get("/orders", &format!("sid={value}; sid=garbage"), T0);
    assert_eq!(good_first.response.status, 200);
    let bad_first = h.get("/orders", &format!("sid=garbage; sid={value}"), T0);
    assert_eq!(bad_first.response.status, 401);
}

#[test]
fn rotated_secret_still_verifies() {
    let h = Harness::new();
    let id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let record = SessionRecord::new(
        "carol".into(),
        None,
        None,
        T0,
        &h.config.session.as_ref().unwrap().timeouts,
    );
    run(h.store.put(&format!("sess:{id}"), &record.encode(), 600)).unwrap();
    let signed_with_old = Keyring::new(&[OLD_SECRET]).unwrap().sign(id);
    let out = h.get(
        "/orders",
        &format!(
            "sid=s%3A{}",
            signed_with_old.replace('+', "%2B").replace('/', "%2F")
        ),
        T0,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(
        sent_header(&h.origin.last(), "x-sessiongate-user").as_deref(),
        Some("carol")
    );
}

#[test]
fn spoofed_identity_headers_never_reach_the_origin() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let spoofed = [
        ("X-Sessiongate-User", "mallory"),
        ("x_sessiongate_user", "mallory"),
        ("X-User", "mallory"),
        ("X-Forwarded-User", "mallory"),
        ("x-sessiongate-assertion", "forged"),
        ("Sessiongate-Login", r#"{"user":"mallory"}"#),
        ("X-Original-URL", "/admin"),
    ];
    for path in ["/health", "/orders"] {
        let mut headers = vec![("cookie", cookie.as_str()), ("user-agent", UA)];
        headers.extend(spoofed.iter().copied());
        let out = h.send("GET", path, &headers, T0);
        assert_eq!(out.response.status, 200);
        let sent = h.origin.last();
        for (name, _) in spoofed {
            let present: Vec<_> = sent
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .collect();
            if path == "/orders" && name.eq_ignore_ascii_case("x-sessiongate-user") {
                assert_eq!(
                    present,
                    vec![&("X-Sessiongate-User".to_string(), "alice".to_string())]
                );
            } else if path == "/orders" && name.eq_ignore_ascii_case("x-sessiongate-assertion") {
                assert_eq!(present.len(), 1);
                assert_ne!(present[0].1, "forged");
            } else {
                assert!(present.is_empty(), "{name} reached the origin on {path}");
            }
        }
        assert!(sent.headers.iter().all(|(_, v)| v != "mallory"));
    }
}

#[test]
fn public_paths_pass_without_a_session_and_others_do_not() {
    let h = Harness::new();
    assert_eq!(h.send("GET", "/health", &[], T0).response.status, 200);
    assert_eq!(
        h.send("GET", "/static/app.js", &[], T0).response.status,
        200
    );
    assert!(sent_header(&h.origin.last(), "x-sessiongate-user").is_none());
    for path in [
        "/HEALTH",
        "//health",
        "/health;x",
        "/static/..%2Fadmin",
        "/health/",
        "/orders?next=/health",
    ] {
        let out = h.send("GET", path, &[], T0);
        assert_eq!(out.response.status, 401, "{path}");
    }
}

#[test]
fn cors_preflight_is_forwarded_without_a_session() {
    let h = Harness::new();
    let out = h.send(
        "OPTIONS",
        "/orders",
        &[
            ("origin", "https://app.test"),
            ("access-control-request-method", "POST"),
        ],
        T0,
    );
    assert_eq!(out.response.status, 200);
    let plain_options = h.send("OPTIONS", "/orders", &[], T0);
    assert_eq!(plain_options.response.status, 401);
}

#[test]
fn login_over_an_existing_session_issues_a_fresh_id_and_ends_the_old_one() {
    let h = Harness::new();
    let first = h.login("alice", None, T0);
    let second = h.login("alice", Some(&first), T0 + 1000);
    assert_ne!(session_id_of(&first), session_id_of(&second));
    assert_eq!(
        error_code(&h.get("/orders", &first, T0 + 2000)),
        "unknown_session"
    );
    assert_eq!(h.get("/orders", &second, T0 + 2000).response.status, 200);
    assert!(!h
        .store
        .keys()
        .iter()
        .any(|k| k.ends_with(&session_id_of(&first))));
}

#[test]
fn user_agent_change_destroys_the_session() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.send(
        "GET",
        "/orders",
        &[("cookie", &cookie), ("user-agent", "curl/8.0")],
        T0,
    );
    assert_eq!(out.response.status, 401);
    assert_eq!(error_code(&out), "user_agent_mismatch");
    assert!(
        h.store.keys().is_empty(),
        "record and index gone: {:?}",
        h.store.keys()
    );
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0)),
        "unknown_session"
    );
}

#[test]
fn absent_user_agent_does_not_match_a_bound_one_but_empty_matches_absent() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.send("GET", "/orders", &[("cookie", &cookie)], T0);
    assert_eq!(error_code(&out), "user_agent_mismatch");

    h.origin
        .answer_with(&[("Sessiongate-Login", r#"{"user":"bob"}"#)]);
    let login = h.send("POST", "/login", &[], T0);
    let cookie = header(&login, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    h.origin.answer_with(&[]);
    assert_eq!(
        h.send(
            "GET",
            "/orders",
            &[("cookie", &cookie), ("user-agent", "")],
            T0
        )
        .response
        .status,
        200
    );
}

#[test]
fn user_agent_binding_can_be_off() {
    let h = Harness::with(&[("UA_BINDING", "false")]);
    let cookie = h.login("alice", None, T0);
    let out = h.send(
        "GET",
        "/orders",
        &[("cookie", &cookie), ("user-agent", "other")],
        T0,
    );
    assert_eq!(out.response.status, 200);
}

#[test]
fn idle_timeout_slides_with_throttled_refreshes() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let id = session_id_of(&cookie);
    // Within the refresh interval: no refresh.
    let early = h.get("/orders", &cookie, T0 + 30_000);
    assert!(early.refresh.is_none());
    // After it: one refresh, returned as work for after the response (waitUntil), not written
    // inline.
    let writes = h.store.counts().writes;
    let later = h.get("/orders", &cookie, T0 + 120_000);
    assert_eq!(h.store.counts().writes, writes);
    let refresh = later.refresh.as_ref().expect("a refresh is due");
    assert_eq!(refresh.id.as_str(), id);
    assert_eq!(refresh.activity.last_seen, T0 + 120_000);
    assert_eq!(refresh.activity.idle_expires, T0 + 120_000 + 600_000);
    h.run_refresh(&later, T0 + 120_000);
    // The refresh goes to the activity key, for the idle lifetime; the record itself is never
    // rewritten and lives for the absolute lifetime.
    assert_eq!(h.store.ttl(&format!("seen:{id}")), Some(600));
    let record_key = format!("sess:{id}");
    assert_eq!(record(&h.store, &record_key).unwrap().last_seen, T0);
    assert_eq!(
        h.store.ttl(&record_key),
        Some(3600),
        "the record lives for the absolute lifetime"
    );
    // Past the original idle expiry but within the refreshed one.
    assert_eq!(h.get("/orders", &cookie, T0 + 650_000).response.status, 200);
}

#[test]
fn idle_expiry_is_enforced_even_if_kv_still_returns_the_record() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.get("/orders", &cookie, T0 + 600_000);
    assert_eq!(out.response.status, 401);
    assert_eq!(error_code(&out), "session_expired");
    assert!(h.store.keys().is_empty());
}

#[test]
fn absolute_expiry_is_enforced() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let id = session_id_of(&cookie);
    let mut record = record(&h.store, &format!("sess:{id}")).unwrap();
    record.idle_expires = T0 + 10_000_000;
    run(h.store.put(&format!("sess:{id}"), &record.encode(), 600)).unwrap();
    let out = h.get("/orders", &cookie, T0 + 3_600_000);
    assert_eq!(error_code(&out), "session_expired");
}

#[test]
fn malformed_record_is_refused_and_removed() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let key = format!("sess:{}", session_id_of(&cookie));
    run(h.store.put(&key, "{\"v\":1,\"user\":\"alice\"}", 600)).unwrap();
    let out = h.get("/orders", &cookie, T0);
    assert_eq!(error_code(&out), "unknown_session");
    assert!(!h.store.keys().contains(&key));
}

#[test]
fn logout_header_destroys_the_session_and_clears_the_cookie() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.logout(&cookie, T0);
    assert_eq!(out.response.status, 200);
    assert!(header(&out, "sessiongate-logout").is_none());
    assert!(header(&out, "set-cookie")
        .unwrap()
        .starts_with("sid=; Max-Age=0"));
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0)),
        "unknown_session"
    );
    assert!(h.store.keys().is_empty());
}

#[test]
fn logout_all_destroys_every_session_of_the_user_only() {
    let h = Harness::new();
    let a1 = h.login("alice", None, T0);
    let a2 = h.login("alice", None, T0);
    let b = h.login("bob", None, T0);
    h.origin.answer_with(&[("Sessiongate-Logout", "all")]);
    let out = h.send(
        "POST",
        "/logout-all",
        &[("cookie", &a1), ("user-agent", UA)],
        T0,
    );
    h.origin.answer_with(&[]);
    assert_eq!(out.response.status, 200);
    assert_eq!(error_code(&h.get("/orders", &a1, T0)), "unknown_session");
    assert_eq!(error_code(&h.get("/orders", &a2, T0)), "unknown_session");
    assert_eq!(h.get("/orders", &b, T0).response.status, 200);
}

#[test]
fn built_in_logout_endpoint_with_csrf_check() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let other = h.login("alice", None, T0);
    let cross = h.send(
        "POST",
        "/.sessiongate/logout",
        &[
            ("cookie", &cookie),
            ("user-agent", UA),
            ("origin", "https://evil.test"),
        ],
        T0,
    );
    assert_eq!(cross.response.status, 403);
    assert_eq!(error_code(&cross), "cross_site_request");
    let cross_site = h.send(
        "POST",
        "/.sessiongate/logout",
        &[
            ("cookie", &cookie),
            ("user-agent", UA),
            ("sec-fetch-site", "cross-site"),
        ],
        T0,
    );
    assert_eq!(cross_site.response.status, 403);
    assert_eq!(h.get("/orders", &cookie, T0).response.status, 200);
    let wrong_method = h.send(
        "GET",
        "/.sessiongate/logout",
        &[("cookie", &cookie), ("user-agent", UA)],
        T0,
    );
    assert_eq!(wrong_method.response.status, 405);
    assert_eq!(
        h.send("GET", "/.sessiongate/nope", &[], T0).response.status,
        404
    );

    let out = h.send(
        "POST",
        "/.sessiongate/logout",
        &[
            ("cookie", &cookie),
            ("user-agent", UA),
            ("origin", "https://gate.test"),
        ],
        T0,
    );
    assert_eq!(out.response.status, 200);
    assert!(matches!(&out.response.body, Body::Gateway(b) if b.contains("\"destroyed\":1")));
    assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0)),
        "unknown_session"
    );
    assert_eq!(h.get("/orders", &other, T0).response.status, 200);
    let all = h.send(
        "POST",
        "/.sessiongate/logout?scope=all",
        &[
            ("cookie", &other),
            ("user-agent", UA),
            ("sec-fetch-site", "same-origin"),
        ],
        T0,
    );
    assert_eq!(all.response.status, 200);
    assert_eq!(error_code(&h.get("/orders", &other, T0)), "unknown_session");
    // Two logins and the two successful /orders checks; no gateway endpoint reached the origin.
    assert_eq!(
        h.origin.calls(),
        4,
        "gateway endpoints never reach the origin"
    );
}

#[test]
fn store_failure_is_503_and_nothing_is_forwarded() {
    for fault in [Fault::Error, Fault::Timeout] {
        let h = Harness::new();
        let cookie = h.login("alice", None, T0);
        let calls = h.origin.calls();
        h.store.set_fault(Some(fault));
        let out = h.get("/orders", &cookie, T0);
        assert_eq!(out.response.status, 503);
        assert_eq!(error_code(&out), "store_unavailable");
        assert_eq!(h.origin.calls(), calls);
        // Public paths need no store.
        assert_eq!(h.send("GET", "/health", &[], T0).response.status, 200);
        // Recovery when the fault ends.
        h.store.set_fault(None);
        assert_eq!(h.get("/orders", &cookie, T0).response.status, 200);
    }
}

#[test]
fn login_is_503_when_the_session_cannot_be_written() {
    let h = Harness::new();
    h.store.set_fault(Some(Fault::Error));
    h.origin
        .answer_with(&[("Sessiongate-Login", r#"{"user":"alice"}"#)]);
    let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
    assert_eq!(out.response.status, 503);
    assert!(header(&out, "set-cookie").is_none());
}

#[test]
fn origin_failures_map_to_502_and_504() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    *h.origin.answer.borrow_mut() = Err(OriginError::Unreachable("connection refused".into()));
    let out = h.get("/orders", &cookie, T0);
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (502, "origin_unreachable")
    );
    *h.origin.answer.borrow_mut() = Err(OriginError::Timeout);
    let out = h.get("/orders", &cookie, T0);
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (504, "origin_timeout")
    );
}

#[test]
fn malformed_login_instructions_are_502_and_set_no_cookie() {
    let h = Harness::new();
    for bad in [
        "alice",
        // Arrays decode into derived structs by field order; the instruction must be an object.
        "[\"alice\"]",
        "[\"alice\",{\"role\":\"admin\"}]",
        "{\"user\":\"alice\",\"user\":\"root\"}",
        "{\"user\":\"alice\"} trailing",
        "{\"user\":\"\"}",
        "{\"user\":\"a\\r\\nb\"}",
        "{\"user\":\"alice\",\"admin\":true}",
        "{\"user\":1}",
    ] {
        h.origin.answer_with(&[("Sessiongate-Login", bad)]);
        let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
        assert_eq!(out.response.status, 502, "{bad}");
        assert_eq!(error_code(&out), "origin_protocol_error");
        assert!(header(&out, "set-cookie").is_none());
    }
    let big = format!(
        "{{\"user\":\"alice\",\"data\":{{\"blob\":\"{}\"}}}}",
        "x".repeat(3000)
    );
    h.origin.answer_with(&[("Sessiongate-Login", &big)]);
    assert_eq!(h.send("POST", "/login", &[], T0).response.status, 502);
    h.origin
        .answer_with(&[("Sessiongate-Logout", "everything")]);
    assert_eq!(h.send("POST", "/login", &[], T0).response.status, 502);
    assert!(h.store.keys().is_empty());
}

#[test]
fn misconfiguration_refuses_private_paths_but_serves_public_ones() {
    let h = Harness::with(&[("SESSION_SECRET", "too-short")]);
    assert!(h
        .config
        .errors
        .iter()
        .any(|e| e.to_string().contains("SESSION_SECRET is too short")));
    let out = h.send("GET", "/orders", &[("cookie", "sid=s%3Aabc.def")], T0);
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (500, "misconfigured")
    );
    assert_eq!(h.send("GET", "/health", &[], T0).response.status, 200);
    // A login instruction cannot be honoured without session settings.
    h.origin
        .answer_with(&[("Sessiongate-Login", r#"{"user":"alice"}"#)]);
    assert_eq!(h.send("POST", "/login", &[], T0).response.status, 500);

    let broken = Harness::with(&[("ORIGIN_URL", "not a url")]);
    assert_eq!(broken.send("GET", "/health", &[], T0).response.status, 500);
    assert_eq!(broken.origin.calls(), 0);
}

#[test]
fn stale_reads_after_logout_are_still_bounded_by_the_record_timestamps() {
    // KV is eventually consistent: another location may read a deleted record for ~60 s.
    // The gateway cannot see that deletion, but it still enforces the record's own expiry.
    let h = Harness::new();
    let (cookie, _) = h.logout_leaving_a_stale_copy("alice");
    assert_eq!(
        h.get("/orders", &cookie, T0 + 1000).response.status,
        200,
        "stale read inside the window"
    );
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0 + 600_000)),
        "session_expired"
    );
}

#[test]
fn cached_miss_refuses_a_live_session_without_destroying_it_and_recovers() {
    // A location that read "not found" before the session was written keeps answering that for
    // about 60 s: the gateway fails closed but must not delete the real record.
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let key = format!("sess:{}", session_id_of(&cookie));
    h.store.serve_cached_miss(&key);
    let out = h.get("/orders", &cookie, T0 + 1000);
    assert_eq!(
        (out.response.status, error_code(&out).as_str()),
        (401, "unknown_session")
    );
    assert!(record(&h.store, &key).is_some(), "the real record is kept");
    h.store.clear_cached_misses();
    assert_eq!(h.get("/orders", &cookie, T0 + 2000).response.status, 200);
}

#[test]
fn stale_read_after_logout_cannot_bring_the_session_back() {
    // KV has no compare-and-set: a location still serving the deleted record accepts it for
    // ~60 s, and may refresh it. The refresh writes only `seen:<id>`, so the deletion of the record
    // stands: once the stale copy is gone, the session is refused everywhere.
    let h = Harness::new();
    let (cookie, key) = h.logout_leaving_a_stale_copy("alice");
    let out = h.get("/orders", &cookie, T0 + 61_000);
    assert_eq!(out.response.status, 200, "stale read inside the window");
    assert!(out.refresh.is_some(), "a refresh is due");
    h.run_refresh(&out, T0 + 61_000);
    assert!(h
        .store
        .value(&format!("seen:{}", session_id_of(&cookie)))
        .is_some());
    assert!(record(&h.store, &key).is_none(), "the record stays deleted");
    h.store.clear_stale();
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0 + 62_000)),
        "unknown_session"
    );
}

#[test]
fn origin_failures_end_when_the_origin_is_back() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    for fault in [
        OriginError::Unreachable("connection reset".into()),
        OriginError::Timeout,
    ] {
        *h.origin.answer.borrow_mut() = Err(fault);
        let out = h.get("/orders", &cookie, T0);
        assert!(matches!(out.response.status, 502 | 504));
        assert!(
            header(&out, "set-cookie").is_none(),
            "an origin failure ends no session"
        );
        h.origin.answer_with(&[]);
        let back = h.get("/orders", &cookie, T0);
        assert_eq!(back.response.status, 200);
        assert_eq!(
            sent_header(&h.origin.last(), "x-sessiongate-user").as_deref(),
            Some("alice")
        );
    }
}

#[test]
fn origin_cannot_set_the_session_cookie() {
    let h = Harness::new();
    h.origin.answer_with(&[
        ("Set-Cookie", "sid=s%3Aplanted.sig; Path=/"),
        ("set-cookie", " sid =x"),
        ("set-cookie", "theme=dark; Path=/"),
        ("set-cookie", "sidx=kept"),
    ]);
    let out = h.send("GET", "/health", &[], T0);
    let cookies: Vec<&str> = out
        .response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, vec!["theme=dark; Path=/", "sidx=kept"]);
    assert!(
        matches!(out.response.body, Body::Origin(_)),
        "a response with a header dropped must not go on as it came"
    );

    // With a login, the only session cookie is the gateway's.
    h.origin.answer_with(&[
        ("Set-Cookie", "sid=s%3Aplanted.sig; Path=/"),
        ("Sessiongate-Login", r#"{"user":"alice"}"#),
    ]);
    let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
    let session_cookies: Vec<&str> = out
        .response
        .headers
        .iter()
        .filter(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("sid="))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(session_cookies.len(), 1, "{session_cookies:?}");
    assert!(!session_cookies[0].contains("planted"));
}

#[test]
fn hop_by_hop_headers_named_in_connection_are_dropped() {
    let h = Harness::new();
    h.send(
        "GET",
        "/health",
        &[
            ("connection", "close, x-hop"),
            ("x-hop", "1"),
            ("x-keep", "1"),
        ],
        T0,
    );
    let sent = h.origin.last();
    assert!(sent_header(&sent, "x-hop").is_none());
    assert!(sent_header(&sent, "connection").is_none());
    assert_eq!(sent_header(&sent, "x-keep").as_deref(), Some("1"));
}

#[test]
fn logs_carry_decisions_but_no_secrets_or_ids() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let id = session_id_of(&cookie);
    for out in [
        h.get("/orders?token=secret-query", &cookie, T0),
        h.get("/orders", "sid=s%3Ajunk.sig", T0),
    ] {
        let line = out.log.to_json();
        assert!(!line.contains(&id), "{line}");
        assert!(
            !line.contains(SECRET) && !line.contains(ASSERTION_SECRET),
            "{line}"
        );
        assert!(!line.contains("secret-query"), "{line}");
        assert!(line.contains("\"path\":\"/orders\""), "{line}");
    }
}

// ---- The "your sessions" page and its JSON API ----

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

impl Harness {
    /// Logs `user` in from a browser with user agent `ua`; returns the `Cookie` header value.
    fn login_from(&self, user: &str, ua: &str, now: u64) -> String {
        self.origin
            .answer_with(&[("Sessiongate-Login", &format!("{{\"user\":\"{user}\"}}"))]);
        let out = self.send("POST", "/login", &[("user-agent", ua)], now);
        self.origin.answer_with(&[]);
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        let set_cookie = header(&out, "set-cookie").expect("login sets a cookie");
        set_cookie.split(';').next().unwrap().to_string()
    }

    /// A same-origin browser call to the sessions API.
    fn account(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        ua: &str,
        now: u64,
    ) -> Outcome<String> {
        self.send(
            method,
            path,
            &[
                ("cookie", cookie),
                ("user-agent", ua),
                ("origin", "https://gate.test"),
                ("sec-fetch-site", "same-origin"),
            ],
            now,
        )
    }
}

fn json_body(out: &Outcome<String>) -> serde_json::Value {
    match &out.response.body {
        Body::Gateway(text) => serde_json::from_str(text).unwrap(),
        Body::Origin(_) | Body::OriginAsIs(_) => panic!("expected the gateway's own answer"),
    }
}

#[test]
fn sessions_api_lists_the_users_live_sessions_by_handle_with_devices() {
    let h = Harness::new();
    let laptop = h.login_from("alice", CHROME, T0);
    let desktop = h.login_from("alice", FIREFOX, T0 + 1_000);
    let _bob = h.login_from("bob", CHROME, T0);
    // Created a day ago: past the absolute lifetime.
    let expired = h.login_from("alice", CHROME, T0 - 86_400_000);

    let out = h.account(
        "GET",
        "/.sessiongate/api/sessions",
        &laptop,
        CHROME,
        T0 + 5_000,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(header(&out, "cache-control"), Some("no-store"));
    let body = json_body(&out);
    assert_eq!(body["user"], "alice");
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(
        sessions.len(),
        2,
        "bob's and the expired session are not listed: {body}"
    );
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["device"], "Chrome 131 on Linux");
    assert_eq!(sessions[0]["created"], T0);
    assert_eq!(sessions[1]["current"], false);
    assert_eq!(sessions[1]["device"], "Firefox 133 on Windows");
    assert_eq!(sessions[1]["last_seen"], T0 + 1_000);
    let text = match &out.response.body {
        Body::Gateway(text) => text.clone(),
        Body::Origin(_) | Body::OriginAsIs(_) => unreachable!(),
    };
    for cookie in [&laptop, &desktop, &expired] {
        assert!(
            !text.contains(&session_id_of(cookie)),
            "raw session ids never leave the gateway"
        );
    }
    for session in sessions {
        let handle = session["id"].as_str().unwrap();
        assert_eq!(handle.len(), 22);
    }
    assert_eq!(
        h.origin.calls(),
        4,
        "only the four logins reached the origin"
    );
}

#[test]
fn sessions_api_signs_out_one_other_session_but_not_other_users_sessions() {
    let h = Harness::new();
    let laptop = h.login_from("alice", CHROME, T0);
    let desktop = h.login_from("alice", FIREFOX, T0);
    let bob = h.login_from("bob", FIREFOX, T0);
    let listed = json_body(&h.account("GET", "/.sessiongate/api/sessions", &laptop, CHROME, T0));
    let desktop_handle = listed["sessions"][1]["id"].as_str().unwrap().to_string();
    let bob_handle = json_body(&h.account("GET", "/.sessiongate/api/sessions", &bob, FIREFOX, T0))
        ["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone else's session cannot be named, and junk is not a handle.
    for handle in [
        bob_handle.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "x",
        "../../sess:whatever",
    ] {
        let out = h.account(
            "DELETE",
            &format!("/.sessiongate/api/sessions/{handle}"),
            &laptop,
            CHROME,
            T0,
        );
        assert_eq!(out.response.status, 404, "{handle}");
    }
    assert_eq!(
        h.send(
            "GET",
            "/orders",
            &[("cookie", &bob), ("user-agent", FIREFOX)],
            T0
        )
        .response
        .status,
        200,
        "bob's session survived"
    );

    let out = h.account(
        "DELETE",
        &format!("/.sessiongate/api/sessions/{desktop_handle}"),
        &laptop,
        CHROME,
        T0,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(
        json_body(&out),
        serde_json::json!({"ok": true, "revoked": 1, "current": false})
    );
    assert!(
        header(&out, "set-cookie").is_none(),
        "this device stays signed in"
    );
    let refused = h.send(
        "GET",
        "/orders",
        &[("cookie", &desktop), ("user-agent", FIREFOX)],
        T0,
    );
    assert_eq!(error_code(&refused), "unknown_session");
    assert_eq!(
        h.send(
            "GET",
            "/orders",
            &[("cookie", &laptop), ("user-agent", CHROME)],
            T0
        )
        .response
        .status,
        200
    );
    assert!(
        !h.store
            .keys()
            .iter()
            .any(|k| k.ends_with(&session_id_of(&desktop))),
        "record and index entry are gone"
    );
}

#[test]
fn sessions_api_signs_out_all_other_sessions() {
    let h = Harness::new();
    let here = h.login_from("alice", CHROME, T0);
    let others: Vec<String> = (0..3).map(|_| h.login_from("alice", FIREFOX, T0)).collect();
    let out = h.account(
        "POST",
        "/.sessiongate/api/sessions/revoke-others",
        &here,
        CHROME,
        T0,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(json_body(&out)["revoked"], 3);
    for cookie in &others {
        let refused = h.send(
            "GET",
            "/orders",
            &[("cookie", cookie), ("user-agent", FIREFOX)],
            T0,
        );
        assert_eq!(refused.response.status, 401);
    }
    let listed = json_body(&h.account("GET", "/.sessiongate/api/sessions", &here, CHROME, T0));
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);
}

#[test]
fn sessions_api_revoking_the_current_session_clears_the_cookie() {
    let h = Harness::new();
    let here = h.login_from("alice", CHROME, T0);
    let handle = json_body(&h.account("GET", "/.sessiongate/api/sessions", &here, CHROME, T0))
        ["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = h.account(
        "DELETE",
        &format!("/.sessiongate/api/sessions/{handle}"),
        &here,
        CHROME,
        T0,
    );
    assert_eq!(json_body(&out)["current"], true);
    assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        h.send(
            "GET",
            "/orders",
            &[("cookie", &here), ("user-agent", CHROME)],
            T0
        )
        .response
        .status,
        401
    );
}

#[test]
fn sessions_api_needs_a_session_the_right_method_and_a_same_origin_request() {
    let h = Harness::new();
    let here = h.login_from("alice", CHROME, T0);
    let other = h.login_from("alice", FIREFOX, T0);
    let no_session = h.send(
        "GET",
        "/.sessiongate/api/sessions",
        &[("user-agent", CHROME)],
        T0,
    );
    assert_eq!(error_code(&no_session), "missing_session");
    let wrong_agent = h.send(
        "GET",
        "/.sessiongate/api/sessions",
        &[("cookie", &here), ("user-agent", FIREFOX)],
        T0,
    );
    assert_eq!(error_code(&wrong_agent), "user_agent_mismatch");

    let here = h.login_from("alice", CHROME, T0);
    for (method, path) in [
        ("POST", "/.sessiongate/api/sessions"),
        ("GET", "/.sessiongate/api/sessions/revoke-others"),
        ("POST", "/.sessiongate/api/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
        ("POST", "/.sessiongate/sessions"),
    ] {
        let out = h.account(method, path, &here, CHROME, T0);
        assert_eq!(out.response.status, 405, "{method} {path}");
    }
    for cross_site in [
        vec![("origin", "https://evil.test")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
    ] {
        let mut headers = vec![("cookie", here.as_str()), ("user-agent", CHROME)];
        headers.extend(cross_site.iter().copied());
        let out = h.send(
            "POST",
            "/.sessiongate/api/sessions/revoke-others",
            &headers,
            T0,
        );
        assert_eq!(error_code(&out), "cross_site_request", "{cross_site:?}");
    }
    assert_eq!(
        h.send(
            "GET",
            "/orders",
            &[("cookie", &other), ("user-agent", FIREFOX)],
            T0
        )
        .response
        .status,
        200,
        "no cross-site call signed anything out"
    );
}

#[test]
fn sessions_page_and_assets_are_served_with_a_strict_policy() {
    let h = Harness::new();
    let page = h.send("GET", "/.sessiongate/sessions", &[], T0);
    assert_eq!(page.response.status, 200);
    assert_eq!(
        header(&page, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    assert!(matches!(&page.response.body, Body::Gateway(html) if html.contains("Your sessions")));
    for (path, content_type) in [
        ("/.sessiongate/sessions.css", "text/css; charset=utf-8"),
        (
            "/.sessiongate/sessions.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let out = h.send("GET", path, &[], T0);
        assert_eq!(out.response.status, 200);
        assert_eq!(header(&out, "content-type"), Some(content_type));
        assert_eq!(header(&out, "x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(h.origin.calls(), 0, "served by the gateway itself");

    let custom = Harness::with(&[("GATEWAY_PATH", "/account")]);
    assert_eq!(
        custom
            .send("GET", "/account/sessions", &[], T0)
            .response
            .status,
        200
    );
    assert_eq!(
        custom
            .send("GET", "/.sessiongate/sessions", &[], T0)
            .response
            .status,
        401,
        "an ordinary protected path there"
    );
}

// --- The session cache (`SESSION_CACHE_TTL_MS`) ---

#[test]
fn without_the_cache_every_request_reads_the_store() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    for i in 1..=3 {
        let before = h.store.counts().keys_read;
        assert_eq!(h.get("/orders", &cookie, T0 + i).response.status, 200);
        assert_eq!(
            h.store.counts().keys_read - before,
            2,
            "record and activity"
        );
    }
}

#[test]
fn the_cache_spares_store_reads_for_its_ttl_only() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "1000")]);
    let cookie = h.login("alice", None, T0);
    // A session is cached when a request loads it (record and activity, one bulk read), never
    // at login: only a load shows what the store holds.
    let before = h.store.counts().keys_read;
    assert_eq!(h.get("/orders", &cookie, T0 + 10).response.status, 200);
    assert_eq!(h.store.counts().keys_read - before, 2);
    let before = h.store.counts().keys_read;
    for t in [20, 500, 999] {
        let out = h.get("/orders", &cookie, T0 + t);
        assert_eq!(out.response.status, 200);
        assert_eq!(
            sent_header(&h.origin.last(), "x-sessiongate-user").as_deref(),
            Some("alice")
        );
    }
    assert_eq!(
        h.store.counts().keys_read,
        before,
        "answered from the cache"
    );
    assert_eq!(h.get("/orders", &cookie, T0 + 1010).response.status, 200);
    assert_eq!(
        h.store.counts().keys_read - before,
        2,
        "read again after the TTL"
    );
}

#[test]
fn a_logout_through_this_isolate_ends_a_cached_session_at_once() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "30000")]);
    let cookie = h.login("alice", None, T0);
    assert_eq!(h.get("/orders", &cookie, T0 + 1).response.status, 200);
    assert_eq!(h.logout(&cookie, T0 + 2).response.status, 200);
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0 + 3)),
        "unknown_session"
    );
}

#[test]
fn a_session_ended_elsewhere_is_refused_once_the_cached_read_is_older_than_the_ttl() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "2000")]);
    // The session is loaded at T0 + 1000. Using the cached session must not renew it: it is as
    // old as its read.
    let cookie = h.login("alice", None, T0);
    assert_eq!(h.get("/orders", &cookie, T0 + 1000).response.status, 200);
    assert_eq!(h.get("/orders", &cookie, T0 + 1500).response.status, 200);
    // Another isolate logs the session out: the keys go from the store, not from this cache.
    let id = session_id_of(&cookie);
    h.store.remove(&format!("sess:{id}"));
    h.store.remove(&format!("seen:{id}"));
    assert_eq!(
        h.get("/orders", &cookie, T0 + 2999).response.status,
        200,
        "the documented bound: up to the TTL after this isolate's read"
    );
    assert_eq!(
        error_code(&h.get("/orders", &cookie, T0 + 3001)),
        "unknown_session"
    );
}

#[test]
fn with_the_store_down_a_cached_session_lasts_the_ttl_then_fails_closed() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "1000")]);
    let cookie = h.login("alice", None, T0);
    // Bob logged in through this isolate, but his session was never loaded here.
    let bob = h.login("bob", None, T0);
    assert_eq!(h.get("/orders", &cookie, T0 + 1).response.status, 200);
    h.store.set_fault(Some(Fault::Error));
    assert_eq!(h.get("/orders", &cookie, T0 + 500).response.status, 200);
    assert_eq!(
        error_code(&h.get("/orders", &bob, T0 + 600)),
        "store_unavailable",
        "a session not wholly cached is not let through"
    );
    let out = h.get("/orders", &cookie, T0 + 1002);
    assert_eq!(out.response.status, 503);
    assert_eq!(error_code(&out), "store_unavailable");
}

#[test]
fn expiry_and_the_user_agent_are_checked_on_every_cached_request() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "30000")]);
    let cookie = h.login("alice", None, T0);
    // Idle timeout 600 s, touch every 60 s, absolute 3600 s (config_with).
    let late = T0 + 600_000 - 10_000;
    assert_eq!(h.get("/orders", &cookie, late).response.status, 200);
    let before = h.store.counts().keys_read;
    let out = h.send(
        "GET",
        "/orders",
        &[("cookie", &cookie), ("user-agent", "curl/8.0")],
        late + 1,
    );
    assert_eq!(error_code(&out), "user_agent_mismatch");
    assert_eq!(
        h.store.counts().keys_read,
        before,
        "refused from the cached record"
    );
    // The mismatch destroyed the session, and the cache forgot it with the store.
    assert_eq!(
        error_code(&h.get("/orders", &cookie, late + 2)),
        "unknown_session"
    );

    // Within the cache's TTL of the last read, but past the idle timeout.
    let h2 = Harness::with(&[
        ("SESSION_CACHE_TTL_MS", "30000"),
        ("IDLE_TIMEOUT", "10"),
        ("TOUCH_INTERVAL", "5"),
    ]);
    let cookie = h2.login("carol", None, T0);
    assert_eq!(h2.get("/orders", &cookie, T0 + 1).response.status, 200);
    assert_eq!(
        error_code(&h2.get("/orders", &cookie, T0 + 10_001)),
        "session_expired"
    );
}

#[test]
fn a_refresh_updates_the_cache_so_it_is_written_once_per_touch_interval() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "30000")]);
    let cookie = h.login("alice", None, T0);
    assert_eq!(h.get("/orders", &cookie, T0 + 1).response.status, 200);
    let out = h.get("/orders", &cookie, T0 + 61_000);
    assert!(out.refresh.is_some(), "a refresh is due");
    h.run_refresh(&out, T0 + 61_000);
    let before = h.store.counts().keys_read;
    let again = h.get("/orders", &cookie, T0 + 62_000);
    assert_eq!(again.response.status, 200);
    assert!(again.refresh.is_none(), "the refreshed activity is cached");
    assert_eq!(h.store.counts().keys_read, before);
    // The refreshed activity slides the idle timeout for cached reads too.
    assert_eq!(
        h.get("/orders", &cookie, T0 + 61_000 + 29_000)
            .response
            .status,
        200
    );
}

#[test]
fn revoking_from_the_sessions_api_ends_a_cached_session_at_once() {
    let h = Harness::with(&[("SESSION_CACHE_TTL_MS", "30000")]);
    let laptop = h.login("alice", None, T0);
    let phone = h.login("alice", None, T0 + 1);
    assert_eq!(h.get("/orders", &phone, T0 + 2).response.status, 200);
    let out = h.send(
        "POST",
        "/.sessiongate/api/sessions/revoke-others",
        &[
            ("cookie", &laptop),
            ("user-agent", UA),
            ("origin", "https://gate.test"),
        ],
        T0 + 3,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(
        error_code(&h.get("/orders", &phone, T0 + 4)),
        "unknown_session"
    );
    assert_eq!(h.get("/orders", &laptop, T0 + 5).response.status, 200);
}

// --- Many sessions of one user: ending them all, reaching each one ---

/// Workers KV's limit of operations per invocation.
const KV_OPERATIONS_PER_INVOCATION: usize = 1000;

impl Harness {
    /// `n` sessions of `user`, logged in one millisecond apart; their cookies.
    fn sessions_of(&self, user: &str, n: u64) -> Vec<String> {
        (0..n).map(|i| self.login(user, None, T0 + i)).collect()
    }

    /// Sends a request and returns its outcome with the store operations it made.
    fn counted(&self, send: impl FnOnce(&Self) -> Outcome<String>) -> (Outcome<String>, usize) {
        let before = self.store.counts().operations();
        let out = send(self);
        (out, self.store.counts().operations() - before)
    }
}

/// The number a JSON answer holds under `name`.
fn json_number(out: &Outcome<String>, name: &str) -> u64 {
    json_body(out)[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {:?}", json_body(out)))
}

/// Calls `send` until the answer says nothing remains, checking every call's store operations;
/// returns the calls made and the sessions they ended in all.
fn until_done(
    h: &Harness,
    ended_field: &str,
    send: impl Fn(&Harness) -> Outcome<String>,
) -> (usize, u64) {
    let (mut calls, mut ended) = (0, 0);
    loop {
        let (out, operations) = h.counted(&send);
        calls += 1;
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        assert!(
            operations <= KV_OPERATIONS_PER_INVOCATION,
            "call {calls} made {operations} store operations"
        );
        ended += json_number(&out, ended_field);
        if json_number(&out, "remaining") == 0 {
            return (calls, ended);
        }
        assert!(calls < 20, "no progress: {:?}", json_body(&out));
    }
}

#[test]
fn signing_out_all_other_sessions_ends_every_one_of_thousands_within_the_operation_limit() {
    let h = Harness::new();
    let cookies = h.sessions_of("alice", 2_500);
    let bob = h.login("bob", None, T0);
    let keep = &cookies[0];
    let now = T0 + 10_000;
    let (calls, revoked) = until_done(&h, "revoked", |h| {
        h.account(
            "POST",
            "/.sessiongate/api/sessions/revoke-others",
            keep,
            UA,
            now,
        )
    });
    assert!(calls > 1, "2,500 sessions do not fit one request");
    assert_eq!(revoked, 2_499);
    for cookie in &cookies[1..] {
        assert_eq!(
            error_code(&h.get("/orders", cookie, now + 1)),
            "unknown_session"
        );
    }
    assert_eq!(h.get("/orders", keep, now + 1).response.status, 200);
    assert_eq!(h.get("/orders", &bob, now + 1).response.status, 200);
    // A later call finds nothing left, and costs no deletes.
    let deletes = h.store.counts().deletes;
    let again = h.account(
        "POST",
        "/.sessiongate/api/sessions/revoke-others",
        keep,
        UA,
        now + 2,
    );
    assert_eq!(json_number(&again, "revoked"), 0);
    assert_eq!(h.store.counts().deletes, deletes);
}

#[test]
fn logging_out_everywhere_ends_thousands_of_sessions_the_current_one_last() {
    let h = Harness::new();
    let cookies = h.sessions_of("alice", 2_500);
    let current = &cookies[1_234];
    let now = T0 + 10_000;
    let logout_all =
        |h: &Harness| h.account("POST", "/.sessiongate/logout?scope=all", current, UA, now);
    // While others remain, the current session is kept (it is what the next call needs) and the
    // cookie is not cleared.
    let first = logout_all(&h);
    assert!(json_number(&first, "remaining") > 0);
    assert!(header(&first, "set-cookie").is_none());
    assert_eq!(h.get("/orders", current, now).response.status, 200);
    let (_, destroyed) = until_done(&h, "destroyed", logout_all);
    assert_eq!(json_number(&first, "destroyed") + destroyed, 2_500);
    for cookie in &cookies {
        assert_eq!(
            error_code(&h.get("/orders", cookie, now + 1)),
            "unknown_session"
        );
    }
}

#[test]
fn the_origins_log_out_everywhere_reports_what_is_left_until_every_session_has_ended() {
    let h = Harness::new();
    let cookies = h.sessions_of("alice", 2_500);
    let current = &cookies[0];
    h.origin.answer_with(&[("Sessiongate-Logout", "all")]);
    let mut calls = 0;
    loop {
        let (out, operations) =
            h.counted(|h| h.get("/account/logout-everywhere", current, T0 + 10_000));
        calls += 1;
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        assert!(
            operations <= KV_OPERATIONS_PER_INVOCATION,
            "{operations} operations"
        );
        match header(&out, "x-sessiongate-logout-remaining") {
            Some(remaining) => {
                assert!(remaining.parse::<u64>().unwrap() > 0);
                assert!(
                    header(&out, "set-cookie").is_none(),
                    "the current session is kept"
                );
            }
            None => {
                assert!(header(&out, "set-cookie")
                    .unwrap()
                    .starts_with("sid=; Max-Age=0"));
                break;
            }
        }
        assert!(calls < 20);
    }
    h.origin.answer_with(&[]);
    assert!(calls > 1);
    for cookie in &cookies {
        assert_eq!(
            error_code(&h.get("/orders", cookie, T0 + 10_001)),
            "unknown_session"
        );
    }
}

#[test]
fn a_user_with_a_few_hundred_sessions_is_logged_out_everywhere_in_one_call() {
    let h = Harness::new();
    let cookies = h.sessions_of("alice", 150);
    let (out, operations) = h.counted(|h| {
        h.account(
            "POST",
            "/.sessiongate/api/sessions/revoke-others",
            &cookies[0],
            UA,
            T0 + 1_000,
        )
    });
    assert!(operations <= KV_OPERATIONS_PER_INVOCATION);
    assert_eq!(json_number(&out, "revoked"), 149);
    assert_eq!(json_number(&out, "remaining"), 0);
    for cookie in &cookies[1..] {
        assert_eq!(
            error_code(&h.get("/orders", cookie, T0 + 1_001)),
            "unknown_session"
        );
    }
    // Every key of those sessions went: record, activity and index entry.
    let left: Vec<String> = h.store.keys();
    assert_eq!(
        left.len(),
        2,
        "the current session's record and index entry: {left:?}"
    );
}

#[test]
fn the_sessions_api_pages_through_every_session_and_revokes_any_of_them() {
    let h = Harness::new();
    let cookies = h.sessions_of("alice", 150);
    let current = &cookies[149];
    let now = T0 + 1_000;
    let first = h.account("GET", "/.sessiongate/api/sessions", current, UA, now);
    let page = json_body(&first);
    assert_eq!(page["total"], 150);
    assert_eq!(page["sessions"].as_array().unwrap().len(), 100);
    assert_eq!(page["sessions"][0]["current"], true);
    assert_eq!(page["next"], 100);
    let second = h.account(
        "GET",
        "/.sessiongate/api/sessions?offset=100",
        current,
        UA,
        now,
    );
    let rest = json_body(&second);
    assert_eq!(rest["sessions"].as_array().unwrap().len(), 50);
    assert_eq!(rest["next"], serde_json::Value::Null);
    let handles: std::collections::BTreeSet<String> = page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["sessions"].as_array().unwrap())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(handles.len(), 150, "every session, once");

    // A session shown only on the second page is revocable, and ends.
    let target = rest["sessions"][10]["id"].as_str().unwrap();
    let out = h.account(
        "DELETE",
        &format!("/.sessiongate/api/sessions/{target}"),
        current,
        UA,
        now,
    );
    assert_eq!(
        json_body(&out),
        serde_json::json!({"ok": true, "revoked": 1, "current": false})
    );
    let refused = cookies
        .iter()
        .filter(|c| h.get("/orders", c, now + 1).response.status == 401)
        .count();
    assert_eq!(refused, 1);
    let after = h.account("GET", "/.sessiongate/api/sessions", current, UA, now + 2);
    assert_eq!(json_body(&after)["total"], 149);
}

// --- Taking over express-session's cookies: previous and weak secrets, re-signing, names ---

/// express-session's tutorial secret: 12 bytes, public.
const WEAK_SECRET: &str = "keyboard cat";
/// An express-session id (uid-safe, 24 bytes).
const OLD_APP_ID: &str = "Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH";

/// The `Cookie` header of `name` holding `id` signed with `secret`, as express-session writes it.
fn cookie_signed_with(name: &str, id: &str, secret: &str) -> String {
    let signed = Keyring::new(&[secret]).unwrap().sign(id);
    format!(
        "{name}={}",
        sessiongate::cookie::encode_uri_component(&format!("s:{signed}"))
    )
}

/// The `Set-Cookie` lines of an answer.
fn set_cookies(out: &Outcome<String>) -> Vec<&str> {
    out.response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect()
}

impl Harness {
    /// Seeds a session taken over from the app's store (`sessiongate import`) under `id`.
    fn import(&self, id: &str, user: &str, now: u64) {
        let timeouts = self.config.session.as_ref().unwrap().timeouts;
        let old = OldSession {
            id: id.into(),
            user: user.into(),
            data: None,
            user_agent: Some(UA.into()),
            expires: now + 3_000_000,
            created: Some(now - 1_000),
        };
        for entry in import_entries(old, &timeouts, now).unwrap() {
            self.store.insert_entry(&entry);
        }
    }
}

#[test]
fn a_cookie_signed_with_a_previous_secret_is_reissued_under_the_current_one() {
    let h = Harness::new();
    h.import(OLD_APP_ID, "carol", T0);
    let old_cookie = cookie_signed_with("sid", OLD_APP_ID, OLD_SECRET);
    let out = h.get("/orders", &old_cookie, T0 + 1_000);
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(out.log.secret.as_deref(), Some("previous[0]"));
    let reissued = set_cookies(&out);
    assert_eq!(reissued.len(), 1);
    // Same id, the current secret, the remaining lifetime, the configured Path.
    let new_cookie = reissued[0].split(';').next().unwrap().to_owned();
    assert_eq!(new_cookie, cookie_signed_with("sid", OLD_APP_ID, SECRET));
    assert!(
        reissued[0].contains("; Max-Age=2999; Path=/; HttpOnly"),
        "{}",
        reissued[0]
    );
    // A cookie under the current secret is left alone, and logged as such.
    let again = h.get("/orders", &new_cookie, T0 + 2_000);
    assert!(set_cookies(&again).is_empty());
    assert_eq!(again.log.secret.as_deref(), Some("current"));
    // Removing the old secret afterwards logs nobody out.
    let without_old = Harness::with(&[("SESSION_SECRETS_PREVIOUS", "")]);
    without_old.import(OLD_APP_ID, "carol", T0);
    assert_eq!(
        without_old
            .get("/orders", &new_cookie, T0 + 3_000)
            .response
            .status,
        200
    );
    assert_eq!(
        error_code(&without_old.get("/orders", &old_cookie, T0 + 3_000)),
        "invalid_session_cookie"
    );
}

/// A deployment that still accepts the app's tutorial secret until `until` (YYYY-MM-DD).
fn weak_harness(until: &str) -> Harness {
    Harness::with(&[
        (
            "SESSION_SECRETS_PREVIOUS",
            &format!(r#"["{OLD_SECRET}","{WEAK_SECRET}"]"#),
        ),
        ("ALLOW_WEAK_PREVIOUS_SECRETS", until),
    ])
}

#[test]
fn a_weak_previous_secret_verifies_only_imported_sessions_and_only_until_its_date() {
    // T0 is 2023-11-14T22:13:20Z.
    let h = weak_harness("2023-11-20");
    h.import(OLD_APP_ID, "carol", T0);
    let weak_cookie = cookie_signed_with("sid", OLD_APP_ID, WEAK_SECRET);
    let out = h.get("/orders", &weak_cookie, T0 + 1_000);
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    assert_eq!(out.log.secret.as_deref(), Some("weak-previous[1]"));
    let reissued = set_cookies(&out)[0].split(';').next().unwrap().to_owned();
    assert_eq!(reissued, cookie_signed_with("sid", OLD_APP_ID, SECRET));

    // Anyone can sign any id with a public secret: a session the gateway created is refused,
    // and not ended by the forgery.
    let created = h.login("alice", None, T0);
    let forged = cookie_signed_with("sid", &session_id_of(&created), WEAK_SECRET);
    let out = h.get("/orders", &forged, T0 + 1_000);
    assert_eq!(error_code(&out), "invalid_session_cookie");
    assert!(out
        .log
        .detail
        .as_deref()
        .unwrap()
        .contains("weak previous secret"));
    assert_eq!(h.get("/orders", &created, T0 + 2_000).response.status, 200);

    // Past the date the weak secret simply stops verifying (the end of 2023-11-20, UTC).
    let last_moment = 1_700_524_799_999;
    let late_id = "LateImportedSession0123456789ab";
    h.import(late_id, "dave", last_moment - 1_000);
    let late_weak = cookie_signed_with("sid", late_id, WEAK_SECRET);
    let out = h.get("/orders", &late_weak, last_moment);
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    let late_reissued = set_cookies(&out)[0].split(';').next().unwrap().to_owned();
    let out = h.get("/orders", &late_weak, last_moment + 1);
    assert_eq!(error_code(&out), "invalid_session_cookie");
    assert!(out
        .log
        .detail
        .as_deref()
        .unwrap()
        .contains("ALLOW_WEAK_PREVIOUS_SECRETS"));
    // The re-issued cookie outlives it: removing the weak secret logs nobody out.
    assert_eq!(
        h.get("/orders", &late_reissued, last_moment + 1)
            .response
            .status,
        200
    );
}

#[test]
fn a_weak_secret_is_a_configuration_error_without_an_end_date_and_never_signs() {
    let without = Harness::with(&[("SESSION_SECRETS_PREVIOUS", &format!(r#"["{WEAK_SECRET}"]"#))]);
    assert!(without.config.session.is_none());
    assert!(without
        .config
        .errors
        .iter()
        .any(|e| e.to_string().contains("ALLOW_WEAK_PREVIOUS_SECRETS")));
    let h = weak_harness("2023-11-20");
    let cookie = h.login("alice", None, T0);
    assert_eq!(
        cookie,
        cookie_signed_with("sid", &session_id_of(&cookie), SECRET)
    );
    assert!(Harness::with(&[
        ("SESSION_SECRET", WEAK_SECRET),
        ("ALLOW_WEAK_PREVIOUS_SECRETS", "2023-11-20")
    ])
    .config
    .session
    .is_none());
}

#[test]
fn the_cookie_carries_the_configured_domain_and_path_everywhere() {
    let h = Harness::with(&[
        ("COOKIE_SECURE", "true"),
        ("COOKIE_DOMAIN", "example.com"),
        ("COOKIE_PATH", "/app"),
    ]);
    h.origin
        .answer_with(&[("Sessiongate-Login", r#"{"user":"alice"}"#)]);
    let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
    let set = header(&out, "set-cookie").unwrap();
    assert!(
        set.contains("; Domain=example.com; Path=/app; HttpOnly; Secure"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    h.origin.answer_with(&[]);
    let out = h.logout(&cookie, T0 + 1);
    assert!(header(&out, "set-cookie")
        .unwrap()
        .starts_with("sid=; Max-Age=0; Domain=example.com; Path=/app;"));
}

#[test]
fn a_cookie_under_the_previous_name_is_served_and_moved_to_the_new_name() {
    let h = Harness::with(&[
        ("COOKIE_NAME_PREVIOUS", "connect.sid"),
        ("COOKIE_DOMAIN_PREVIOUS", "example.com"),
    ]);
    h.import(OLD_APP_ID, "carol", T0);
    let old_cookie = cookie_signed_with("connect.sid", OLD_APP_ID, OLD_SECRET);
    h.origin
        .answer_with(&[("Set-Cookie", "connect.sid=s%3Aplanted.sig; Path=/")]);
    let out = h.get("/orders", &format!("theme=dark; {old_cookie}"), T0 + 1_000);
    h.origin.answer_with(&[]);
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    // The origin sees neither cookie name, and cannot set the old one any more.
    assert_eq!(
        sent_header(&h.origin.last(), "cookie").as_deref(),
        Some("theme=dark")
    );
    let set = set_cookies(&out);
    // The new cookie, the old one cleared with its Domain, and a host-only one of the old name.
    assert_eq!(set.len(), 3, "{set:?}");
    assert!(set
        .iter()
        .any(|c| c.starts_with("connect.sid=; Max-Age=0; Path=/;")));
    let new_cookie = set
        .iter()
        .find(|c| c.starts_with("sid="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(new_cookie, cookie_signed_with("sid", OLD_APP_ID, SECRET));
    assert!(set
        .iter()
        .any(|c| c.starts_with("connect.sid=; Max-Age=0; Domain=example.com; Path=/;")));
    assert_eq!(
        h.get("/orders", &new_cookie, T0 + 2_000).response.status,
        200
    );
    // A session refusal under the old name clears the old cookie too.
    let unknown = cookie_signed_with("connect.sid", &"u".repeat(32), SECRET);
    let out = h.get("/orders", &unknown, T0 + 3_000);
    assert_eq!(error_code(&out), "unknown_session");
    assert!(set_cookies(&out)
        .iter()
        .any(|c| c.starts_with("connect.sid=; Max-Age=0")));
}

#[test]
fn cookie_scope_settings_that_browsers_would_drop_are_configuration_errors() {
    for (extra, needle) in [
        (
            vec![
                ("COOKIE_NAME", "__Host-sid"),
                ("COOKIE_SECURE", "true"),
                ("COOKIE_DOMAIN", "example.com"),
            ],
            "__Host-",
        ),
        (
            vec![
                ("COOKIE_NAME", "__Host-sid"),
                ("COOKIE_SECURE", "true"),
                ("COOKIE_PATH", "/app"),
            ],
            "__Host-",
        ),
        (
            vec![("COOKIE_DOMAIN", "example.com")],
            "COOKIE_DOMAIN requires COOKIE_SECURE=true",
        ),
        (vec![("COOKIE_DOMAIN", "exa mple.com")], "COOKIE_DOMAIN"),
        (vec![("COOKIE_PATH", "app")], "COOKIE_PATH"),
        (
            vec![("COOKIE_NAME_PREVIOUS", "sid")],
            "COOKIE_NAME_PREVIOUS must differ",
        ),
        (
            vec![("ALLOW_WEAK_PREVIOUS_SECRETS", "2024-01-30")],
            "at most 30 days ahead",
        ),
        (
            vec![("ALLOW_WEAK_PREVIOUS_SECRETS", "2023-02-30")],
            "ALLOW_WEAK_PREVIOUS_SECRETS",
        ),
        (
            vec![
                ("SESSION_SECRETS_PREVIOUS", r#"["",""]"#),
                ("ALLOW_WEAK_PREVIOUS_SECRETS", "2023-11-20"),
            ],
            "is empty",
        ),
    ] {
        let h = Harness::with(&extra);
        assert!(h.config.session.is_none(), "{extra:?}");
        assert!(
            h.config
                .errors
                .iter()
                .any(|e| e.to_string().contains(needle)),
            "{extra:?}: {:?}",
            h.config.errors
        );
    }
}

#[test]
fn with_a_domain_the_reissue_also_clears_a_host_only_cookie_of_the_name() {
    // The browser holds the app's host-only cookie (sent first, from before the app set a
    // Domain) beside the Domain one: one cookie must be left, under the current secret.
    let h = Harness::with(&[
        (
            "SESSION_SECRETS_PREVIOUS",
            &format!(r#"["{OLD_SECRET}","{WEAK_SECRET}"]"#),
        ),
        ("ALLOW_WEAK_PREVIOUS_SECRETS", "2023-11-20"),
        ("COOKIE_SECURE", "true"),
        ("COOKIE_DOMAIN", "example.com"),
    ]);
    h.import(OLD_APP_ID, "carol", T0);
    let weak_cookie = cookie_signed_with("sid", OLD_APP_ID, WEAK_SECRET);
    let out = h.get(
        "/orders",
        &format!("{weak_cookie}; {weak_cookie}"),
        T0 + 1_000,
    );
    assert_eq!(out.response.status, 200, "{:?}", out.log);
    let set = set_cookies(&out);
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set.iter().any(|c| c.starts_with(&format!(
        "{}; Max-Age=2999; Domain=example.com; Path=/;",
        cookie_signed_with("sid", OLD_APP_ID, SECRET)
    ))));
    assert!(set
        .iter()
        .any(|c| c.starts_with("sid=; Max-Age=0; Path=/;") && !c.contains("Domain")));
    // Without a Domain, nothing else is cleared.
    let host_only = weak_harness("2023-11-20");
    host_only.import(OLD_APP_ID, "carol", T0);
    assert_eq!(
        set_cookies(&host_only.get("/orders", &weak_cookie, T0 + 1_000)).len(),
        1
    );
}
