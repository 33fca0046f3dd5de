//! `Set-Cookie` serialization with the rules and attribute order of `jshttp/cookie` 0.7's
//! `serialize` (what express-session uses): the name must be a token, the value (already
//! encoded) must be cookie-octets, optionally quoted, `Domain` and `Path` are validated, and
//! attributes come in the order `Max-Age`, `Domain`, `Path`, `Expires`, `HttpOnly`, `Secure`,
//! `Partitioned`, `Priority`, `SameSite`. The gateway's own session cookie is written with it, and
//! the npm package exposes it as `serializeCookie`.

use crate::cookie::{encode_uri_component, is_valid_cookie_name};

/// The `Priority` attribute (a Chromium extension that `jshttp/cookie` supports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// `Priority=Low`.
    Low,
    /// `Priority=Medium`.
    Medium,
    /// `Priority=High`.
    High,
}

/// Attributes of one `Set-Cookie`; `Default` is none at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `Max-Age`, seconds.
    pub max_age: Option<i64>,
    /// `Domain`.
    pub domain: Option<&'a str>,
    /// `Path`.
    pub path: Option<&'a str>,
    /// Milliseconds since the Unix epoch, written as an HTTP date.
    pub expires_ms: Option<i64>,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `Secure`.
    pub secure: bool,
    /// `Partitioned`.
    pub partitioned: bool,
    /// `Priority`.
    pub priority: Option<Priority>,
    /// `SameSite`.
    pub same_site: Option<SameSite>,
}

/// Which argument was invalid; [`SetCookieError::message`] is `jshttp/cookie`'s wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookieError {
    /// The name is not a token.
    Name,
    /// The value has characters a cookie value may not have.
    Value,
    /// The `Domain` is not valid.
    Domain,
    /// The `Path` is not valid.
    Path,
    /// The `Expires` time cannot be written.
    Expires,
}

impl SetCookieError {
    /// The error as text (the message `cookie` would throw).
    pub fn message(self) -> &'static str {
        match self {
            SetCookieError::Name => "argument name is invalid",
            SetCookieError::Value => "argument val is invalid",
            SetCookieError::Domain => "option domain is invalid",
            SetCookieError::Path => "option path is invalid",
            SetCookieError::Expires => "option expires is invalid",
        }
    }
}

impl core::fmt::Display for SetCookieError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for SetCookieError {}

/// How the value is given to [`serialize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Percent-encode it like `encodeURIComponent` (the default of `jshttp/cookie`).
    Plain(&'a str),
    /// Already encoded by the caller; only checked.
    Encoded(&'a str),
}

/// `name=value` followed by the attributes.
///
/// ```
/// use sessiongate::set_cookie::{serialize, Attributes, Value};
/// let attributes = Attributes { max_age: Some(60), path: Some("/"), http_only: true, ..Default::default() };
/// assert_eq!(
///     serialize("sid", Value::Plain("s:a b"), &attributes).unwrap(),
///     "sid=s%3Aa%20b; Max-Age=60; Path=/; HttpOnly"
/// );
/// ```
pub fn serialize(
    name: &str,
    value: Value<'_>,
    attributes: &Attributes<'_>,
) -> Result<String, SetCookieError> {
    if !is_valid_cookie_name(name) {
        return Err(SetCookieError::Name);
    }
    let value = match value {
        Value::Plain(plain) => encode_uri_component(plain),
        Value::Encoded(encoded) if is_valid_cookie_value(encoded) => encoded.to_owned(),
        Value::Encoded(_) => return Err(SetCookieError::Value),
    };
    let mut out = format!("{name}={value}");
    if let Some(max_age) = attributes.max_age {
        out.push_str(&format!("; Max-Age={max_age}"));
    }
    if let Some(domain) = attributes.domain.filter(|d| !d.is_empty()) {
        if !is_valid_domain(domain) {
            return Err(SetCookieError::Domain);
        }
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    if let Some(path) = attributes.path.filter(|p| !p.is_empty()) {
        // jshttp/cookie's path-value: printable ASCII without `;` (and, as it has it, `<`).
        if !path
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b';' && b != b'<')
        {
            return Err(SetCookieError::Path);
        }
        out.push_str("; Path=");
        out.push_str(path);
    }
    if let Some(expires_ms) = attributes.expires_ms {
        out.push_str("; Expires=");
        out.push_str(&http_date(expires_ms).ok_or(SetCookieError::Expires)?);
    }
    if attributes.http_only {
        out.push_str("; HttpOnly");
    }
    if attributes.secure {
        out.push_str("; Secure");
    }
    if attributes.partitioned {
        out.push_str("; Partitioned");
    }
    if let Some(priority) = attributes.priority {
        out.push_str(match priority {
            Priority::Low => "; Priority=Low",
            Priority::Medium => "; Priority=Medium",
            Priority::High => "; Priority=High",
        });
    }
    if let Some(same_site) = attributes.same_site {
        out.push_str("; SameSite=");
        out.push_str(same_site.as_str());
    }
    Ok(out)
}

/// RFC 6265 cookie-value: cookie-octets, optionally wrapped in one pair of double quotes.
pub fn is_valid_cookie_value(value: &str) -> bool {
    let inner = match value.strip_prefix('"') {
        Some(rest) => match rest.strip_suffix('"') {
            Some(inner) => inner,
            None => return false,
        },
        None => value,
    };
    inner
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// RFC 1034/1123 host name, with the leading dot that browsers ignore allowed.
/// Whether `domain` is a `Domain` attribute the cookie rules accept (labels of letters, digits
/// and inner `-`, an optional leading `.`).
pub fn is_valid_domain(domain: &str) -> bool {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    domain.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// `Thu, 01 Jan 1970 00:00:00 GMT` (IMF-fixdate, what `Date.prototype.toUTCString` writes) for
/// years 0 to 9999; `None` outside them.
pub fn http_date(ms: i64) -> Option<String> {
    const DAY_MS: i64 = 86_400_000;
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ms.div_euclid(DAY_MS);
    let ms_of_day = ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let weekday = WEEKDAYS.get(usize::try_from(days.rem_euclid(7)).ok()?)?;
    let month_name = MONTHS.get(usize::try_from(month - 1).ok()?)?;
    let seconds = ms_of_day / 1000;
    Some(format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ))
}

/// Proleptic Gregorian (year, month 1–12, day 1–31) of a day count since 1970-01-01
/// (Howard Hinnant's days-to-civil algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// How the session cookie is written: always `Path=/` and `HttpOnly`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// `COOKIE_NAME`.
    pub name: String,
    /// `COOKIE_DOMAIN`: `None` for a host-only cookie.
    pub domain: Option<String>,
    /// `COOKIE_PATH`.
    pub path: String,
    /// `COOKIE_SECURE`: adds `Secure`.
    pub secure: bool,
    /// `COOKIE_SAMESITE`.
    pub same_site: SameSite,
}

impl CookieSettings {
    /// `Set-Cookie` value for a session cookie holding `signed_value` (`s:<id>.<sig>`), encoded
    /// like express-session does (`s%3A…`, `%2B`, `%2F`).
    ///
    /// ```
    /// use sessiongate::set_cookie::{CookieSettings, SameSite};
    /// let settings = CookieSettings {
    ///     name: "__Host-sid".into(),
    ///     domain: None,
    ///     path: "/".into(),
    ///     secure: true,
    ///     same_site: SameSite::Lax,
    /// };
    /// assert_eq!(
    ///     settings.set_cookie("s:abc.d+/e", 3600),
    ///     "__Host-sid=s%3Aabc.d%2B%2Fe; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Lax"
    /// );
    /// ```
    pub fn set_cookie(&self, signed_value: &str, max_age_seconds: u64) -> String {
        let max_age = i64::try_from(max_age_seconds).unwrap_or(i64::MAX);
        self.serialize(Value::Plain(signed_value), max_age, None)
    }

    /// `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        self.serialize(Value::Encoded(""), 0, Some(0))
    }

    /// With a `Domain`: a `Set-Cookie` value that removes a *host-only* cookie of the same name and
    /// path, which the browser keeps apart from the `Domain` one (an app's cookie from before it set
    /// a `Domain`). `None` for a host-only setting.
    pub fn clear_host_only_cookie(&self) -> Option<String> {
        self.domain.as_ref()?;
        let host_only = CookieSettings {
            domain: None,
            ..self.clone()
        };
        Some(host_only.clear_cookie())
    }

    fn serialize(&self, value: Value<'_>, max_age: i64, expires_ms: Option<i64>) -> String {
        let attributes = Attributes {
            max_age: Some(max_age),
            domain: self.domain.as_deref(),
            path: Some(&self.path),
            expires_ms,
            http_only: true,
            secure: self.secure,
            same_site: Some(self.same_site),
            ..Attributes::default()
        };
        // The name is validated by configuration and the value is encoded here, so this never
        // fails; an empty cookie (which clears nothing) is the harmless fallback.
        serialize(&self.name, value, &attributes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_match_to_utc_string() {
        // Expected values from `new Date(ms).toUTCString()` in Node.
        assert_eq!(http_date(0).unwrap(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(951_782_400_000).unwrap(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            http_date(1_795_000_000_123).unwrap(),
            "Wed, 18 Nov 2026 11:06:40 GMT"
        );
        assert_eq!(http_date(-1).unwrap(), "Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(
            http_date(253_402_300_799_999).unwrap(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            http_date(-62_167_219_200_000).unwrap(),
            "Sat, 01 Jan 0000 00:00:00 GMT"
        );
        assert_eq!(http_date(253_402_300_800_000), None);
        assert_eq!(http_date(-62_167_219_200_001), None);
        assert_eq!(http_date(i64::MIN), None);
        assert_eq!(http_date(i64::MAX), None);
    }

    #[test]
    fn attributes_in_jshttp_order() {
        let attributes = Attributes {
            max_age: Some(-5),
            domain: Some(".Example.com"),
            path: Some("/a b"),
            expires_ms: Some(0),
            http_only: true,
            secure: true,
            partitioned: true,
            priority: Some(Priority::High),
            same_site: Some(SameSite::None),
        };
        assert_eq!(
            serialize("n", Value::Plain("v"), &attributes).unwrap(),
            "n=v; Max-Age=-5; Domain=.Example.com; Path=/a b; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; Partitioned; \
             Priority=High; SameSite=None"
        );
    }

    #[test]
    fn invalid_arguments_are_refused() {
        let none = Attributes::default();
        assert_eq!(
            serialize("a b", Value::Plain("v"), &none),
            Err(SetCookieError::Name)
        );
        assert_eq!(
            serialize("", Value::Plain("v"), &none),
            Err(SetCookieError::Name)
        );
        for bad in ["a;b", "a b", "\"a", "a\\b", "é"] {
            assert_eq!(
                serialize("n", Value::Encoded(bad), &none),
                Err(SetCookieError::Value),
                "{bad}"
            );
        }
        assert_eq!(
            serialize("n", Value::Encoded("\"ok\""), &none).unwrap(),
            "n=\"ok\""
        );
        for bad in ["-a.com", "a-.com", "a..com", "a.com.", "a_b.com", "..a"] {
            let attributes = Attributes {
                domain: Some(bad),
                ..Default::default()
            };
            assert_eq!(
                serialize("n", Value::Plain("v"), &attributes),
                Err(SetCookieError::Domain),
                "{bad}"
            );
        }
        for bad in ["/a;b", "/a<b", "/\u{7f}", "/é", "/\n"] {
            let attributes = Attributes {
                path: Some(bad),
                ..Default::default()
            };
            assert_eq!(
                serialize("n", Value::Plain("v"), &attributes),
                Err(SetCookieError::Path),
                "{bad:?}"
            );
        }
        let far = Attributes {
            expires_ms: Some(i64::MAX),
            ..Default::default()
        };
        assert_eq!(
            serialize("n", Value::Plain("v"), &far),
            Err(SetCookieError::Expires)
        );
    }

    #[test]
    fn set_and_clear_cookie_attributes() {
        let mut s = CookieSettings {
            name: "sid".into(),
            domain: None,
            path: "/".into(),
            secure: false,
            same_site: SameSite::Strict,
        };
        assert_eq!(
            s.set_cookie("s:x.y", 60),
            "sid=s%3Ax.y; Max-Age=60; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            s.clear_cookie(),
            "sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict"
        );
        // The Domain and Path an app's cookie had, so the gateway's replaces it exactly.
        s.domain = Some("example.com".into());
        s.path = "/app".into();
        assert_eq!(
            s.set_cookie("s:x.y", 60),
            "sid=s%3Ax.y; Max-Age=60; Domain=example.com; Path=/app; HttpOnly; SameSite=Strict"
        );
        assert!(s
            .clear_cookie()
            .starts_with("sid=; Max-Age=0; Domain=example.com; Path=/app;"));
    }
}
