//! JavaScript bindings of the cookie primitives (feature `js`), for the npm package's main entry.
//! Only plain values cross the boundary (strings, bytes, numbers, booleans), so the module needs no
//! Worker runtime bindings and no `js-sys`, and nothing here parses JSON (serde_json and float
//! formatting stay out of this Wasm; the assertion has its own module); the package's JavaScript
//! wrapper (`pkg/src/api.js`) gives them the `cookie-signature` / `cookie` API shapes.
//!
//! Each call crosses the boundary once: a prepared [`Signer`] is kept by the wrapper per secret,
//! and `verify` takes the signed text and returns a boolean.

use wasm_bindgen::prelude::*;

use crate::cookie::{is_valid_cookie_name, parse_cookie_header};
use crate::session::SessionId;
use crate::set_cookie::{self, Attributes, Priority, SameSite, SetCookieError, Value};
use crate::signing::Keyring;

/// Splits the concatenated secret bytes into the secrets, by their lengths.
fn split_secrets<'a>(bytes: &'a [u8], lengths: &[u32]) -> Option<Vec<&'a [u8]>> {
    let mut rest = bytes;
    let mut secrets = Vec::with_capacity(lengths.len());
    for &length in lengths {
        let (secret, tail) = rest.split_at_checked(usize::try_from(length).ok()?)?;
        secrets.push(secret);
        rest = tail;
    }
    rest.is_empty().then_some(secrets)
}

/// A keyring with its HMAC states prepared: the first secret signs, all verify.
#[wasm_bindgen]
pub struct Signer {
    ring: Keyring,
}

#[wasm_bindgen]
impl Signer {
    /// `secret_bytes` is every secret's bytes back to back; `lengths` says where each ends.
    #[wasm_bindgen(constructor)]
    pub fn new(secret_bytes: &[u8], lengths: &[u32]) -> Result<Signer, String> {
        split_secrets(secret_bytes, lengths)
            .and_then(|secrets| Keyring::new(&secrets))
            .map(|ring| Signer { ring })
            .ok_or_else(|| "Secret key must be provided.".to_owned())
    }

    /// base64 (unpadded) HMAC-SHA256 of `value` under the first secret.
    pub fn signature(&self, value: &str) -> String {
        self.ring.signature(value)
    }

    /// Whether `signed` is `value.signature` under any secret (cookie-signature's verdict).
    pub fn verify(&self, signed: &str) -> bool {
        self.ring.unsign(signed).is_ok()
    }
}

/// The pairs of a `Cookie` header, flattened as `[name, value, name, value, …]`, first
/// occurrence of each name only, values decoded.
#[wasm_bindgen(js_name = parseCookiePairs)]
pub fn parse_cookie_pairs(header: &str) -> Vec<String> {
    parse_cookie_header(header)
        .into_iter()
        .flat_map(|(name, value)| [name, value])
        .collect()
}

/// `Set-Cookie` text; the error is `jshttp/cookie`'s message, for the first invalid argument in
/// its order of checks (name, value, maxAge, domain, path, expires, priority, sameSite). Options
/// arrive normalized by the wrapper (`max_age` floored, `expires_ms` NaN for an invalid date, enums
/// lower-case).
#[wasm_bindgen(js_name = serializeCookie)]
#[allow(clippy::too_many_arguments)]
pub fn serialize_cookie(
    name: &str,
    value: &str,
    already_encoded: bool,
    has_lone_surrogate: bool,
    max_age: Option<f64>,
    domain: Option<String>,
    path: Option<String>,
    expires_ms: Option<f64>,
    http_only: bool,
    secure: bool,
    partitioned: bool,
    priority: Option<String>,
    same_site: Option<String>,
) -> Result<String, String> {
    let invalid = |e: SetCookieError| e.message().to_owned();
    if !is_valid_cookie_name(name) {
        return Err(invalid(SetCookieError::Name));
    }
    if already_encoded && !set_cookie::is_valid_cookie_value(value) {
        return Err(invalid(SetCookieError::Value));
    }
    if !already_encoded && has_lone_surrogate {
        // What `encodeURIComponent` throws (as a URIError) for text that is not valid Unicode.
        return Err(URI_MALFORMED.to_owned());
    }
    let max_age = match max_age {
        None => None,
        Some(v) => Some(whole_number(v).ok_or("option maxAge is invalid")?),
    };
    // An invalid date becomes one outside the writable range, so `serialize` refuses it in turn.
    let expires_ms = expires_ms.map(|v| whole_number(v).unwrap_or(i64::MAX));
    let priority = priority.as_deref().map(|p| match p {
        "low" => Ok(Priority::Low),
        "medium" => Ok(Priority::Medium),
        "high" => Ok(Priority::High),
        _ => Err("option priority is invalid"),
    });
    let same_site = same_site.as_deref().map(|s| match s {
        "strict" => Ok(SameSite::Strict),
        "lax" => Ok(SameSite::Lax),
        "none" => Ok(SameSite::None),
        _ => Err("option sameSite is invalid"),
    });
    let attributes = Attributes {
        max_age,
        domain: domain.as_deref(),
        path: path.as_deref(),
        expires_ms,
        http_only,
        secure,
        partitioned,
        priority: priority.and_then(Result::ok),
        same_site: same_site.and_then(Result::ok),
    };
    let value = if already_encoded {
        Value::Encoded(value)
    } else {
        Value::Plain(value)
    };
    let text = set_cookie::serialize(name, value, &attributes).map_err(invalid)?;
    // The two last checks of jshttp/cookie come after every other one.
    if let Some(Err(message)) = priority {
        return Err(message.to_owned());
    }
    if let Some(Err(message)) = same_site {
        return Err(message.to_owned());
    }
    Ok(text)
}

/// The message of the `URIError` thrown for a value with an unpaired surrogate.
const URI_MALFORMED: &str = "URI malformed";

/// An integral `f64` as `i64`, when it is one that JavaScript prints without an exponent.
fn whole_number(value: f64) -> Option<i64> {
    const LIMIT: f64 = 1e21;
    if value.is_finite() && value.fract() == 0.0 && value.abs() < LIMIT {
        // In range and integral; values beyond i64 saturate, which JS could not tell apart anyway.
        Some(value as i64)
    } else {
        None
    }
}

/// A new session id: 256 bits from the platform CSPRNG, 43 base64url characters.
#[wasm_bindgen(js_name = generateSessionId)]
pub fn generate_session_id() -> Result<String, String> {
    SessionId::generate()
        .map(|id| id.as_str().to_owned())
        .map_err(|_| "the platform's random source (crypto.getRandomValues) failed".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_split_by_lengths() {
        assert_eq!(
            split_secrets(b"abcde", &[2, 3]),
            Some(vec![&b"ab"[..], &b"cde"[..]])
        );
        assert_eq!(
            split_secrets(b"abc", &[0, 3]),
            Some(vec![&b""[..], &b"abc"[..]])
        );
        assert_eq!(split_secrets(b"abc", &[4]), None);
        assert_eq!(split_secrets(b"abc", &[1]), None, "bytes left over");
        assert!(Signer::new(b"", &[]).is_err(), "no secret at all");
    }

    #[test]
    fn signer_matches_cookie_signature() {
        let signer = Signer::new(b"tobiiscool", &[10]).unwrap();
        let signature = signer.signature("hello");
        assert_eq!(signature, "DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI");
        assert!(signer.verify(&format!("hello.{signature}")));
        assert!(!signer.verify("hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QJ"));
        assert!(!signer.verify("hello"));
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(whole_number(-0.0), Some(0));
        assert_eq!(whole_number(3600.0), Some(3600));
        assert_eq!(whole_number(1.5), None);
        assert_eq!(whole_number(f64::NAN), None);
        assert_eq!(whole_number(1e21), None);
    }

    #[test]
    fn serialize_maps_options() {
        let text = serialize_cookie(
            "n",
            "a b",
            false,
            false,
            Some(-1.0),
            None,
            Some("/".into()),
            Some(0.0),
            true,
            false,
            false,
            Some("high".into()),
            Some("lax".into()),
        )
        .unwrap();
        assert_eq!(
            text,
            "n=a%20b; Max-Age=-1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Priority=High; SameSite=Lax"
        );
        let bad = |same_site: &str| {
            serialize_cookie(
                "n",
                "v",
                false,
                false,
                None,
                None,
                None,
                None,
                false,
                false,
                false,
                None,
                Some(same_site.into()),
            )
        };
        assert_eq!(bad("sometimes"), Err("option sameSite is invalid".into()));
    }
}
