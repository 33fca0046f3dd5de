//! Configuration from `wrangler.toml` `[vars]` and secrets, read through a lookup function so it
//! is platform-free. Errors say exactly what is wrong; a secret's value is never part of one.
//!
//! Configuration comes in two halves, validated separately, so that a deployment whose secrets
//! are missing still serves its public paths (and nothing else):
//! - [`ForwardConfig`]: where to forward, which paths are public, header names;
//! - [`SessionConfig`]: secrets, cookie and timeouts.

use crate::assertion::AssertionKey;
use crate::cookie::{is_valid_cookie_name, CookieSettings, SameSite};
use crate::headers::{fold_name, RequestHeaderPolicy};
use crate::paths::PublicPaths;
use crate::session::Timeouts;
use crate::signing::Keyring;

/// Minimum length of every secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Settings needed to forward anything at all.
#[derive(Clone, Debug)]
pub struct ForwardConfig {
    /// Scheme, host and optional port of the origin, without a trailing slash.
    pub origin_base: String,
    /// Path prefix of the origin URL, without a trailing slash (empty for none).
    pub origin_path_prefix: String,
    pub public_paths: PublicPaths,
    pub user_header: String,
    pub assertion_header: String,
    pub header_policy: RequestHeaderPolicy,
    /// Prefix of the built-in endpoints, e.g. `/.sessiongate`.
    pub gateway_path: String,
    pub origin_timeout_ms: u64,
}

/// Settings needed to verify or create sessions.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub keyring: Keyring,
    pub assertion_key: AssertionKey,
    pub assertion_ttl_s: u64,
    /// The assertion's `aud` claim, from `ASSERTION_AUDIENCE` (none when unset).
    pub assertion_audience: Option<crate::assertion::Audience>,
    pub cookie: CookieSettings,
    pub timeouts: Timeouts,
    pub ua_binding: bool,
    pub kv_timeout_ms: u64,
    /// How long an isolate may reuse a session read (0: never; see [`crate::session_cache`]).
    pub session_cache_ttl_ms: u64,
}

/// The result of reading the configuration: each half, and every problem found.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub forward: Option<ForwardConfig>,
    pub session: Option<SessionConfig>,
    /// Human-readable problems, one per setting, for the log.
    pub errors: Vec<String>,
}

/// Reads every setting through `lookup` (a `[vars]` value or a secret by name).
pub fn load(lookup: &dyn Fn(&str) -> Option<String>) -> LoadedConfig {
    let mut errors = Vec::new();
    let forward = load_forward(lookup, &mut errors);
    let session = load_session(lookup, &mut errors);
    LoadedConfig {
        forward,
        session,
        errors,
    }
}

fn non_empty(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

fn seconds(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: core::ops::RangeInclusive<u64>,
    errors: &mut Vec<String>,
) -> Option<u64> {
    let Some(raw) = non_empty(lookup, name) else {
        return Some(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(v) if range.contains(&v) => Some(v),
        _ => {
            errors.push(format!(
                "{name} must be a whole number from {} to {}, got {raw:?}",
                range.start(),
                range.end()
            ));
            None
        }
    }
}

fn boolean(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
    errors: &mut Vec<String>,
) -> Option<bool> {
    match non_empty(lookup, name).as_deref().map(str::trim) {
        None => Some(default),
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            errors.push(format!("{name} must be true or false, got {other:?}"));
            None
        }
    }
}

fn header_name(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    let value = non_empty(lookup, name).unwrap_or_else(|| default.to_owned());
    let value = value.trim().to_owned();
    let folded = fold_name(&value);
    if !is_valid_cookie_name(&value) {
        errors.push(format!("{name} must be an HTTP header name, got {value:?}"));
        None
    } else if folded.starts_with("sessiongate-")
        || ["cookie", "authorization", "host"].contains(&folded.as_str())
    {
        errors.push(format!(
            "{name} must not be a standard header or in the Sessiongate- control namespace, got {value:?}"
        ));
        None
    } else {
        Some(value)
    }
}

fn load_forward(
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<ForwardConfig> {
    let origin = match non_empty(lookup, "ORIGIN_URL") {
        None => {
            errors.push("ORIGIN_URL is missing: set it in wrangler.toml [vars]".to_owned());
            None
        }
        Some(raw) => match split_origin_url(raw.trim()) {
            Some(parts) => Some(parts),
            None => {
                errors.push(format!(
                    "ORIGIN_URL must be an http:// or https:// URL without query, fragment or credentials, got {raw:?}"
                ));
                None
            }
        },
    };
    let public_paths = match PublicPaths::parse(&lookup("PUBLIC_PATHS").unwrap_or_default()) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let user_header = header_name(lookup, "USER_HEADER", "X-Sessiongate-User", errors);
    let assertion_header = header_name(
        lookup,
        "ASSERTION_HEADER",
        "X-Sessiongate-Assertion",
        errors,
    );
    if let (Some(u), Some(a)) = (&user_header, &assertion_header) {
        if fold_name(u) == fold_name(a) {
            errors.push("USER_HEADER and ASSERTION_HEADER must differ".to_owned());
        }
    }
    let gateway_path =
        non_empty(lookup, "GATEWAY_PATH").unwrap_or_else(|| "/.sessiongate".to_owned());
    let gateway_path = gateway_path.trim().trim_end_matches('/').to_owned();
    let gateway_path_ok = gateway_path.len() > 1
        && gateway_path.starts_with('/')
        && PublicPaths::parse(&gateway_path).is_ok();
    if !gateway_path_ok {
        errors.push(format!(
            "GATEWAY_PATH must be a plain absolute path like /.sessiongate, got {gateway_path:?}"
        ));
    }
    let origin_timeout_ms = seconds(lookup, "ORIGIN_TIMEOUT_MS", 30_000, 1..=600_000, errors);
    let (
        (origin_base, origin_path_prefix),
        public_paths,
        user_header,
        assertion_header,
        origin_timeout_ms,
    ) = (
        origin?,
        public_paths?,
        user_header?,
        assertion_header?,
        origin_timeout_ms?,
    );
    if !gateway_path_ok || fold_name(&user_header) == fold_name(&assertion_header) {
        return None;
    }
    Some(ForwardConfig {
        origin_base,
        origin_path_prefix,
        public_paths,
        header_policy: RequestHeaderPolicy::new(&user_header, &assertion_header),
        user_header,
        assertion_header,
        gateway_path,
        origin_timeout_ms,
    })
}

/// Splits `http(s)://host[:port][/prefix]` into base and prefix. Refuses anything else.
fn split_origin_url(raw: &str) -> Option<(String, String)> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))?;
    let scheme_len = raw.len() - rest.len();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let path_ok = !path.contains(['?', '#', '%', ' ', '\\']) && !path.chars().any(char::is_control);
    if !authority_ok || !path_ok {
        return None;
    }
    let base = raw.get(..scheme_len + authority.len())?.to_owned();
    Some((base, path.trim_end_matches('/').to_owned()))
}

/// Secrets from `SESSION_SECRETS_PREVIOUS`: a JSON array of strings, or one string.
fn previous_secrets(raw: &str) -> Result<Vec<String>, String> {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<String>>(trimmed).map_err(|_| {
            "SESSION_SECRETS_PREVIOUS starts with [ but is not a JSON array of strings".to_owned()
        })
    } else {
        Ok(vec![raw.to_owned()])
    }
}

fn load_session(
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<SessionConfig> {
    let errors_before = errors.len();
    let mut secrets: Vec<String> = Vec::new();
    match lookup("SESSION_SECRET") {
        None => errors.push(
            "SESSION_SECRET is missing: set it with `wrangler secret put SESSION_SECRET` (at least 32 bytes)"
                .to_owned(),
        ),
        Some(s) if s.len() < MIN_SECRET_LEN => errors.push(format!(
            "SESSION_SECRET is too short: {} bytes, at least {MIN_SECRET_LEN} required",
            s.len()
        )),
        Some(s) => secrets.push(s),
    }
    if let Some(raw) = non_empty(lookup, "SESSION_SECRETS_PREVIOUS") {
        match previous_secrets(&raw) {
            Err(e) => errors.push(e),
            Ok(previous) => {
                for (i, s) in previous.into_iter().enumerate() {
                    if s.len() < MIN_SECRET_LEN {
                        errors.push(format!(
                            "SESSION_SECRETS_PREVIOUS entry {i} is too short: {} bytes, at least {MIN_SECRET_LEN} required",
                            s.len()
                        ));
                    } else {
                        secrets.push(s);
                    }
                }
            }
        }
    }
    let assertion_secret = match lookup("ASSERTION_SECRET") {
        None => {
            errors.push(
                "ASSERTION_SECRET is missing: set it with `wrangler secret put ASSERTION_SECRET` (at least 32 bytes)"
                    .to_owned(),
            );
            None
        }
        Some(s) if s.len() < MIN_SECRET_LEN => {
            errors.push(format!(
                "ASSERTION_SECRET is too short: {} bytes, at least {MIN_SECRET_LEN} required",
                s.len()
            ));
            None
        }
        Some(s) if secrets.contains(&s) => {
            errors.push("ASSERTION_SECRET must differ from every session secret".to_owned());
            None
        }
        Some(s) => Some(s),
    };

    let cookie_name =
        non_empty(lookup, "COOKIE_NAME").unwrap_or_else(|| "__Host-sessiongate".to_owned());
    let cookie_name = cookie_name.trim().to_owned();
    if !is_valid_cookie_name(&cookie_name) {
        errors.push(format!(
            "COOKIE_NAME must be a cookie name (an HTTP token), got {cookie_name:?}"
        ));
    }
    let secure = boolean(lookup, "COOKIE_SECURE", true, errors);
    let same_site = match non_empty(lookup, "COOKIE_SAMESITE")
        .as_deref()
        .map(str::trim)
    {
        None => Some(SameSite::Lax),
        Some(v) if v.eq_ignore_ascii_case("lax") => Some(SameSite::Lax),
        Some(v) if v.eq_ignore_ascii_case("strict") => Some(SameSite::Strict),
        Some(v) if v.eq_ignore_ascii_case("none") => Some(SameSite::None),
        Some(v) => {
            errors.push(format!(
                "COOKIE_SAMESITE must be Strict, Lax or None, got {v:?}"
            ));
            None
        }
    };
    if secure == Some(false) {
        if cookie_name.starts_with("__Host-") || cookie_name.starts_with("__Secure-") {
            errors.push(format!("COOKIE_NAME {cookie_name:?} requires COOKIE_SECURE=true (browsers drop it otherwise)"));
        }
        if same_site == Some(SameSite::None) {
            errors.push("COOKIE_SAMESITE=None requires COOKIE_SECURE=true".to_owned());
        }
    }

    let idle_s = seconds(lookup, "IDLE_TIMEOUT", 1800, 1..=31_536_000, errors);
    let absolute_s = seconds(lookup, "ABSOLUTE_TIMEOUT", 86_400, 1..=31_536_000, errors);
    let touch_s = seconds(lookup, "TOUCH_INTERVAL", 60, 1..=31_536_000, errors);
    let assertion_ttl_s = seconds(lookup, "ASSERTION_TTL", 60, 1..=3600, errors);
    let kv_timeout_ms = seconds(lookup, "KV_TIMEOUT_MS", 2000, 1..=60_000, errors);
    let session_cache_ttl_ms = seconds(
        lookup,
        "SESSION_CACHE_TTL_MS",
        0,
        0..=crate::session_cache::MAX_TTL_MS,
        errors,
    );
    let ua_binding = boolean(lookup, "UA_BINDING", true, errors);
    let assertion_audience = non_empty(lookup, "ASSERTION_AUDIENCE").and_then(|raw| {
        crate::assertion::Audience::from_setting(&raw)
            .map_err(|e| errors.push(e))
            .ok()
    });
    if let (Some(idle), Some(absolute)) = (idle_s, absolute_s) {
        if absolute < idle {
            errors.push(format!(
                "ABSOLUTE_TIMEOUT ({absolute}) must be at least IDLE_TIMEOUT ({idle})"
            ));
        }
    }
    if let (Some(idle), Some(touch)) = (idle_s, touch_s) {
        if touch >= idle {
            errors.push(format!(
                "TOUCH_INTERVAL ({touch}) must be less than IDLE_TIMEOUT ({idle})"
            ));
        }
    }

    if errors.len() > errors_before {
        return None;
    }
    Some(SessionConfig {
        keyring: Keyring::new(&secrets)?,
        assertion_key: AssertionKey::new(assertion_secret?.as_bytes()),
        assertion_ttl_s: assertion_ttl_s?,
        assertion_audience,
        cookie: CookieSettings {
            name: cookie_name,
            secure: secure?,
            same_site: same_site?,
        },
        timeouts: Timeouts {
            idle_ms: idle_s?.saturating_mul(1000),
            absolute_ms: absolute_s?.saturating_mul(1000),
            touch_interval_ms: touch_s?.saturating_mul(1000),
        },
        ua_binding: ua_binding?,
        kv_timeout_ms: kv_timeout_ms?,
        session_cache_ttl_ms: session_cache_ttl_ms?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const ASSERT: &str = "assertion-secret-assertion-secret";

    fn load_with(pairs: &[(&str, &str)]) -> LoadedConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(&move |name| map.get(name).cloned())
    }

    fn valid() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SESSION_SECRET", SECRET),
            ("ASSERTION_SECRET", ASSERT),
            ("ORIGIN_URL", "https://api.example.com"),
        ]
    }

    #[test]
    fn defaults() {
        let c = load_with(&valid());
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let f = c.forward.unwrap();
        let s = c.session.unwrap();
        assert_eq!(f.origin_base, "https://api.example.com");
        assert_eq!(f.origin_path_prefix, "");
        assert_eq!(f.user_header, "X-Sessiongate-User");
        assert_eq!(f.gateway_path, "/.sessiongate");
        assert_eq!(f.origin_timeout_ms, 30_000);
        assert_eq!(s.cookie.name, "__Host-sessiongate");
        assert!(s.cookie.secure);
        assert_eq!(s.cookie.same_site, SameSite::Lax);
        assert_eq!(
            s.timeouts,
            Timeouts {
                idle_ms: 1_800_000,
                absolute_ms: 86_400_000,
                touch_interval_ms: 60_000
            }
        );
        assert!(s.ua_binding);
        assert_eq!(s.assertion_ttl_s, 60);
        assert_eq!(s.kv_timeout_ms, 2000);
        assert_eq!(
            s.session_cache_ttl_ms, 0,
            "the cache is off unless asked for"
        );
        assert_eq!(s.keyring.len(), 1);
    }

    #[test]
    fn missing_and_weak_secrets_disable_sessions_only() {
        let c = load_with(&[("ORIGIN_URL", "http://127.0.0.1:8788")]);
        assert!(c.forward.is_some());
        assert!(c.session.is_none());
        assert!(
            c.errors
                .iter()
                .any(|e| e.contains("SESSION_SECRET is missing")),
            "{:?}",
            c.errors
        );
        assert!(c
            .errors
            .iter()
            .any(|e| e.contains("ASSERTION_SECRET is missing")));

        let mut pairs = valid();
        pairs[0] = ("SESSION_SECRET", "short-secret");
        let c = load_with(&pairs);
        assert!(c.session.is_none());
        assert!(c
            .errors
            .iter()
            .any(|e| e.contains("SESSION_SECRET is too short: 12 bytes")));
        assert!(
            c.errors.iter().all(|e| !e.contains("short-secret")),
            "secret value leaked: {:?}",
            c.errors
        );
    }

    #[test]
    fn assertion_secret_must_differ() {
        let mut pairs = valid();
        pairs[1] = ("ASSERTION_SECRET", SECRET);
        assert!(load_with(&pairs).session.is_none());
    }

    #[test]
    fn previous_secrets_as_array_or_single() {
        let mut pairs = valid();
        pairs.push((
            "SESSION_SECRETS_PREVIOUS",
            r#"["old-secret-old-secret-old-secret-1","old-secret-old-secret-old-secret-2"]"#,
        ));
        assert_eq!(load_with(&pairs).session.unwrap().keyring.len(), 3);
        let mut pairs = valid();
        pairs.push((
            "SESSION_SECRETS_PREVIOUS",
            "old-secret-old-secret-old-secret-1",
        ));
        assert_eq!(load_with(&pairs).session.unwrap().keyring.len(), 2);
        let mut pairs = valid();
        pairs.push(("SESSION_SECRETS_PREVIOUS", "[\"short\"]"));
        assert!(load_with(&pairs).session.is_none());
    }

    #[test]
    fn bad_origin_urls() {
        for bad in [
            "ftp://x",
            "api.example.com",
            "https://",
            "https://a b",
            "https://user@host",
            "https://h/p?q",
            "https://h/p#f",
        ] {
            let mut pairs = valid();
            pairs[2] = ("ORIGIN_URL", bad);
            let c = load_with(&pairs);
            assert!(c.forward.is_none(), "{bad}");
            assert!(c.errors.iter().any(|e| e.contains("ORIGIN_URL")), "{bad}");
        }
        let mut pairs = valid();
        pairs[2] = ("ORIGIN_URL", "http://127.0.0.1:8788/api/");
        let f = load_with(&pairs).forward.unwrap();
        assert_eq!(
            (f.origin_base.as_str(), f.origin_path_prefix.as_str()),
            ("http://127.0.0.1:8788", "/api")
        );
    }

    #[test]
    fn bad_timeouts_and_flags() {
        for (name, value) in [
            ("IDLE_TIMEOUT", "0"),
            ("IDLE_TIMEOUT", "ten"),
            ("IDLE_TIMEOUT", "-5"),
            ("ABSOLUTE_TIMEOUT", "10"),
            ("TOUCH_INTERVAL", "1800"),
            ("UA_BINDING", "yes"),
            ("COOKIE_SAMESITE", "sometimes"),
            ("KV_TIMEOUT_MS", "0"),
            ("SESSION_CACHE_TTL_MS", "30001"),
            ("ASSERTION_TTL", "86400"),
        ] {
            let mut pairs = valid();
            pairs.push((name, value));
            let c = load_with(&pairs);
            assert!(c.session.is_none(), "{name}={value}");
            assert!(
                c.errors.iter().any(|e| e.contains(name)),
                "{name}={value}: {:?}",
                c.errors
            );
        }
    }

    #[test]
    fn host_prefix_requires_secure() {
        let mut pairs = valid();
        pairs.push(("COOKIE_SECURE", "false"));
        assert!(load_with(&pairs).session.is_none());
        pairs.push(("COOKIE_NAME", "sessiongate"));
        let s = load_with(&pairs).session.unwrap();
        assert!(!s.cookie.secure);
    }

    #[test]
    fn header_names_are_checked() {
        let mut pairs = valid();
        pairs.push(("USER_HEADER", "Sessiongate-Login"));
        assert!(load_with(&pairs).forward.is_none());
        let mut pairs = valid();
        pairs.push(("USER_HEADER", "X-Bad Header"));
        assert!(load_with(&pairs).forward.is_none());
        let mut pairs = valid();
        pairs.push(("USER_HEADER", "x-sessiongate-assertion"));
        assert!(load_with(&pairs).forward.is_none());
    }

    #[test]
    fn assertion_audience() {
        assert_eq!(
            load_with(&valid()).session.unwrap().assertion_audience,
            None
        );
        let mut pairs = valid();
        pairs.push(("ASSERTION_AUDIENCE", r#"["api","admin"]"#));
        let audience = load_with(&pairs)
            .session
            .unwrap()
            .assertion_audience
            .unwrap();
        assert!(audience.contains("admin"));
        let mut pairs = valid();
        pairs.push(("ASSERTION_AUDIENCE", "[]"));
        let c = load_with(&pairs);
        assert!(c.session.is_none());
        assert!(c.errors.iter().any(|e| e.contains("ASSERTION_AUDIENCE")));
    }

    #[test]
    fn bad_public_paths() {
        let mut pairs = valid();
        pairs.push(("PUBLIC_PATHS", "/ok,not-a-path"));
        let c = load_with(&pairs);
        assert!(c.forward.is_none());
        assert!(c.errors.iter().any(|e| e.contains("PUBLIC_PATHS")));
    }
}
