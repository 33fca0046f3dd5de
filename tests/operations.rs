//! Operating the gateway (issue 21), natively: the health check, the log line, the operators'
//! admin API and `MAX_SESSIONS_PER_USER`, over the in-memory KV.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sessiongate::config::{self, LoadedConfig};
use sessiongate::gate::{
    handle, GateRequest, Origin, OriginError, OriginRequest, OriginResponse, Outcome,
};
use sessiongate::store::import::{import_entries, OldSession};
use sessiongate::store::testing::{run_now as run, Fault, MapSessions, MemoryKv};
use sessiongate::store::{CachedSessions, IsolateMemory, KvSessions, SessionStore};

const SECRET: &str = "test-session-secret-0123456789abcdef";
const ASSERTION_SECRET: &str = "test-assertion-secret-0123456789abc";
const ALICE_TOKEN: &str = "operator-alice-token-0123456789abcdef";
const BOB_TOKEN: &str = "operator-bob-token-0123456789abcdef-x";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";
const T0: u64 = 1_700_000_000_000;

/// Answers 200, with a login instruction when one is set.
struct FakeOrigin {
    login: RefCell<Option<String>>,
}

impl Origin for FakeOrigin {
    type RequestBody = String;
    type ResponseBody = String;
    async fn send(
        &self,
        _request: OriginRequest<String>,
    ) -> Result<OriginResponse<String>, OriginError> {
        let mut headers = vec![("content-type".to_owned(), "text/plain".to_owned())];
        if let Some(login) = self.login.borrow_mut().take() {
            headers.push(("sessiongate-login".to_owned(), login));
        }
        Ok(OriginResponse {
            status: 200,
            headers,
            body: "origin".into(),
        })
    }
}

fn config_with(extra: &[(&str, &str)]) -> LoadedConfig {
    let mut vars: BTreeMap<String, String> = [
        ("SESSION_SECRET", SECRET),
        ("ASSERTION_SECRET", ASSERTION_SECRET),
        ("ORIGIN_URL", "http://origin.test:8080"),
        ("PUBLIC_PATHS", "/login,/static/*"),
        ("COOKIE_NAME", "sid"),
        ("COOKIE_SECURE", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            vars.remove(*k);
        } else {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    config::load(&move |name| vars.get(name).cloned(), T0)
}

fn admin_tokens() -> String {
    format!(r#"{{"alice-ops":"{ALICE_TOKEN}","bob":"{BOB_TOKEN}"}}"#)
}

struct Harness<S = ()> {
    config: LoadedConfig,
    kv: MemoryKv,
    map: S,
    origin: FakeOrigin,
    memory: IsolateMemory,
    /// Operation limit of the per-request KV store.
    limit: u32,
}

type Headers<'a> = &'a [(&'a str, &'a str)];

impl Harness {
    fn with(extra: &[(&str, &str)]) -> Self {
        Harness {
            config: config_with(extra),
            kv: MemoryKv::new(),
            map: (),
            origin: FakeOrigin {
                login: RefCell::new(None),
            },
            memory: IsolateMemory::new(0, 60_000),
            limit: 1000,
        }
    }

    fn send(&self, method: &str, target: &str, headers: Headers<'_>, now: u64) -> Outcome<String> {
        let sessions = KvSessions::with_limit(&self.kv, self.limit);
        let store = CachedSessions::new(&sessions, &self.memory, now);
        run(handle(
            &self.config,
            &store,
            &self.origin,
            request(method, target, headers),
            now,
        ))
    }
}

impl Harness<MapSessions> {
    fn map(extra: &[(&str, &str)]) -> Self {
        let h = Harness::with(extra);
        Harness {
            config: h.config,
            kv: h.kv,
            map: MapSessions::new(),
            origin: h.origin,
            memory: h.memory,
            limit: h.limit,
        }
    }

    fn send(&self, method: &str, target: &str, headers: Headers<'_>, now: u64) -> Outcome<String> {
        run(handle(
            &self.config,
            &self.map,
            &self.origin,
            request(method, target, headers),
            now,
        ))
    }
}

fn request(method: &str, target: &str, headers: Headers<'_>) -> GateRequest<String> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    GateRequest {
        method: method.into(),
        origin: "https://gate.test".into(),
        path,
        query,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: String::new(),
    }
}

fn header<'a>(out: &'a Outcome<String>, name: &str) -> Option<&'a str> {
    out.response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn body(out: &Outcome<String>) -> serde_json::Value {
    match &out.response.body {
        sessiongate::gate::Body::Gateway(text) => serde_json::from_str(text).unwrap(),
        _ => panic!("not the gateway's own answer"),
    }
}

/// The session id inside a `sid=s%3A<id>.<sig>` cookie.
fn session_id(cookie: &str) -> &str {
    let signed = cookie.split("s%3A").nth(1).unwrap();
    signed.split('.').next().unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Logs `user` in at `now` through a login instruction; returns the `Cookie` header value.
macro_rules! login {
    ($h:expr, $user:expr, $now:expr) => {{
        *$h.origin.login.borrow_mut() = Some(format!("{{\"user\":\"{}\"}}", $user));
        let out = $h.send("POST", "/login", &[("user-agent", UA)], $now);
        assert_eq!(out.log.event, "login", "{:?}", out.log);
        header(&out, "set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }};
}

/// Every field every request's line has, and no Rust debug text.
fn assert_log_shape(out: &Outcome<String>) -> serde_json::Value {
    let json = out.log.to_json();
    let line: serde_json::Value = serde_json::from_str(&json).unwrap();
    for field in [
        "event",
        "level",
        "status",
        "code",
        "duration_ms",
        "request_id",
        "method",
        "path",
        "sid",
        "user",
        "secret",
    ] {
        assert!(line.get(field).is_some(), "{field} missing from {json}");
    }
    for debug in ["Some(", "None", "Unavailable(", "Timeout", "Err(", "Ok("] {
        assert!(!json.contains(debug), "debug text {debug} in {json}");
    }
    assert!(["info", "warn", "error"].contains(&line["level"].as_str().unwrap()));
    line
}

// ---- health ----

#[test]
fn health_is_200_when_configured_and_503_when_not_without_secrets_or_version() {
    let h = Harness::with(&[]);
    let out = h.send("GET", "/.sessiongate/health", &[], T0);
    assert_eq!(out.response.status, 200);
    assert_eq!(body(&out), serde_json::json!({"status":"ok","config":"ok"}));
    assert_eq!(h.kv.counts().operations(), 0, "no KV read");
    assert_eq!(out.log.event, "health");
    assert_log_shape(&out);

    let h = Harness::with(&[("SESSION_SECRET", "too-short")]);
    let out = h.send("HEAD", "/.sessiongate/health", &[], T0);
    assert_eq!(out.response.status, 503);
    assert_eq!(
        body(&out),
        serde_json::json!({"status":"unavailable","config":"invalid"})
    );
    assert!(out
        .log
        .config_errors
        .iter()
        .any(|e| e.contains("SESSION_SECRET")));
    assert_eq!(out.log.level, "error");

    let h = Harness::with(&[("HEALTH_SHOW_VERSION", "true")]);
    let out = h.send("GET", "/.sessiongate/health", &[], T0);
    assert_eq!(body(&out)["version"], env!("CARGO_PKG_VERSION"));
    let out = h.send("POST", "/.sessiongate/health", &[], T0);
    assert_eq!(out.response.status, 405);
}

#[test]
fn a_deep_health_check_reads_kv_only_for_an_operator_or_answers_a_result_at_most_10s_old() {
    let tokens = admin_tokens();
    let h = Harness::with(&[("ADMIN_TOKENS", &tokens)]);
    let deep = "/.sessiongate/health?deep=1";
    let out = h.send("GET", deep, &[], T0);
    assert_eq!(out.response.status, 401, "no operator, no fresh result");
    assert_eq!(header(&out, "www-authenticate"), Some("Bearer"));
    assert_eq!(h.kv.counts().operations(), 0);

    let auth = bearer(ALICE_TOKEN);
    let out = h.send("GET", deep, &[("authorization", &auth)], T0);
    assert_eq!(out.response.status, 200);
    assert_eq!(body(&out)["kv"], "ok");
    assert_eq!(out.log.operator.as_deref(), Some("alice-ops"));
    assert_eq!(h.kv.counts().reads, 1);

    let out = h.send("GET", deep, &[], T0 + 10_000);
    assert_eq!(
        out.response.status, 200,
        "answered from the result 10 s old"
    );
    assert_eq!(body(&out)["kv_checked_ms_ago"], 10_000);
    assert_eq!(h.kv.counts().reads, 1, "no further read");
    assert_eq!(h.send("GET", deep, &[], T0 + 10_001).response.status, 401);

    h.kv.set_fault(Some(Fault::Timeout));
    let out = h.send("GET", deep, &[("authorization", &auth)], T0 + 20_000);
    assert_eq!(out.response.status, 503);
    assert_eq!(body(&out)["kv"], "timeout");
    let out = h.send("GET", deep, &[], T0 + 21_000);
    assert_eq!(out.response.status, 503, "the remembered failure");
    // A wrong token is no operator.
    let wrong = bearer(&ALICE_TOKEN.replace('a', "b"));
    let out = h.send("GET", deep, &[("authorization", &wrong)], T0 + 40_000);
    assert_eq!(out.response.status, 401);
}

// ---- logs ----

#[test]
fn log_lines_have_every_field_the_request_id_and_no_ids_or_debug_text() {
    let h = Harness::with(&[]);
    let cookie = login!(h, "alice", T0);
    let out = h.send(
        "GET",
        "/api/orders?secret-query=1",
        &[
            ("cookie", &cookie),
            ("user-agent", UA),
            ("cf-ray", "8f1e2d3c4b5a6978-AMS"),
        ],
        T0,
    );
    assert_eq!(out.response.status, 200);
    let line = assert_log_shape(&out);
    assert_eq!(line["request_id"], "8f1e2d3c4b5a6978-AMS");
    assert_eq!(line["path"], "/api/orders", "the path without its query");
    assert_eq!(line["user"], "alice");
    assert_eq!(line["secret"], "current");
    assert_eq!(line["level"], "info");
    assert_eq!(line["code"], serde_json::Value::Null);
    let id = session_id(&cookie);
    assert!(!out.log.to_json().contains(id), "no session id in the log");

    let out = h.send(
        "GET",
        "/api/orders",
        &[("cookie", "sid=s%3Aforged.sig")],
        T0,
    );
    let line = assert_log_shape(&out);
    assert_eq!(line["code"], "invalid_session_cookie");
    assert_eq!(line["level"], "warn");
    let out = h.send("GET", "/api/orders", &[], T0);
    assert_eq!(
        assert_log_shape(&out)["level"],
        "info",
        "no session: everyday"
    );
}

#[test]
fn the_browser_flows_lines_have_the_same_shape_and_levels() {
    let h = Harness::with(&[
        ("LOGIN_URL", "/login"),
        ("OPTIONAL_PATHS", "/home"),
        ("CSRF_PROTECTION", "true"),
    ]);
    let ray = "8f1e2d3c4b5a6978-AMS";
    let navigate = [("sec-fetch-mode", "navigate"), ("cf-ray", ray)];
    let cross_site = [("origin", "https://evil.example"), ("user-agent", UA)];
    let forged = [("cookie", "sid=s%3Aforged.sig"), ("user-agent", UA)];
    let anonymous = [("user-agent", UA)];
    // The sign-in redirect; a cross-site request (may be an attack); an optional path with a forged
    // cookie, forwarded without identity with the refusal's code and level on its line; the same
    // path without a cookie.
    let requests: [(&str, &str, Headers<'_>); 4] = [
        ("GET", "/api/orders?tab=1", &navigate),
        ("POST", "/api/orders", &cross_site),
        ("GET", "/home", &forged),
        ("GET", "/home", &anonymous),
    ];
    let lines = [
        r#"{"status":302,"event":"refuse","code":"missing_session","level":"info"}"#,
        r#"{"status":403,"event":"refuse","code":"cross_site_request","level":"warn"}"#,
        r#"{"status":200,"event":"forward","code":"invalid_session_cookie","level":"warn"}"#,
        r#"{"status":200,"event":"forward","code":null,"level":"info"}"#,
    ];
    for ((method, target, headers), expected) in requests.into_iter().zip(lines) {
        let out = h.send(method, target, headers, T0);
        let line = assert_log_shape(&out);
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(out.response.status, expected["status"], "{target}");
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&line[field], value, "{target}: {field}");
        }
        assert!(!line["path"].as_str().unwrap().contains('?'), "{target}");
    }
    let out = h.send("GET", "/api/orders", &navigate, T0);
    assert_eq!(assert_log_shape(&out)["request_id"], ray);
}

#[test]
fn every_request_refused_for_the_configuration_names_its_errors() {
    let h = Harness::with(&[("SESSION_SECRET", "too-short")]);
    for _ in 0..2 {
        let out = h.send("GET", "/api/orders", &[], T0);
        assert_eq!(out.response.status, 500);
        let line = assert_log_shape(&out);
        assert_eq!(line["code"], "misconfigured");
        assert_eq!(line["level"], "error");
        let errors = line["config_errors"].as_array().unwrap();
        assert!(errors
            .iter()
            .any(|e| e.as_str().unwrap().contains("SESSION_SECRET is too short")));
        assert!(
            !out.log.to_json().contains("too-short"),
            "never a secret's value"
        );
        assert!(
            !format!("{:?}", out.response.body).contains("SESSION_SECRET"),
            "not told to the client"
        );
    }
}

#[test]
fn public_path_lines_can_be_quieted() {
    let h = Harness::with(&[]);
    assert!(!h.send("GET", "/static/app.js", &[], T0).log.quiet);
    let h = Harness::with(&[("LOG_PUBLIC_PATHS", "false")]);
    assert!(h.send("GET", "/static/app.js", &[], T0).log.quiet);
    assert!(h.send("GET", "/.sessiongate/health", &[], T0).log.quiet);
    assert!(
        !h.send("GET", "/api/x", &[], T0).log.quiet,
        "refusals are logged"
    );
    *h.origin.login.borrow_mut() = Some(r#"{"user":"alice"}"#.to_owned());
    assert!(
        !h.send("POST", "/login", &[], T0).log.quiet,
        "a login is logged"
    );
}

// ---- admin ----

#[test]
fn without_admin_tokens_the_admin_api_is_the_ordinary_404() {
    let h = Harness::with(&[]);
    let auth = bearer(ALICE_TOKEN);
    let out = h.send(
        "GET",
        "/.sessiongate/admin/sessions?user=alice",
        &[("authorization", &auth)],
        T0,
    );
    assert_eq!(out.response.status, 404);
    assert_eq!(body(&out)["error"], "not_found");
    let nothing = h.send("GET", "/.sessiongate/nothing", &[], T0);
    assert_eq!(body(&out), body(&nothing));
}

#[test]
fn admin_refusals_ask_for_a_bearer_token_never_a_sign_in_even_on_a_browser_navigation() {
    let tokens = admin_tokens();
    let h = Harness::with(&[("ADMIN_TOKENS", &tokens), ("LOGIN_URL", "/login")]);
    let navigate = [("sec-fetch-mode", "navigate"), ("user-agent", UA)];
    for target in [
        "/.sessiongate/admin/sessions?user=alice",
        "/.sessiongate/health?deep=1",
    ] {
        let out = h.send("GET", target, &navigate, T0);
        assert_eq!(out.response.status, 401, "{target}");
        assert_eq!(body(&out)["error"], "admin_unauthorized", "{target}");
        let challenges: Vec<&str> = out
            .response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(challenges, ["Bearer"], "{target}");
        assert_eq!(
            header(&out, "location"),
            None,
            "{target}: no sign-in redirect"
        );
        assert_eq!(assert_log_shape(&out)["level"], "warn");
    }
    // A session's 401 on the same gateway still redirects.
    let out = h.send("GET", "/api/x", &navigate, T0);
    assert_eq!(out.response.status, 302);
}

#[test]
fn admin_tokens_are_checked_when_loaded() {
    for bad in [
        "not json",
        "[]",
        "{}",
        r#"{"alice":"short"}"#,
        r#"{"bad name":"operator-alice-token-0123456789abcdef"}"#,
    ] {
        let c = config_with(&[("ADMIN_TOKENS", bad)]);
        assert!(c.operations.admin_tokens.is_none(), "{bad}");
        assert!(
            c.errors
                .iter()
                .any(|e| e.to_string().contains("ADMIN_TOKENS")),
            "{bad}"
        );
        assert!(!format!("{:?}", c).contains("short"), "{bad}");
        assert!(
            c.session.is_some() && c.forward.is_some(),
            "the rest still serves"
        );
    }
    // A map written the wrong way round (token → name), or with a name twice: the errors name the
    // entry by position and never show the text (here, a token).
    let hex_token = "0123456789abcdef".repeat(4);
    for (bad, expected) in [
        (
            format!(r#"{{"{hex_token}":"alice"}}"#),
            "ADMIN_TOKENS entry 0 is too short: 5 bytes",
        ),
        (
            format!(r#"{{"{ALICE_TOKEN}=":"alice"}}"#),
            "ADMIN_TOKENS entry 0 must name its operator with",
        ),
        (
            format!(r#"{{"a":"{ALICE_TOKEN}","a":"{BOB_TOKEN}"}}"#),
            "ADMIN_TOKENS entry 1 must name an operator not named before",
        ),
    ] {
        let c = config_with(&[("ADMIN_TOKENS", &bad)]);
        assert!(c.operations.admin_tokens.is_none(), "{bad}");
        let errors: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
        assert!(errors.iter().any(|e| e.starts_with(expected)), "{errors:?}");
        for secret in [hex_token.as_str(), ALICE_TOKEN, BOB_TOKEN] {
            assert!(!format!("{errors:?} {c:?}").contains(secret), "{bad}");
        }
    }
    let c = config_with(&[("ADMIN_TOKENS", &admin_tokens())]);
    let tokens = c.operations.admin_tokens.unwrap();
    assert_eq!(tokens.operator(ALICE_TOKEN), Some("alice-ops"));
    assert_eq!(tokens.operator(BOB_TOKEN), Some("bob"));
    assert_eq!(tokens.operator(""), None);
    assert_eq!(tokens.operator(&ALICE_TOKEN[1..]), None);
    assert!(
        !format!("{tokens:?}").contains(ALICE_TOKEN),
        "Debug shows names only"
    );
    for (name, value) in [
        ("MAX_SESSIONS_PER_USER", "-1"),
        ("MAX_SESSIONS_PER_USER", "1001"),
        ("LOG_PUBLIC_PATHS", "no"),
        ("HEALTH_SHOW_VERSION", "1"),
    ] {
        let c = config_with(&[(name, value)]);
        assert!(
            c.errors.iter().any(|e| e.to_string().contains(name)),
            "{name}={value}"
        );
    }
}

#[test]
fn operators_list_and_end_sessions_by_handle_and_every_action_is_logged_with_their_name() {
    let tokens = admin_tokens();
    let h = Harness::with(&[("ADMIN_TOKENS", &tokens)]);
    let first = login!(h, "alice", T0);
    let second = login!(h, "alice", T0 + 1000);
    let _other = login!(h, "bob", T0 + 1000);
    let auth = bearer(BOB_TOKEN);
    let list = |now| {
        h.send(
            "GET",
            "/.sessiongate/admin/sessions?user=alice",
            &[("authorization", &auth)],
            now,
        )
    };

    let out = h.send("GET", "/.sessiongate/admin/sessions?user=alice", &[], T0);
    assert_eq!(out.response.status, 401);
    assert_eq!(body(&out)["error"], "admin_unauthorized");
    assert_eq!(out.log.operator, None);
    let out = h.send(
        "GET",
        "/.sessiongate/admin/sessions?user=alice",
        &[("authorization", &format!("Basic {BOB_TOKEN}"))],
        T0,
    );
    assert_eq!(out.response.status, 401);

    let out = list(T0 + 2000);
    assert_eq!(out.response.status, 200);
    let page = body(&out);
    assert_eq!(page["user"], "alice");
    assert_eq!(page["total"], 2);
    let sessions = page["sessions"].as_array().unwrap();
    assert_eq!(
        sessions[0]["created"],
        T0 + 1000,
        "most recently active first"
    );
    assert_eq!(sessions[0]["device"], "Unknown browser on Linux");
    let text = format!("{:?}", out.response.body);
    for cookie in [&first, &second] {
        let id = session_id(cookie);
        assert!(!text.contains(id), "no session id in an answer");
        assert!(!out.log.to_json().contains(id));
    }
    let line = assert_log_shape(&out);
    assert_eq!(line["event"], "admin");
    assert_eq!(line["operator"], "bob");
    assert_eq!(line["user"], "alice");

    let handle = sessions[1]["handle"].as_str().unwrap().to_owned();
    let target = format!("/.sessiongate/admin/sessions/{handle}?user=alice");
    let out = h.send("DELETE", &target, &[("authorization", &auth)], T0 + 3000);
    assert_eq!(out.response.status, 200);
    assert_eq!(
        body(&out),
        serde_json::json!({"ok":true,"ended":1,"remaining":0})
    );
    assert_eq!(out.log.sid.as_deref(), Some(handle.as_str()));
    assert_eq!(out.log.operator.as_deref(), Some("bob"));
    let gone = h.send(
        "GET",
        "/api/x",
        &[("cookie", &first), ("user-agent", UA)],
        T0 + 3000,
    );
    assert_eq!(gone.response.status, 401, "the first session has ended");
    let still = h.send(
        "GET",
        "/api/x",
        &[("cookie", &second), ("user-agent", UA)],
        T0 + 3000,
    );
    assert_eq!(still.response.status, 200);
    assert_eq!(
        h.send("DELETE", &target, &[("authorization", &auth)], T0)
            .response
            .status,
        404
    );
    let bobs = format!("/.sessiongate/admin/sessions/{handle}?user=bob");
    assert_eq!(
        h.send("DELETE", &bobs, &[("authorization", &auth)], T0)
            .response
            .status,
        404
    );

    for (method, target, status) in [
        ("GET", "/.sessiongate/admin/sessions", 400),
        ("GET", "/.sessiongate/admin/sessions?user=", 400),
        ("POST", "/.sessiongate/admin/sessions?user=alice", 405),
        ("GET", "/.sessiongate/admin/users", 404),
    ] {
        let out = h.send(method, target, &[("authorization", &auth)], T0);
        assert_eq!(out.response.status, status, "{method} {target}");
    }

    let out = h.send(
        "POST",
        "/.sessiongate/admin/sessions/end-all?user=alice",
        &[("authorization", &auth)],
        T0 + 4000,
    );
    assert_eq!(
        body(&out),
        serde_json::json!({"ok":true,"ended":1,"remaining":0})
    );
    assert_eq!(body(&list(T0 + 5000))["total"], 0);
}

#[test]
fn ending_all_of_a_users_sessions_is_bounded_per_request_and_reports_what_remains() {
    let tokens = admin_tokens();
    let mut h = Harness::with(&[("ADMIN_TOKENS", &tokens)]);
    for i in 0..60 {
        let _ = login!(h, "alice", T0 + i);
    }
    h.limit = 50;
    let auth = bearer(ALICE_TOKEN);
    let mut calls = 0;
    loop {
        let out = h.send(
            "POST",
            "/.sessiongate/admin/sessions/end-all?user=alice",
            &[("authorization", &auth)],
            T0 + 1000,
        );
        assert_eq!(out.response.status, 200, "{:?}", out.log);
        calls += 1;
        if body(&out)["remaining"] == 0 {
            break;
        }
        assert!(calls < 10);
    }
    assert!(calls > 1, "more than one request was needed");
    h.limit = 1000;
    let list = h.send(
        "GET",
        "/.sessiongate/admin/sessions?user=alice",
        &[("authorization", &auth)],
        T0 + 2000,
    );
    assert_eq!(body(&list)["total"], 0);
}

// ---- the cap ----

fn live_sessions<S: SessionStore>(store: &S, user: &str) -> usize {
    let ids = run(store.ids_of(user)).unwrap();
    run(store.load_sessions(&ids)).unwrap().sessions.len()
}

#[test]
fn the_cap_ends_the_oldest_sessions_by_indexed_creation_time_never_the_new_one() {
    let h = Harness::with(&[("MAX_SESSIONS_PER_USER", "2")]);
    let first = login!(h, "alice", T0);
    let second = login!(h, "alice", T0 + 1000);
    let reads = h.kv.counts().reads;
    let third = login!(h, "alice", T0 + 2000);
    assert_eq!(
        h.kv.counts().reads,
        reads,
        "no record read to find the oldest"
    );
    let get = |cookie: &str| {
        h.send(
            "GET",
            "/api/x",
            &[("cookie", cookie), ("user-agent", UA)],
            T0 + 3000,
        )
        .response
        .status
    };
    assert_eq!(get(&first), 401, "the oldest ended");
    assert_eq!(get(&second), 200);
    assert_eq!(get(&third), 200);
    let _bob = login!(h, "bob", T0 + 3000);
    assert_eq!(
        get(&second),
        200,
        "another user's login ends none of alice's"
    );
    assert_eq!(live_sessions(&KvSessions::new(&h.kv), "alice"), 2);

    // An index entry without a creation time (layout version 1) counts as the oldest.
    let old_key =
        h.kv.keys()
            .into_iter()
            .find(|k| k.starts_with("user:YWxpY2U:") && second.contains(&k[13..]))
            .unwrap();
    let value = h.kv.value(&old_key).unwrap();
    h.kv.remove(&old_key);
    h.kv.insert(&old_key, &value, 3600);
    assert_eq!(h.kv.metadata(&old_key), None);
    let fourth = login!(h, "alice", T0 + 4000);
    assert_eq!(get(&second), 401, "unknown age: ended first");
    assert_eq!(get(&third), 200, "newer than the unknown one, kept");
    assert_eq!(get(&fourth), 200);
}

#[test]
fn the_cap_ends_imported_sessions_by_their_old_creation_time() {
    let h = Harness::with(&[("MAX_SESSIONS_PER_USER", "2")]);
    let timeouts = h.config.session.as_ref().unwrap().timeouts;
    let import = |id: &str, created: u64| {
        let old = OldSession {
            id: id.into(),
            user: "alice".into(),
            data: None,
            user_agent: Some(UA.into()),
            expires: T0 + 3_000_000,
            created: Some(created),
        };
        for entry in import_entries(old, &timeouts, T0).unwrap() {
            h.kv.insert_entry(&entry);
        }
    };
    let (older, newer) = (
        "ImportedOlderSession0123456789abcd",
        "ImportedNewerSession0123456789abcd",
    );
    import(newer, T0 - 60_000);
    import(older, T0 - 600_000);
    let reads = h.kv.counts().reads;
    let _new = login!(h, "alice", T0 + 1000);
    assert_eq!(h.kv.counts().reads, reads, "no record read");
    let has = |id: &str| h.kv.value(&format!("sess:{id}")).is_some();
    assert!(!has(older), "the oldest by its old creation time ended");
    assert!(has(newer));
    assert_eq!(live_sessions(&KvSessions::new(&h.kv), "alice"), 2);
}

#[test]
fn the_cap_is_off_by_default_and_applies_to_every_store() {
    let h = Harness::with(&[]);
    for i in 0..5 {
        let _ = login!(h, "alice", T0 + i);
    }
    assert_eq!(live_sessions(&KvSessions::new(&h.kv), "alice"), 5);

    let h = Harness::map(&[("MAX_SESSIONS_PER_USER", "1")]);
    let first = login!(h, "alice", T0);
    let second = login!(h, "alice", T0 + 1);
    let get = |cookie: &str| {
        h.send(
            "GET",
            "/api/x",
            &[("cookie", cookie), ("user-agent", UA)],
            T0 + 2,
        )
        .response
        .status
    };
    assert_eq!(get(&first), 401);
    assert_eq!(get(&second), 200);
}

#[test]
fn new_index_entries_carry_their_creation_time_as_metadata() {
    let h = Harness::with(&[]);
    let _ = login!(h, "alice", T0 + 5);
    let key =
        h.kv.keys()
            .into_iter()
            .find(|k| k.starts_with("user:"))
            .unwrap();
    assert_eq!(
        h.kv.metadata(&key).as_deref(),
        Some(r#"{"c":1700000000005}"#)
    );
    let listed = run(KvSessions::new(&h.kv).indexed_of("alice")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].created, Some(T0 + 5));
}
