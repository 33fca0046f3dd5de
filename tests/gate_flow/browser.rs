//! The browser flow (issue 20): sign-in redirect, optional paths, app-wide cross-site
//! protection, no cacheable session responses.

use super::*;

const NAVIGATE: (&str, &str) = ("sec-fetch-mode", "navigate");

fn headers_named<'a>(out: &'a Outcome<String>, name: &str) -> Vec<&'a str> {
    out.response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn browser() -> Harness {
    Harness::with(&[("LOGIN_URL", "/login")])
}

#[test]
fn a_signed_out_navigation_is_redirected_to_the_sign_in_page() {
    let h = browser();
    let out = h.send(
        "GET",
        "/orders/7?tab=items&q=a+b",
        &[NAVIGATE, ("user-agent", UA)],
        T0,
    );
    assert_eq!(out.response.status, 302);
    assert_eq!(
        header(&out, "location"),
        Some("/login?return_to=/orders/7%3Ftab%3Ditems%26q%3Da%2Bb")
    );
    assert_eq!(header(&out, "cache-control"), Some("no-store"));
    assert!(header(&out, "www-authenticate").is_none());
    assert!(matches!(&out.response.body, Body::Gateway(b) if b.is_empty()));
    assert_eq!(out.log.code, Some("missing_session"));
    assert_eq!(out.log.status, 302);
    assert_eq!(h.origin.calls(), 0);

    // Another method: 303, so the browser follows with GET.
    let post = h.send("POST", "/orders", &[NAVIGATE], T0);
    assert_eq!(post.response.status, 303);
    assert_eq!(header(&post, "location"), Some("/login?return_to=/orders"));

    // No Sec-Fetch-Mode: an Accept that prefers HTML counts as a navigation.
    let old = h.send(
        "GET",
        "/orders",
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        T0,
    );
    assert_eq!(old.response.status, 302);
}

#[test]
fn a_refused_session_is_redirected_with_its_cookie_cleared() {
    let h = browser();
    let cookie = h.login("alice", None, T0);
    let tampered = format!("{cookie}x");
    let out = h.send(
        "GET",
        "/orders",
        &[NAVIGATE, ("cookie", &tampered), ("user-agent", UA)],
        T0,
    );
    assert_eq!(out.response.status, 302);
    assert_eq!(out.log.code, Some("invalid_session_cookie"));
    let set_cookie = header(&out, "set-cookie").unwrap();
    assert!(set_cookie.starts_with("sid=;"), "{set_cookie}");
    assert_eq!(header(&out, "cache-control"), Some("no-store"));

    // An expired session: ended in the store, then redirected.
    let late = T0 + 601_000;
    let key = format!("sess:{}", session_id_of(&cookie));
    let out = h.send(
        "GET",
        "/orders",
        &[NAVIGATE, ("cookie", &cookie), ("user-agent", UA)],
        late,
    );
    assert_eq!(out.response.status, 302);
    assert_eq!(out.log.code, Some("session_expired"));
    assert!(h.store.value(&key).is_none());
}

#[test]
fn other_401s_stay_json_with_a_session_challenge() {
    let h = browser();
    for headers in [
        vec![("sec-fetch-mode", "cors"), ("accept", "text/html")],
        vec![("accept", "application/json")],
        vec![("accept", "*/*")],
        vec![],
    ] {
        let out = h.send("GET", "/orders", &headers, T0);
        assert_eq!(out.response.status, 401, "{headers:?}");
        assert_eq!(error_code(&out), "missing_session");
        assert_eq!(
            header(&out, "www-authenticate"),
            Some("Session realm=\"gate.test\"")
        );
        assert_eq!(header(&out, "cache-control"), Some("no-store"));
    }
    // Without LOGIN_URL a navigation gets the JSON 401 too; the realm can be set.
    let h = Harness::with(&[("AUTH_REALM", "Example App")]);
    let out = h.send("GET", "/orders", &[NAVIGATE], T0);
    assert_eq!(out.response.status, 401);
    assert_eq!(
        header(&out, "www-authenticate"),
        Some("Session realm=\"Example App\"")
    );
    // The built-in endpoints' 401s carry it too.
    let out = h.send("GET", "/.sessiongate/api/sessions", &[], T0);
    assert_eq!(out.response.status, 401);
    assert!(header(&out, "www-authenticate").is_some());
}

#[test]
fn only_401s_redirect() {
    let h = browser();
    let cookie = h.login("alice", None, T0);
    h.store.set_fault(Some(Fault::Error));
    let out = h.send(
        "GET",
        "/orders",
        &[NAVIGATE, ("cookie", &cookie), ("user-agent", UA)],
        T0,
    );
    assert_eq!(out.response.status, 503);
    assert!(header(&out, "location").is_none());
    assert!(header(&out, "www-authenticate").is_none());
}

#[test]
fn the_carried_path_is_made_safe() {
    let h = Harness::with(&[
        ("LOGIN_URL", "/login?lang=en"),
        ("LOGIN_RETURN_PARAM", "next"),
    ]);
    let long = format!("/{}", "a".repeat(2048));
    for (path, location) in [
        ("/a/b", "/login?lang=en&next=/a/b"),
        ("/%2F%2Fevil", "/login?lang=en&next=/"),
        (long.as_str(), "/login?lang=en&next=/"),
    ] {
        let out = h.send("GET", path, &[NAVIGATE], T0);
        assert_eq!(header(&out, "location"), Some(location), "{path}");
    }
}

#[test]
fn browser_settings_are_checked_at_load() {
    for (name, value, expected) in [
        (
            "LOGIN_URL",
            "/account",
            "LOGIN_URL \"/account\" must be a path listed in PUBLIC_PATHS",
        ),
        (
            "LOGIN_URL",
            "https://idp.example/login",
            "LOGIN_URL must be a path on this host",
        ),
        (
            "LOGIN_URL",
            "//login",
            "LOGIN_URL must be a path on this host",
        ),
        (
            "LOGIN_RETURN_PARAM",
            "return to",
            "LOGIN_RETURN_PARAM must be",
        ),
        ("AUTH_REALM", "a\"b", "AUTH_REALM must be"),
        (
            "OPTIONAL_PATHS",
            "/static/img/*",
            "OPTIONAL_PATHS entry \"/static/img/*\" overlaps PUBLIC_PATHS entry \"/static/*\"",
        ),
        (
            "OPTIONAL_PATHS",
            "/health",
            "overlaps PUBLIC_PATHS entry \"/health\"",
        ),
        (
            "OPTIONAL_PATHS",
            "home",
            "OPTIONAL_PATHS entry \"home\" is not a plain absolute path",
        ),
        (
            "CSRF_PROTECTION",
            "yes",
            "CSRF_PROTECTION must be true or false",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "https://*.example.com",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "https://a.example/",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "null",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "https://u:p@a.example",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "ftp://a.example",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
        (
            "CSRF_ALLOWED_ORIGINS",
            "https://a.example:99999",
            "CSRF_ALLOWED_ORIGINS must list origins",
        ),
    ] {
        let config = config_with(&[(name, value)]);
        assert!(config.forward.is_none(), "{name}={value}");
        let texts: Vec<String> = config.errors.iter().map(ToString::to_string).collect();
        assert!(
            texts.iter().any(|t| t.contains(expected)),
            "{name}={value}: {texts:?}"
        );
    }
    let config = config_with(&[
        ("LOGIN_URL", "/login?x=1"),
        ("OPTIONAL_PATHS", "/,/home/*"),
        ("CSRF_PROTECTION", "true"),
        (
            "CSRF_ALLOWED_ORIGINS",
            "HTTPS://Admin.Example:443, http://localhost:3000,http://[::1]:8080",
        ),
    ]);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let browser = config.forward.unwrap().browser;
    assert_eq!(
        browser.csrf_allowed_origins,
        [
            "https://admin.example",
            "http://localhost:3000",
            "http://[::1]:8080"
        ]
    );
    assert_eq!(browser.login_return_param, "return_to");
}

fn optional() -> Harness {
    Harness::with(&[("OPTIONAL_PATHS", "/,/home/*")])
}

#[test]
fn optional_paths_forward_without_a_session() {
    let h = optional();
    let out = h.send("GET", "/home/feed", &[NAVIGATE, ("user-agent", UA)], T0);
    assert_eq!(out.response.status, 200);
    let sent = h.origin.last();
    assert!(sent_header(&sent, "x-sessiongate-user").is_none());
    assert!(sent_header(&sent, "x-sessiongate-assertion").is_none());
    assert!(!sent.identified);
    assert_eq!(out.log.code, None);
    assert!(header(&out, "cache-control").is_none());
    assert!(matches!(out.response.body, Body::OriginAsIs(_)));
    // Not covered: still protected.
    assert_eq!(h.send("GET", "/homepage", &[], T0).response.status, 401);
}

#[test]
fn optional_paths_carry_the_identity_of_a_valid_session() {
    let h = optional();
    let cookie = h.login("alice", None, T0);
    h.origin
        .answer_with(&[("cache-control", "public, max-age=3600")]);
    let out = h.get("/", &cookie, T0 + 1000);
    assert_eq!(out.response.status, 200);
    let sent = h.origin.last();
    assert_eq!(
        sent_header(&sent, "x-sessiongate-user").as_deref(),
        Some("alice")
    );
    assert!(sent_header(&sent, "x-sessiongate-assertion").is_some());
    assert!(
        sent.identified,
        "the origin fetch must bypass shared caches"
    );
    assert_eq!(
        headers_named(&out, "cache-control"),
        ["private, max-age=3600"]
    );
    assert_eq!(out.log.user.as_deref(), Some("alice"));
}

#[test]
fn refused_sessions_on_optional_paths_are_ended_then_forwarded_without_identity() {
    let h = optional();
    let cookie = h.login("alice", None, T0);
    let key = format!("sess:{}", session_id_of(&cookie));
    // Another user agent: the session is ended as on a protected path, the cookie cleared.
    let out = h.send(
        "GET",
        "/home/feed",
        &[("cookie", &cookie), ("user-agent", "curl/8.0")],
        T0 + 1000,
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(out.log.code, Some("user_agent_mismatch"));
    assert_eq!(out.log.event, "forward");
    assert!(h.store.value(&key).is_none(), "session ended");
    assert!(header(&out, "set-cookie").unwrap().starts_with("sid=;"));
    assert_eq!(header(&out, "cache-control"), Some("no-store"));
    let sent = h.origin.last();
    assert!(sent_header(&sent, "x-sessiongate-user").is_none());
    assert!(!sent.identified);
    assert!(
        sent_header(&sent, "cookie").is_none(),
        "the session cookie never reaches the origin"
    );

    // A tampered cookie: cleared, forwarded.
    let out = h.get("/", &format!("{cookie}x"), T0);
    assert_eq!(out.response.status, 200);
    assert_eq!(out.log.code, Some("invalid_session_cookie"));
    assert!(header(&out, "set-cookie").is_some());

    // A store failure: forwarded without identity, the cookie kept.
    let cookie = h.login("bob", None, T0);
    h.store.set_fault(Some(Fault::Error));
    let out = h.get("/", &cookie, T0);
    assert_eq!(out.response.status, 200);
    assert_eq!(out.log.code, Some("store_unavailable"));
    assert!(header(&out, "set-cookie").is_none());
    assert!(sent_header(&h.origin.last(), "x-sessiongate-user").is_none());
}

#[test]
fn optional_paths_need_no_session_settings() {
    let h = Harness::with(&[("OPTIONAL_PATHS", "/"), ("SESSION_SECRET", "short")]);
    assert!(h.config.session.is_none());
    assert_eq!(h.send("GET", "/", &[], T0).response.status, 200);
    assert_eq!(h.send("GET", "/orders", &[], T0).response.status, 500);
}

fn protected() -> Harness {
    Harness::with(&[
        ("CSRF_PROTECTION", "true"),
        ("CSRF_ALLOWED_ORIGINS", "https://admin.gate.test"),
    ])
}

#[test]
fn cross_site_protection_covers_every_unsafe_request() {
    let h = protected();
    let cookie = h.login("alice", None, T0);
    let calls = h.origin.calls();
    for (method, path, site) in [
        ("POST", "/login", ("origin", "https://evil.example")),
        ("POST", "/orders", ("origin", "https://evil.example")),
        ("DELETE", "/orders/7", ("origin", "http://gate.test")),
        ("PUT", "/health", ("sec-fetch-site", "same-site")),
        ("PATCH", "/orders", ("sec-fetch-site", "cross-site")),
        ("POST", "/orders", ("origin", "null")),
    ] {
        let out = h.send(
            method,
            path,
            &[site, ("cookie", &cookie), ("user-agent", UA)],
            T0,
        );
        assert_eq!(out.response.status, 403, "{method} {path} {site:?}");
        assert_eq!(error_code(&out), "cross_site_request");
        assert!(header(&out, "set-cookie").is_none(), "the session is kept");
    }
    assert_eq!(h.origin.calls(), calls, "nothing reached the origin");
    // Login CSRF: refused without any cookie too, before the origin could log anyone in.
    let out = h.send("POST", "/login", &[("origin", "https://evil.example")], T0);
    assert_eq!(out.response.status, 403);
    assert_eq!(h.origin.calls(), calls);

    for site in [
        ("origin", "https://gate.test"),
        ("origin", "https://admin.gate.test"),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-site", "none"),
    ] {
        let out = h.send(
            "POST",
            "/orders",
            &[site, ("cookie", &cookie), ("user-agent", UA)],
            T0,
        );
        assert_eq!(out.response.status, 200, "{site:?}");
    }
    // Safe methods are not checked.
    let out = h.send(
        "GET",
        "/orders",
        &[
            ("origin", "https://evil.example"),
            ("cookie", &cookie),
            ("user-agent", UA),
        ],
        T0,
    );
    assert_eq!(out.response.status, 200);
}

#[test]
fn without_cross_site_protection_the_same_requests_pass() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    let out = h.send(
        "POST",
        "/orders",
        &[
            ("origin", "https://evil.example"),
            ("cookie", &cookie),
            ("user-agent", UA),
        ],
        T0,
    );
    assert_eq!(out.response.status, 200);
}

#[test]
fn responses_that_set_or_clear_the_cookie_are_no_store() {
    let h = Harness::new();
    h.origin.answer_with(&[
        (
            "Sessiongate-Login",
            r#"{"user":"alice","data":{"role":"admin"}}"#,
        ),
        ("Cache-Control", "public, max-age=3600"),
        ("CDN-Cache-Control", "max-age=600"),
    ]);
    let out = h.send("POST", "/login", &[("user-agent", UA)], T0);
    assert!(header(&out, "set-cookie").is_some());
    assert_eq!(headers_named(&out, "cache-control"), ["no-store"]);
    assert!(header(&out, "cdn-cache-control").is_none());
    let cookie = header(&out, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    h.origin.answer_with(&[
        ("Sessiongate-Logout", "session"),
        ("Cache-Control", "public, max-age=3600"),
    ]);
    let out = h.send(
        "POST",
        "/logout",
        &[("cookie", &cookie), ("user-agent", UA)],
        T0,
    );
    assert!(header(&out, "set-cookie").unwrap().starts_with("sid=;"));
    assert_eq!(headers_named(&out, "cache-control"), ["no-store"]);

    // A cookie re-issued under the current secret.
    let old = Keyring::new(&[OLD_SECRET]).unwrap();
    let h = Harness::new();
    let cookie = h.login("bob", None, T0);
    let id = session_id_of(&cookie);
    let reissued = format!(
        "sid={}",
        sessiongate::cookie::encode_uri_component(&format!("s:{}", old.sign(&id)))
    );
    h.origin
        .answer_with(&[("Cache-Control", "public, max-age=60")]);
    let out = h.get("/orders", &reissued, T0);
    assert_eq!(out.response.status, 200);
    assert!(header(&out, "set-cookie").is_some());
    assert_eq!(headers_named(&out, "cache-control"), ["no-store"]);
}

#[test]
fn identified_responses_are_private_and_anonymous_ones_untouched() {
    let h = Harness::new();
    let cookie = h.login("alice", None, T0);
    for (origin, expected) in [
        (None, Some("private")),
        (Some("public, max-age=3600"), Some("private, max-age=3600")),
        (Some("private, max-age=60"), None),
        (Some("no-store"), None),
    ] {
        h.origin.answer_with(
            &origin
                .map(|v| ("Cache-Control", v))
                .into_iter()
                .collect::<Vec<_>>(),
        );
        let out = h.get("/orders", &cookie, T0 + 1);
        match expected {
            Some(value) => {
                assert_eq!(headers_named(&out, "cache-control"), [value]);
                assert!(matches!(out.response.body, Body::Origin(_)));
            }
            None => {
                assert_eq!(headers_named(&out, "cache-control"), [origin.unwrap()]);
                assert!(
                    matches!(out.response.body, Body::OriginAsIs(_)),
                    "nothing to change: passed on as it came"
                );
            }
        }
        assert!(h.origin.last().identified);
    }
    h.origin
        .answer_with(&[("Cache-Control", "public, max-age=3600")]);
    let out = h.send("GET", "/static/app.js", &[], T0);
    assert_eq!(
        headers_named(&out, "cache-control"),
        ["public, max-age=3600"]
    );
    assert!(!h.origin.last().identified);
}
