//! Configuration from `wrangler.toml` `[vars]` and secrets, read through a lookup function so it
//! is platform-free, parsed once into checked values. Errors are typed and say exactly what is
//! wrong; a secret's value is never part of one.
//!
//! Configuration comes in two halves, validated separately, so that a deployment whose secrets
//! are missing still serves its public paths (and nothing else):
//! - [`ForwardConfig`]: where to forward, which paths are public, header names;
//! - [`SessionConfig`]: secrets, cookie and timeouts.
//!
//! Every default is stated once, in the loader below; `docs/configuration.md` lists them.

use core::fmt;

use crate::assertion::AssertionKey;
use crate::cookie::is_valid_cookie_name;
use crate::headers::{fold_name, RequestHeaderPolicy};
use crate::paths::{InvalidPathEntry, PublicPaths};
use crate::session::Timeouts;
use crate::set_cookie::{is_valid_domain, CookieSettings, SameSite};
use crate::signing::Keyring;
use crate::store::{IsolateMemory, MAX_CACHE_TTL_MS};

/// Minimum length of every secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Settings needed to forward anything at all.
#[derive(Clone, Debug)]
pub struct ForwardConfig {
    /// `ORIGIN_URL` without a trailing slash: scheme, host, optional port and path prefix, to
    /// which the request's path and query are appended. `None` only for an embedded gate whose
    /// app passes a handler instead.
    pub origin_url: Option<String>,
    /// `PUBLIC_PATHS`.
    pub public_paths: PublicPaths,
    /// `USER_HEADER`.
    pub user_header: String,
    /// `ASSERTION_HEADER`.
    pub assertion_header: String,
    /// The request headers removed before anything else (identity, control, hop-by-hop).
    pub header_policy: RequestHeaderPolicy,
    /// Prefix of the built-in endpoints, e.g. `/.sessiongate`.
    pub gateway_path: String,
    /// `ORIGIN_TIMEOUT_MS`.
    pub origin_timeout_ms: u64,
    /// The browser flow: sign-in redirect, optional-auth paths, cross-site protection.
    pub browser: BrowserConfig,
}

/// Settings needed to verify or create sessions.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// `SESSION_SECRET` (signs) and `SESSION_SECRETS_PREVIOUS` (verify).
    pub keyring: Keyring,
    /// `ASSERTION_SECRET`, prepared.
    pub assertion_key: AssertionKey,
    /// `ASSERTION_TTL`, seconds.
    pub assertion_ttl_s: u64,
    /// The assertion's `aud` claim, from `ASSERTION_AUDIENCE` (none when unset).
    pub assertion_audience: Option<crate::assertion::Audience>,
    /// Which secret of the keyring is which: position 0 is `SESSION_SECRET`, the others are
    /// `SESSION_SECRETS_PREVIOUS` in order.
    pub secrets: SecretRoles,
    /// `COOKIE_NAME`, `COOKIE_DOMAIN`, `COOKIE_PATH`, `COOKIE_SECURE`, `COOKIE_SAMESITE`.
    pub cookie: CookieSettings,
    /// `COOKIE_NAME_PREVIOUS` with `COOKIE_DOMAIN_PREVIOUS` and `COOKIE_PATH_PREVIOUS`: a cookie
    /// name the app used before, still read, and replaced by `COOKIE_NAME` when seen.
    pub previous_cookie: Option<CookieSettings>,
    /// `IDLE_TIMEOUT`, `ABSOLUTE_TIMEOUT`, `TOUCH_INTERVAL`.
    pub timeouts: Timeouts,
    /// `UA_BINDING`.
    pub ua_binding: bool,
    /// `KV_TIMEOUT_MS`.
    pub kv_timeout_ms: u64,
    /// How long an isolate may reuse a session read (0: never; see [`crate::store`]).
    pub session_cache_ttl_ms: u64,
    /// `WEBSOCKET_RECHECK_SECONDS`, in milliseconds: how often an open WebSocket's session is
    /// checked again (see [`crate::gate::websocket`]).
    pub websocket_recheck_ms: u64,
}

/// Which configured secret verified a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifiedBy {
    /// `SESSION_SECRET`.
    Current,
    /// Entry `n` of `SESSION_SECRETS_PREVIOUS`, at least 32 bytes.
    Previous(usize),
    /// Entry `n` of `SESSION_SECRETS_PREVIOUS`, shorter than 32 bytes (allowed until the date of
    /// `ALLOW_WEAK_PREVIOUS_SECRETS`).
    WeakPrevious(usize),
}

impl VerifiedBy {
    /// How the log names the secret: `current`, `previous[n]` or `weak-previous[n]`.
    pub fn log_name(self) -> String {
        match self {
            VerifiedBy::Current => "current".to_owned(),
            VerifiedBy::Previous(n) => format!("previous[{n}]"),
            VerifiedBy::WeakPrevious(n) => format!("weak-previous[{n}]"),
        }
    }
}

/// The roles of the keyring's secrets after the first (`SESSION_SECRET`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretRoles {
    /// For each previous secret in keyring order: whether it is weak (under 32 bytes).
    weak: Vec<bool>,
    /// Until when (Unix ms, exclusive) weak previous secrets verify.
    weak_until_ms: u64,
}

impl SecretRoles {
    /// The role of keyring position `position`, and whether it still verifies at `now_ms`.
    pub fn role(&self, position: usize, now_ms: u64) -> (VerifiedBy, bool) {
        match position.checked_sub(1) {
            None => (VerifiedBy::Current, true),
            Some(n) => match self.weak.get(n) {
                Some(true) => (VerifiedBy::WeakPrevious(n), now_ms < self.weak_until_ms),
                _ => (VerifiedBy::Previous(n), true),
            },
        }
    }
}

impl SessionConfig {
    /// What an isolate remembers between requests under these settings.
    pub fn isolate_memory(&self) -> IsolateMemory {
        IsolateMemory::new(self.session_cache_ttl_ms, self.timeouts.refresh_interval_ms)
    }
}

/// One problem with the configuration. Its text names the setting, never a secret's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A required setting is not set; `how` says how to set it.
    Missing {
        /// The setting.
        name: &'static str,
        /// How to set it.
        how: &'static str,
    },
    /// A secret shorter than [`MIN_SECRET_LEN`] bytes.
    SecretTooShort {
        /// The setting (with the entry's position for a list).
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A previous secret shorter than [`MIN_SECRET_LEN`] without `ALLOW_WEAK_PREVIOUS_SECRETS`.
    WeakSecretNotAllowed {
        /// The entry.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// An empty secret.
    EmptySecret {
        /// The setting (with the entry's position for a list).
        name: String,
    },
    /// A `__Host-` cookie name with `COOKIE_DOMAIN` or a `COOKIE_PATH` other than `/`.
    HostPrefixScoped,
    /// `COOKIE_DOMAIN` with `COOKIE_SECURE=false`.
    DomainNeedsSecure,
    /// `COOKIE_NAME_PREVIOUS` equal to `COOKIE_NAME`.
    SamePreviousCookieName,
    /// A number that is not a whole number in its range.
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// Least allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
        /// The value given.
        got: String,
    },
    /// A flag that is not `true` or `false`.
    NotBoolean {
        /// The setting.
        name: &'static str,
        /// The value given.
        got: String,
    },
    /// A value that breaks `rule` (a non-secret value, shown).
    Invalid {
        /// The setting.
        name: &'static str,
        /// What the value must be, as "must …".
        rule: &'static str,
        /// The value given.
        got: String,
    },
    /// A secret list that is not a JSON array of strings (its value is not shown).
    MalformedSecretList {
        /// The setting.
        name: &'static str,
    },
    /// A `PUBLIC_PATHS` entry that is not a plain absolute path.
    PublicPath(InvalidPathEntry),
    /// `USER_HEADER` and `ASSERTION_HEADER` name the same header.
    SameHeaders,
    /// `ASSERTION_SECRET` equals a session secret.
    AssertionSecretReused,
    /// A `__Host-` or `__Secure-` cookie name without `COOKIE_SECURE=true`.
    PrefixNeedsSecure {
        /// The cookie name.
        cookie_name: String,
    },
    /// `COOKIE_SAMESITE=None` without `COOKIE_SECURE=true`.
    SameSiteNoneNeedsSecure,
    /// `ABSOLUTE_TIMEOUT` shorter than `IDLE_TIMEOUT`.
    AbsoluteShorterThanIdle {
        /// `ABSOLUTE_TIMEOUT`, seconds.
        absolute: u64,
        /// `IDLE_TIMEOUT`, seconds.
        idle: u64,
    },
    /// `TOUCH_INTERVAL` not shorter than `IDLE_TIMEOUT`.
    RefreshNotShorterThanIdle {
        /// `TOUCH_INTERVAL`, seconds.
        refresh: u64,
        /// `IDLE_TIMEOUT`, seconds.
        idle: u64,
    },
    /// `ASSERTION_AUDIENCE` is not a string or an array of 1 to 16 strings.
    Audience(crate::assertion::AudienceError),
    /// `ADMIN_TOKENS` is not a JSON object of operator names to tokens (its value is not shown).
    MalformedAdminTokens,
    /// An entry of `ADMIN_TOKENS` that breaks `rule`, named by its position only (a name and a
    /// token given the wrong way round would otherwise put the token in the log).
    InvalidAdminToken {
        /// The entry's position, from 0.
        entry: usize,
        /// What the entry must be, as "must …".
        rule: &'static str,
    },
    /// The KV namespace binding is missing from the Worker's environment.
    MissingKvBinding {
        /// The binding's name.
        binding: &'static str,
    },
    /// An `OPTIONAL_PATHS` entry that is not a plain absolute path.
    OptionalPath(InvalidPathEntry),
    /// An `OPTIONAL_PATHS` entry that overlaps a `PUBLIC_PATHS` entry (the same entry, or one
    /// subtree covering the other).
    OptionalOverlapsPublic {
        /// The `OPTIONAL_PATHS` entry.
        optional: String,
        /// The `PUBLIC_PATHS` entry.
        public: String,
    },
    /// `LOGIN_URL` is not under `PUBLIC_PATHS` (a signed-out browser could never reach it).
    LoginUrlNotPublic {
        /// The value given.
        got: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { name, how } => write!(f, "{name} is missing: {how}"),
            ConfigError::SecretTooShort { name, len } => write!(
                f,
                "{name} is too short: {len} bytes, at least {MIN_SECRET_LEN} required"
            ),
            ConfigError::WeakSecretNotAllowed { name, len } => write!(
                f,
                "{name} is too short: {len} bytes, at least {MIN_SECRET_LEN} required (a shorter previous secret verifies only with ALLOW_WEAK_PREVIOUS_SECRETS=<end date>)"
            ),
            ConfigError::EmptySecret { name } => write!(f, "{name} is empty"),
            ConfigError::HostPrefixScoped => f.write_str(
                "a __Host- COOKIE_NAME allows neither COOKIE_DOMAIN nor a COOKIE_PATH other than / (browsers drop it otherwise)",
            ),
            ConfigError::DomainNeedsSecure => {
                f.write_str("COOKIE_DOMAIN requires COOKIE_SECURE=true")
            }
            ConfigError::SamePreviousCookieName => {
                f.write_str("COOKIE_NAME_PREVIOUS must differ from COOKIE_NAME")
            }
            ConfigError::OutOfRange {
                name,
                min,
                max,
                got,
            } => write!(
                f,
                "{name} must be a whole number from {min} to {max}, got {got:?}"
            ),
            ConfigError::NotBoolean { name, got } => {
                write!(f, "{name} must be true or false, got {got:?}")
            }
            ConfigError::Invalid { name, rule, got } => write!(f, "{name} {rule}, got {got:?}"),
            ConfigError::MalformedSecretList { name } => {
                write!(f, "{name} starts with [ but is not a JSON array of strings")
            }
            ConfigError::PublicPath(e) => e.fmt(f),
            ConfigError::Audience(e) => e.fmt(f),
            ConfigError::SameHeaders => f.write_str("USER_HEADER and ASSERTION_HEADER must differ"),
            ConfigError::AssertionSecretReused => {
                f.write_str("ASSERTION_SECRET must differ from every session secret")
            }
            ConfigError::PrefixNeedsSecure { cookie_name } => write!(
                f,
                "COOKIE_NAME {cookie_name:?} requires COOKIE_SECURE=true (browsers drop it otherwise)"
            ),
            ConfigError::SameSiteNoneNeedsSecure => {
                f.write_str("COOKIE_SAMESITE=None requires COOKIE_SECURE=true")
            }
            ConfigError::AbsoluteShorterThanIdle { absolute, idle } => write!(
                f,
                "ABSOLUTE_TIMEOUT ({absolute}) must be at least IDLE_TIMEOUT ({idle})"
            ),
            ConfigError::RefreshNotShorterThanIdle { refresh, idle } => write!(
                f,
                "TOUCH_INTERVAL ({refresh}) must be less than IDLE_TIMEOUT ({idle})"
            ),
            ConfigError::OptionalPath(e) => write!(
                f,
                "OPTIONAL_PATHS entry {:?} is not a plain absolute path (optionally ending in /*)",
                e.entry
            ),
            ConfigError::OptionalOverlapsPublic { optional, public } => write!(
                f,
                "OPTIONAL_PATHS entry {optional:?} overlaps PUBLIC_PATHS entry {public:?}: a path is either public or optional"
            ),
            ConfigError::LoginUrlNotPublic { got } => write!(
                f,
                "LOGIN_URL {got:?} must be a path listed in PUBLIC_PATHS (a signed-out browser is sent there)"
            ),
            ConfigError::InvalidAdminToken { entry, rule } => {
                write!(f, "ADMIN_TOKENS entry {entry} {rule}")
            }
            ConfigError::MalformedAdminTokens => f.write_str(
                "ADMIN_TOKENS must be a JSON object of operator name to token, e.g. {\"alice\":\"<32+ bytes>\"}",
            ),
            ConfigError::MissingKvBinding { binding } => write!(
                f,
                "KV namespace binding {binding} is missing: add a KV namespace with binding \"{binding}\" to the wrangler configuration"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The result of reading the configuration: each half, and every problem found.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The forwarding half, if valid.
    pub forward: Option<ForwardConfig>,
    /// The session half, if valid.
    pub session: Option<SessionConfig>,
    /// Health, logs, the admin API and the per-user cap (an invalid one is off, and named in
    /// `errors`).
    pub operations: OperationsConfig,
    /// Every problem, one per setting, for the log.
    pub errors: Vec<ConfigError>,
}

/// Whether `ORIGIN_URL` must be set: always for the Worker; an embedded gate may pass a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginUrl {
    /// `ORIGIN_URL` must be set.
    Required,
    /// `ORIGIN_URL` may be absent.
    Optional,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads every setting through `lookup` (a `[vars]` value or a secret by name) at `now_ms` (for
/// settings that name a date).
pub fn load(lookup: Lookup<'_>, now_ms: u64) -> LoadedConfig {
    load_with(lookup, OriginUrl::Required, now_ms)
}

/// [`load`], saying whether `ORIGIN_URL` is required.
pub fn load_with(lookup: Lookup<'_>, origin_url: OriginUrl, now_ms: u64) -> LoadedConfig {
    let mut errors = Vec::new();
    let forward = load_forward(lookup, origin_url, &mut errors);
    let session = load_session(lookup, now_ms, &mut errors);
    let operations = load_operations(lookup, &mut errors);
    LoadedConfig {
        forward,
        session,
        operations,
        errors,
    }
}

fn non_empty(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

fn number(
    lookup: Lookup<'_>,
    name: &'static str,
    default: u64,
    range: core::ops::RangeInclusive<u64>,
    errors: &mut Vec<ConfigError>,
) -> Option<u64> {
    let Some(raw) = non_empty(lookup, name) else {
        return Some(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(v) if range.contains(&v) => Some(v),
        _ => {
            errors.push(ConfigError::OutOfRange {
                name,
                min: *range.start(),
                max: *range.end(),
                got: raw,
            });
            None
        }
    }
}

fn boolean(
    lookup: Lookup<'_>,
    name: &'static str,
    default: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<bool> {
    match non_empty(lookup, name).as_deref().map(str::trim) {
        None => Some(default),
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            errors.push(ConfigError::NotBoolean {
                name,
                got: other.to_owned(),
            });
            None
        }
    }
}

fn header_name(
    lookup: Lookup<'_>,
    name: &'static str,
    default: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let value = non_empty(lookup, name).unwrap_or_else(|| default.to_owned());
    let value = value.trim().to_owned();
    let folded = fold_name(&value);
    if !is_valid_cookie_name(&value) {
        errors.push(ConfigError::Invalid {
            name,
            rule: "must be an HTTP header name",
            got: value,
        });
        None
    } else if folded.starts_with("sessiongate-")
        || ["cookie", "authorization", "host"].contains(&folded.as_str())
    {
        errors.push(ConfigError::Invalid {
            name,
            rule: "must not be a standard header or in the Sessiongate- control namespace",
            got: value,
        });
        None
    } else {
        Some(value)
    }
}

fn load_forward(
    lookup: Lookup<'_>,
    origin_url: OriginUrl,
    errors: &mut Vec<ConfigError>,
) -> Option<ForwardConfig> {
    let origin = match (non_empty(lookup, "ORIGIN_URL"), origin_url) {
        (None, OriginUrl::Optional) => Some(None),
        (None, OriginUrl::Required) => {
            errors.push(ConfigError::Missing {
                name: "ORIGIN_URL",
                how: "set it in the wrangler configuration's vars",
            });
            None
        }
        (Some(raw), _) => match checked_origin_url(raw.trim()) {
            Some(url) => Some(Some(url)),
            None => {
                errors.push(ConfigError::Invalid {
                    name: "ORIGIN_URL",
                    rule:
                        "must be an http:// or https:// URL without query, fragment or credentials",
                    got: raw,
                });
                None
            }
        },
    };
    let public_paths = match PublicPaths::parse(&lookup("PUBLIC_PATHS").unwrap_or_default()) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(ConfigError::PublicPath(e));
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
    let same_headers = matches!((&user_header, &assertion_header),
        (Some(u), Some(a)) if fold_name(u) == fold_name(a));
    if same_headers {
        errors.push(ConfigError::SameHeaders);
    }
    let gateway_path =
        non_empty(lookup, "GATEWAY_PATH").unwrap_or_else(|| "/.sessiongate".to_owned());
    let gateway_path = gateway_path.trim().trim_end_matches('/').to_owned();
    let gateway_path_ok = gateway_path.len() > 1
        && gateway_path.starts_with('/')
        && PublicPaths::parse(&gateway_path).is_ok();
    if !gateway_path_ok {
        errors.push(ConfigError::Invalid {
            name: "GATEWAY_PATH",
            rule: "must be a plain absolute path like /.sessiongate",
            got: gateway_path.clone(),
        });
    }
    let origin_timeout_ms = number(lookup, "ORIGIN_TIMEOUT_MS", 30_000, 1..=600_000, errors);
    let browser = load_browser(lookup, public_paths.as_ref(), errors);
    let (origin_url, public_paths, user_header, assertion_header, origin_timeout_ms) = (
        origin?,
        public_paths?,
        user_header?,
        assertion_header?,
        origin_timeout_ms?,
    );
    if !gateway_path_ok || same_headers {
        return None;
    }
    Some(ForwardConfig {
        origin_url,
        public_paths,
        header_policy: RequestHeaderPolicy::new(&user_header, &assertion_header),
        user_header,
        assertion_header,
        gateway_path,
        origin_timeout_ms,
        browser: browser?,
    })
}

/// `http(s)://host[:port][/prefix]` without a trailing slash; `None` for anything else.
fn checked_origin_url(raw: &str) -> Option<String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let path_ok = !path.contains(['?', '#', '%', ' ', '\\']) && !path.chars().any(char::is_control);
    (authority_ok && path_ok).then(|| raw.trim_end_matches('/').to_owned())
}

/// The browser flow's settings (`LOGIN_URL`, `LOGIN_RETURN_PARAM`, `AUTH_REALM`, `OPTIONAL_PATHS`,
/// `CSRF_PROTECTION`, `CSRF_ALLOWED_ORIGINS`): part of [`ForwardConfig`], since none needs a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserConfig {
    /// `LOGIN_URL`: where a signed-out browser navigation is redirected (a path, with an optional
    /// query, under `PUBLIC_PATHS`); no redirect when unset.
    pub login_url: Option<String>,
    /// `LOGIN_RETURN_PARAM`: the query parameter of `login_url` carrying the original path.
    pub login_return_param: String,
    /// `AUTH_REALM`: the realm of `WWW-Authenticate` on a 401 (the request's host when unset).
    pub auth_realm: Option<String>,
    /// `OPTIONAL_PATHS`: forwarded with an identity when a valid session is present, without one
    /// otherwise; never refused for want of a session.
    pub optional_paths: PublicPaths,
    /// `CSRF_PROTECTION`: refuse unsafe methods from other origins on every path.
    pub csrf_protection: bool,
    /// `CSRF_ALLOWED_ORIGINS`: further origins (`scheme://host[:port]`, as browsers serialize
    /// them) whose requests pass the cross-site check.
    pub csrf_allowed_origins: Vec<String>,
}

/// Longest `LOGIN_URL`, `AUTH_REALM` and `LOGIN_RETURN_PARAM` accepted, in bytes.
const MAX_LOGIN_URL_LEN: usize = 1024;

/// Reads the browser flow's settings; `public_paths` is `None` when `PUBLIC_PATHS` is invalid
/// (its error is already reported, and checks against it are skipped).
fn load_browser(
    lookup: Lookup<'_>,
    public_paths: Option<&PublicPaths>,
    errors: &mut Vec<ConfigError>,
) -> Option<BrowserConfig> {
    let errors_before = errors.len();
    let login_url = non_empty(lookup, "LOGIN_URL").map(|raw| raw.trim().to_owned());
    if let Some(url) = &login_url {
        let path = url.split_once('?').map_or(url.as_str(), |(path, _)| path);
        let plain = url.len() <= MAX_LOGIN_URL_LEN
            && url.starts_with('/')
            && !url.starts_with("//")
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"\\#".contains(&b));
        if !plain {
            errors.push(ConfigError::Invalid {
                name: "LOGIN_URL",
                rule: "must be a path on this host like /login (optionally with a query)",
                got: url.clone(),
            });
        } else if public_paths.is_some_and(|public| !public.matches(path)) {
            errors.push(ConfigError::LoginUrlNotPublic { got: url.clone() });
        }
    }
    let login_return_param = non_empty(lookup, "LOGIN_RETURN_PARAM")
        .map_or_else(|| "return_to".to_owned(), |p| p.trim().to_owned());
    let param_ok = !login_return_param.is_empty()
        && login_return_param.len() <= 64
        && login_return_param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !param_ok {
        errors.push(ConfigError::Invalid {
            name: "LOGIN_RETURN_PARAM",
            rule: "must be 1 to 64 letters, digits, -, ., _ or ~",
            got: login_return_param.clone(),
        });
    }
    let auth_realm = non_empty(lookup, "AUTH_REALM").map(|r| r.trim().to_owned());
    if let Some(realm) = &auth_realm {
        let realm_ok = realm.len() <= 128
            && realm
                .bytes()
                .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\');
        if !realm_ok {
            errors.push(ConfigError::Invalid {
                name: "AUTH_REALM",
                rule: "must be at most 128 printable ASCII characters without \" or \\",
                got: realm.clone(),
            });
        }
    }
    let optional_paths = match PublicPaths::parse(&lookup("OPTIONAL_PATHS").unwrap_or_default()) {
        Ok(optional) => {
            if let Some((optional, public)) = public_paths.and_then(|p| optional.overlap(p)) {
                errors.push(ConfigError::OptionalOverlapsPublic { optional, public });
            }
            Some(optional)
        }
        Err(e) => {
            errors.push(ConfigError::OptionalPath(e));
            None
        }
    };
    let csrf_protection = boolean(lookup, "CSRF_PROTECTION", false, errors);
    let mut csrf_allowed_origins = Vec::new();
    for entry in lookup("CSRF_ALLOWED_ORIGINS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match checked_web_origin(entry) {
            Some(origin) => csrf_allowed_origins.push(origin),
            None => errors.push(ConfigError::Invalid {
                name: "CSRF_ALLOWED_ORIGINS",
                rule: "must list origins like https://app.example.com or http://localhost:3000 (scheme, host, optional port; no path, wildcard or credentials)",
                got: entry.to_owned(),
            }),
        }
    }
    if errors.len() > errors_before {
        return None;
    }
    Some(BrowserConfig {
        login_url,
        login_return_param,
        auth_realm,
        optional_paths: optional_paths?,
        csrf_protection: csrf_protection?,
        csrf_allowed_origins,
    })
}

/// A web origin as browsers serialize it in `Origin`: `http(s)://host[:port]`, lowercase, the
/// scheme's default port dropped. `None` for anything else (a path, even `/`, a wildcard,
/// credentials, `null`).
fn checked_web_origin(raw: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let (scheme, authority) = match lower.split_once("://")? {
        ("https", authority) => ("https", authority),
        ("http", authority) => ("http", authority),
        _ => return None,
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|ip| {
            !ip.is_empty()
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        })
    } else {
        !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !host_ok {
        return None;
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(port) => {
            let digits_ok =
                !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
            let number: u32 = port.parse().ok().filter(|_| digits_ok)?;
            match number {
                0 | 65_536.. => None,
                n if n == default_port => Some(format!("{scheme}://{host}")),
                n => Some(format!("{scheme}://{host}:{n}")),
            }
        }
    }
}

/// Secrets from `SESSION_SECRETS_PREVIOUS`: a JSON array of strings, or one string.
fn previous_secrets(raw: &str) -> Result<Vec<String>, ConfigError> {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') {
        crate::json::string_array(trimmed).ok_or(ConfigError::MalformedSecretList {
            name: "SESSION_SECRETS_PREVIOUS",
        })
    } else {
        Ok(vec![raw.to_owned()])
    }
}

/// A required secret of at least [`MIN_SECRET_LEN`] bytes.
fn secret(lookup: Lookup<'_>, name: &'static str, errors: &mut Vec<ConfigError>) -> Option<String> {
    match lookup(name) {
        None => {
            errors.push(ConfigError::Missing {
                name,
                how: match name {
                    "SESSION_SECRET" => {
                        "set it with `wrangler secret put SESSION_SECRET` (at least 32 bytes)"
                    }
                    _ => "set it with `wrangler secret put ASSERTION_SECRET` (at least 32 bytes)",
                },
            });
            None
        }
        Some(s) if s.len() < MIN_SECRET_LEN => {
            errors.push(ConfigError::SecretTooShort {
                name: name.to_owned(),
                len: s.len(),
            });
            None
        }
        Some(s) => Some(s),
    }
}

/// Most days ahead `ALLOW_WEAK_PREVIOUS_SECRETS` may name.
pub const MAX_WEAK_SECRET_DAYS: u64 = 30;

const DAY_MS: u64 = 86_400_000;

/// Days from 1970-01-01 to the date `YYYY-MM-DD` (proleptic Gregorian), `None` for anything else.
fn days_from_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    // Parsed as u64 (the one integer parser the binary already carries), then signed for the
    // arithmetic below.
    let number = |t: &str| t.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok());
    let (y, m, d) = (number(y)?, number(m)?, number(d)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let last = *month_days.get(usize::try_from(m - 1).ok()?)?;
    if !(1..=last).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Until when (exclusive, Unix ms) weak previous secrets verify: the end of the day
/// `ALLOW_WEAK_PREVIOUS_SECRETS` names, at most [`MAX_WEAK_SECRET_DAYS`] ahead of `now_ms`.
fn weak_secrets_until(
    lookup: Lookup<'_>,
    now_ms: u64,
    errors: &mut Vec<ConfigError>,
) -> Option<u64> {
    let raw = non_empty(lookup, "ALLOW_WEAK_PREVIOUS_SECRETS")?;
    let today = now_ms / DAY_MS;
    match days_from_date(&raw) {
        Some(day) if day <= today + MAX_WEAK_SECRET_DAYS => Some((day + 1) * DAY_MS),
        _ => {
            errors.push(ConfigError::Invalid {
                name: "ALLOW_WEAK_PREVIOUS_SECRETS",
                rule: "must be a date (YYYY-MM-DD) at most 30 days ahead",
                got: raw,
            });
            None
        }
    }
}

/// The keyring's secrets (`SESSION_SECRET` first) and the roles of the previous ones.
fn load_secrets(
    lookup: Lookup<'_>,
    now_ms: u64,
    errors: &mut Vec<ConfigError>,
) -> (Vec<String>, SecretRoles) {
    let mut secrets: Vec<String> = secret(lookup, "SESSION_SECRET", errors)
        .into_iter()
        .collect();
    let weak_until_ms = weak_secrets_until(lookup, now_ms, errors);
    let mut roles = SecretRoles {
        weak: Vec::new(),
        weak_until_ms: weak_until_ms.unwrap_or(0),
    };
    let Some(raw) = non_empty(lookup, "SESSION_SECRETS_PREVIOUS") else {
        return (secrets, roles);
    };
    let previous = match previous_secrets(&raw) {
        Ok(previous) => previous,
        Err(e) => {
            errors.push(e);
            return (secrets, roles);
        }
    };
    for (i, s) in previous.into_iter().enumerate() {
        let name = || format!("SESSION_SECRETS_PREVIOUS entry {i}");
        if s.is_empty() {
            errors.push(ConfigError::EmptySecret { name: name() });
        } else if s.len() >= MIN_SECRET_LEN {
            secrets.push(s);
            roles.weak.push(false);
        } else if weak_until_ms.is_some() {
            // Verifies only until the date, only for imported sessions, and never signs.
            secrets.push(s);
            roles.weak.push(true);
        } else {
            errors.push(ConfigError::WeakSecretNotAllowed {
                name: name(),
                len: s.len(),
            });
        }
    }
    (secrets, roles)
}

/// A cookie `Domain` setting (`None`: host-only).
fn cookie_domain(
    lookup: Lookup<'_>,
    name: &'static str,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let domain = non_empty(lookup, name)?.trim().to_owned();
    if is_valid_domain(&domain) {
        Some(domain)
    } else {
        errors.push(ConfigError::Invalid {
            name,
            rule: "must be a domain name like example.com",
            got: domain,
        });
        None
    }
}

/// A cookie `Path` setting (default `/`).
fn cookie_path(lookup: Lookup<'_>, name: &'static str, errors: &mut Vec<ConfigError>) -> String {
    let path = non_empty(lookup, name).map_or_else(|| "/".to_owned(), |p| p.trim().to_owned());
    let valid =
        path.starts_with('/') && path.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b';');
    if !valid {
        errors.push(ConfigError::Invalid {
            name,
            rule: "must be a path starting with / (printable, without ;)",
            got: path.clone(),
        });
    }
    path
}

fn load_session(
    lookup: Lookup<'_>,
    now_ms: u64,
    errors: &mut Vec<ConfigError>,
) -> Option<SessionConfig> {
    let errors_before = errors.len();
    let (secrets, secret_roles) = load_secrets(lookup, now_ms, errors);
    let assertion_secret = match secret(lookup, "ASSERTION_SECRET", errors) {
        Some(s) if secrets.contains(&s) => {
            errors.push(ConfigError::AssertionSecretReused);
            None
        }
        other => other,
    };
    let cookie_name =
        non_empty(lookup, "COOKIE_NAME").unwrap_or_else(|| "__Host-sessiongate".to_owned());
    let cookie_name = cookie_name.trim().to_owned();
    if !is_valid_cookie_name(&cookie_name) {
        errors.push(ConfigError::Invalid {
            name: "COOKIE_NAME",
            rule: "must be a cookie name (an HTTP token)",
            got: cookie_name.clone(),
        });
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
            errors.push(ConfigError::Invalid {
                name: "COOKIE_SAMESITE",
                rule: "must be Strict, Lax or None",
                got: v.to_owned(),
            });
            None
        }
    };
    let domain = cookie_domain(lookup, "COOKIE_DOMAIN", errors);
    let path = cookie_path(lookup, "COOKIE_PATH", errors);
    if cookie_name.starts_with("__Host-") && (domain.is_some() || path != "/") {
        errors.push(ConfigError::HostPrefixScoped);
    }
    if domain.is_some() && secure == Some(false) {
        errors.push(ConfigError::DomainNeedsSecure);
    }
    let previous_name = non_empty(lookup, "COOKIE_NAME_PREVIOUS").map(|n| n.trim().to_owned());
    let previous_domain = cookie_domain(lookup, "COOKIE_DOMAIN_PREVIOUS", errors);
    let previous_path = cookie_path(lookup, "COOKIE_PATH_PREVIOUS", errors);
    match &previous_name {
        Some(name) if !is_valid_cookie_name(name) => errors.push(ConfigError::Invalid {
            name: "COOKIE_NAME_PREVIOUS",
            rule: "must be a cookie name (an HTTP token)",
            got: name.clone(),
        }),
        Some(name) if *name == cookie_name => errors.push(ConfigError::SamePreviousCookieName),
        _ => {}
    }
    if secure == Some(false) {
        if cookie_name.starts_with("__Host-") || cookie_name.starts_with("__Secure-") {
            errors.push(ConfigError::PrefixNeedsSecure {
                cookie_name: cookie_name.clone(),
            });
        }
        if same_site == Some(SameSite::None) {
            errors.push(ConfigError::SameSiteNoneNeedsSecure);
        }
    }

    let idle_s = number(lookup, "IDLE_TIMEOUT", 1800, 1..=31_536_000, errors);
    let absolute_s = number(lookup, "ABSOLUTE_TIMEOUT", 86_400, 1..=31_536_000, errors);
    let refresh_s = number(lookup, "TOUCH_INTERVAL", 60, 1..=31_536_000, errors);
    let assertion_ttl_s = number(lookup, "ASSERTION_TTL", 60, 1..=3600, errors);
    let kv_timeout_ms = number(lookup, "KV_TIMEOUT_MS", 2000, 1..=60_000, errors);
    let session_cache_ttl_ms = number(
        lookup,
        "SESSION_CACHE_TTL_MS",
        0,
        0..=MAX_CACHE_TTL_MS,
        errors,
    );
    let ua_binding = boolean(lookup, "UA_BINDING", true, errors);
    let websocket_recheck_s = number(lookup, "WEBSOCKET_RECHECK_SECONDS", 60, 1..=3600, errors);
    let assertion_audience = non_empty(lookup, "ASSERTION_AUDIENCE").and_then(|raw| {
        crate::assertion::Audience::from_setting(&raw)
            .map_err(|e| errors.push(ConfigError::Audience(e)))
            .ok()
    });
    if let (Some(idle), Some(absolute)) = (idle_s, absolute_s) {
        if absolute < idle {
            errors.push(ConfigError::AbsoluteShorterThanIdle { absolute, idle });
        }
    }
    if let (Some(idle), Some(refresh)) = (idle_s, refresh_s) {
        if refresh >= idle {
            errors.push(ConfigError::RefreshNotShorterThanIdle { refresh, idle });
        }
    }

    if errors.len() > errors_before {
        return None;
    }
    Some(SessionConfig {
        keyring: Keyring::new(&secrets)?,
        secrets: secret_roles,
        assertion_key: AssertionKey::new(assertion_secret?.as_bytes()),
        assertion_ttl_s: assertion_ttl_s?,
        assertion_audience,
        previous_cookie: previous_name.map(|name| CookieSettings {
            name,
            domain: previous_domain,
            path: previous_path,
            secure: secure.unwrap_or(true),
            same_site: same_site.unwrap_or(SameSite::Lax),
        }),
        cookie: CookieSettings {
            name: cookie_name,
            domain,
            path,
            secure: secure?,
            same_site: same_site?,
        },
        timeouts: Timeouts {
            idle_ms: idle_s?.saturating_mul(1000),
            absolute_ms: absolute_s?.saturating_mul(1000),
            refresh_interval_ms: refresh_s?.saturating_mul(1000),
        },
        ua_binding: ua_binding?,
        kv_timeout_ms: kv_timeout_ms?,
        session_cache_ttl_ms: session_cache_ttl_ms?,
        websocket_recheck_ms: websocket_recheck_s?.saturating_mul(1000),
    })
}

// ---- Operations: health, logs, the admin API, the per-user cap (issue 21) ----

/// Most sessions `MAX_SESSIONS_PER_USER` may allow.
pub const MAX_SESSIONS_CAP: u64 = 1000;

/// Settings for operating the gateway. Each is independent of the two halves above: an invalid
/// one is named in [`LoadedConfig::errors`] (so the health check answers 503) and is off.
#[derive(Clone, Debug, Default)]
pub struct OperationsConfig {
    /// `HEALTH_SHOW_VERSION`: the health check names the gateway's version.
    pub health_show_version: bool,
    /// `LOG_PUBLIC_PATHS`: requests forwarded on public paths are logged (default true).
    pub log_public_paths: bool,
    /// `ADMIN_TOKENS`: the operators of the admin API; `None`: no admin API.
    pub admin_tokens: Option<AdminTokens>,
    /// `MAX_SESSIONS_PER_USER`: at login, the oldest sessions beyond it end; `None`: no cap.
    pub max_sessions_per_user: Option<usize>,
}

/// The admin API's operators: a name and the SHA-256 of its token each. The tokens themselves
/// are not kept, and `Debug` shows only the names.
#[derive(Clone)]
pub struct AdminTokens {
    operators: Vec<(String, [u8; 32])>,
}

impl fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.operators.iter().map(|(name, _)| name))
            .finish()
    }
}

impl AdminTokens {
    /// The operator whose token is `presented`. Every token is compared, each in constant time
    /// (over SHA-256 digests, so neither a token's content nor its length shows in the timing).
    pub fn operator(&self, presented: &str) -> Option<&str> {
        use sha2::Digest as _;
        use subtle::ConstantTimeEq as _;
        let digest: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (name, expected) in &self.operators {
            if bool::from(expected.ct_eq(&digest)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// The operators' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.operators.iter().map(|(name, _)| name.as_str())
    }
}

/// `ADMIN_TOKENS`: a JSON object of operator name → token, each token at least
/// [`MIN_SECRET_LEN`] bytes, each name 1–64 characters of `A–Z a–z 0–9 . _ @ -`.
fn admin_tokens(lookup: Lookup<'_>, errors: &mut Vec<ConfigError>) -> Option<AdminTokens> {
    use sha2::Digest as _;
    let raw = non_empty(lookup, "ADMIN_TOKENS")?;
    let pairs = match parse_admin_tokens(&raw) {
        Ok(pairs) => pairs,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let before = errors.len();
    let mut operators = Vec::new();
    // Entries are named by position, never by their text: see `InvalidAdminToken`.
    for (entry, (name, token)) in pairs.into_iter().enumerate() {
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        if operators.iter().any(|(n, _)| *n == name) {
            errors.push(ConfigError::InvalidAdminToken {
                entry,
                rule: "must name an operator not named before",
            });
        } else if !name_ok {
            errors.push(ConfigError::InvalidAdminToken {
                entry,
                rule: "must name its operator with 1-64 characters of A-Z a-z 0-9 . _ @ -",
            });
        } else if token.len() < MIN_SECRET_LEN {
            errors.push(ConfigError::SecretTooShort {
                name: format!("ADMIN_TOKENS entry {entry}"),
                len: token.len(),
            });
        } else {
            operators.push((name, sha2::Sha256::digest(token.as_bytes()).into()));
        }
    }
    if operators.is_empty() && errors.len() == before {
        errors.push(ConfigError::MalformedAdminTokens);
    }
    (errors.len() == before).then_some(AdminTokens { operators })
}

/// The JSON of `ADMIN_TOKENS`: one object of strings, read as its (name, token) pairs in order,
/// a name given twice kept twice (the caller refuses it). Anything else (not an object, a value
/// that is not a string, trailing text) is [`ConfigError::MalformedAdminTokens`], which never
/// shows the text. The only JSON reading of this setting: names and tokens are checked by the
/// caller.
pub fn parse_admin_tokens(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    // The pairs in order, names given twice included (the caller refuses those by name).
    let mut pairs = Vec::new();
    crate::json::read_object(text.trim(), |name, value| {
        pairs.push((name.to_owned(), value.string()?));
        Some(())
    })
    .ok_or(ConfigError::MalformedAdminTokens)?;
    Ok(pairs)
}

fn load_operations(lookup: Lookup<'_>, errors: &mut Vec<ConfigError>) -> OperationsConfig {
    let cap = number(
        lookup,
        "MAX_SESSIONS_PER_USER",
        0,
        0..=MAX_SESSIONS_CAP,
        errors,
    );
    OperationsConfig {
        health_show_version: boolean(lookup, "HEALTH_SHOW_VERSION", false, errors).unwrap_or(false),
        log_public_paths: boolean(lookup, "LOG_PUBLIC_PATHS", true, errors).unwrap_or(true),
        admin_tokens: admin_tokens(lookup, errors),
        max_sessions_per_user: cap.filter(|&n| n > 0).and_then(|n| usize::try_from(n).ok()),
    }
}

// ---- end of the operations settings ----

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    /// 2026-11-27T12:00:00Z.
    const NOW: u64 = 1_795_780_800_000;
    const ASSERT: &str = "assertion-secret-assertion-secret";

    fn load_with(pairs: &[(&str, &str)]) -> LoadedConfig {
        load_pairs(pairs, OriginUrl::Required)
    }

    fn load_pairs(pairs: &[(&str, &str)], origin_url: OriginUrl) -> LoadedConfig {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        super::load_with(&move |name| map.get(name).cloned(), origin_url, NOW)
    }

    fn texts(c: &LoadedConfig) -> Vec<String> {
        c.errors.iter().map(ToString::to_string).collect()
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
        assert_eq!(f.origin_url.as_deref(), Some("https://api.example.com"));
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
                refresh_interval_ms: 60_000
            }
        );
        assert!(s.ua_binding);
        assert_eq!(s.assertion_ttl_s, 60);
        assert_eq!(s.kv_timeout_ms, 2000);
        assert_eq!(
            s.session_cache_ttl_ms, 0,
            "the cache is off unless asked for"
        );
        assert_eq!(s.websocket_recheck_ms, 60_000);
        assert_eq!(s.keyring.len(), 1);
    }

    #[test]
    fn missing_and_weak_secrets_disable_sessions_only() {
        let c = load_with(&[("ORIGIN_URL", "http://127.0.0.1:8788")]);
        assert!(c.forward.is_some());
        assert!(c.session.is_none());
        assert!(
            texts(&c)
                .iter()
                .any(|e| e.contains("SESSION_SECRET is missing")),
            "{:?}",
            c.errors
        );
        assert!(texts(&c)
            .iter()
            .any(|e| e.contains("ASSERTION_SECRET is missing")));

        let mut pairs = valid();
        pairs[0] = ("SESSION_SECRET", "short-secret");
        let c = load_with(&pairs);
        assert!(c.session.is_none());
        assert!(texts(&c)
            .iter()
            .any(|e| e.contains("SESSION_SECRET is too short: 12 bytes")));
        assert!(
            texts(&c).iter().all(|e| !e.contains("short-secret")),
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
            assert!(texts(&c).iter().any(|e| e.contains("ORIGIN_URL")), "{bad}");
        }
        let mut pairs = valid();
        pairs[2] = ("ORIGIN_URL", "http://127.0.0.1:8788/api/");
        let f = load_with(&pairs).forward.unwrap();
        assert_eq!(f.origin_url.as_deref(), Some("http://127.0.0.1:8788/api"));
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
            ("WEBSOCKET_RECHECK_SECONDS", "0"),
            ("WEBSOCKET_RECHECK_SECONDS", "3601"),
        ] {
            let mut pairs = valid();
            pairs.push((name, value));
            let c = load_with(&pairs);
            assert!(c.session.is_none(), "{name}={value}");
            assert!(
                texts(&c).iter().any(|e| e.contains(name)),
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
        assert!(texts(&c).iter().any(|e| e.contains("ASSERTION_AUDIENCE")));
    }

    #[test]
    fn bad_public_paths() {
        let mut pairs = valid();
        pairs.push(("PUBLIC_PATHS", "/ok,not-a-path"));
        let c = load_with(&pairs);
        assert!(c.forward.is_none());
        assert!(texts(&c).iter().any(|e| e.contains("PUBLIC_PATHS")));
    }

    #[test]
    fn origin_url_is_optional_only_when_asked() {
        let pairs = &valid()[..2];
        let required = load_pairs(pairs, OriginUrl::Required);
        assert!(required.forward.is_none());
        assert_eq!(
            texts(&required),
            ["ORIGIN_URL is missing: set it in the wrangler configuration's vars"]
        );
        let optional = load_pairs(pairs, OriginUrl::Optional);
        assert!(optional.errors.is_empty(), "{:?}", optional.errors);
        assert_eq!(optional.forward.unwrap().origin_url, None);
    }

    #[test]
    fn errors_are_typed_and_name_the_setting() {
        let mut pairs = valid();
        pairs.push(("IDLE_TIMEOUT", "ten"));
        let c = load_with(&pairs);
        assert_eq!(
            c.errors,
            [ConfigError::OutOfRange {
                name: "IDLE_TIMEOUT",
                min: 1,
                max: 31_536_000,
                got: "ten".into()
            }]
        );
        let error: &dyn std::error::Error = &c.errors[0];
        assert_eq!(
            error.to_string(),
            "IDLE_TIMEOUT must be a whole number from 1 to 31536000, got \"ten\""
        );
    }

    #[test]
    fn dates_count_days_from_1970() {
        assert_eq!(days_from_date("1970-01-01"), Some(0));
        assert_eq!(days_from_date("2000-03-01"), Some(11_017));
        assert_eq!(days_from_date("2024-02-29"), Some(19_782));
        assert_eq!(days_from_date("2026-11-27"), Some(NOW / DAY_MS));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "24-01-01",
            "2024-1-01",
            "soon",
            "2024-01-01x",
        ] {
            assert_eq!(days_from_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn weak_previous_secrets_need_an_end_date_within_30_days() {
        let mut pairs = valid();
        pairs.push(("SESSION_SECRETS_PREVIOUS", "keyboard cat"));
        let c = load_with(&pairs);
        assert!(c.session.is_none());
        assert!(matches!(
            c.errors[..],
            [ConfigError::WeakSecretNotAllowed { len: 12, .. }]
        ));
        pairs.push(("ALLOW_WEAK_PREVIOUS_SECRETS", "2026-12-27"));
        let s = load_with(&pairs).session.unwrap();
        assert_eq!(s.keyring.len(), 2);
        let until = (NOW / DAY_MS + 31) * DAY_MS;
        assert_eq!(
            s.secrets.role(1, until - 1),
            (VerifiedBy::WeakPrevious(0), true)
        );
        assert_eq!(
            s.secrets.role(1, until),
            (VerifiedBy::WeakPrevious(0), false)
        );
        assert_eq!(s.secrets.role(0, until), (VerifiedBy::Current, true));
        pairs.pop();
        pairs.push(("ALLOW_WEAK_PREVIOUS_SECRETS", "2026-12-28"));
        assert!(load_with(&pairs).session.is_none(), "31 days ahead");
        // A date already past is accepted: the weak secret just no longer verifies.
        pairs.pop();
        pairs.push(("ALLOW_WEAK_PREVIOUS_SECRETS", "2026-01-01"));
        let s = load_with(&pairs).session.unwrap();
        assert_eq!(s.secrets.role(1, NOW), (VerifiedBy::WeakPrevious(0), false));
    }

    #[test]
    fn admin_tokens_json_is_one_object_of_strings_read_in_order() {
        assert_eq!(
            parse_admin_tokens(r#" {"b":"2","a":"1","b":"3"} "#).unwrap(),
            [("b", "2"), ("a", "1"), ("b", "3")].map(|(n, t)| (n.to_owned(), t.to_owned())),
            "in order, a repeated name kept for the caller to refuse"
        );
        assert_eq!(parse_admin_tokens("{}").unwrap(), []);
        assert_eq!(
            parse_admin_tokens(r#"{"\u0061":"t\"x"}"#).unwrap(),
            [("a".to_owned(), "t\"x".to_owned())],
            "escapes decoded"
        );
        for bad in [
            "",
            "not json",
            "[]",
            r#"["alice","token"]"#,
            r#""{}""#,
            "null",
            r#"{"alice":1}"#,
            r#"{"alice":null}"#,
            r#"{"alice":["t"]}"#,
            r#"{"alice":"t"} {}"#,
            r#"{"alice":"t""#,
            r#"{alice:"t"}"#,
        ] {
            assert!(
                matches!(
                    parse_admin_tokens(bad),
                    Err(ConfigError::MalformedAdminTokens)
                ),
                "{bad}"
            );
        }
    }
}
