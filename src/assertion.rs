//! The signed assertion the gateway adds to forwarded requests: a compact HS256 JWT that any JWT
//! library verifies with the shared `ASSERTION_SECRET`.

use crate::json::JsonObject;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::session::SessionId;
use crate::signing::SigningKey;

/// Issuer claim of every assertion.
pub const ISSUER: &str = "sessiongate";
/// base64url of `{"alg":"HS256","typ":"JWT"}`, the only header the gateway writes or accepts.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
/// Domain separation for session handles, so a handle is never equal to any other MAC we make.
const HANDLE_CONTEXT: &[u8] = b"sessiongate/session-handle/v1:";
/// Tokens longer than this are refused before any work.
const MAX_TOKEN_LEN: usize = 8192;

/// Claims of an assertion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: always `sessiongate`.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// The session handle (a keyed hash of the session id, never the id).
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The session data the origin stored at login, as its exact JSON text.
    pub data: Option<JsonObject>,
}

/// Why an assertion was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionError {
    /// Not three base64url parts, a header other than HS256/JWT, or unparsable claims.
    Malformed,
    /// The signature does not verify with the key.
    BadSignature,
    /// `exp` is not after now.
    Expired,
    /// `iat` is in the future (more than the allowed clock skew).
    NotYetValid,
    /// `iss` is not `sessiongate`.
    WrongIssuer,
}

impl AssertionError {
    /// Stable short code, for logs and the JavaScript bindings.
    pub fn code(self) -> &'static str {
        match self {
            AssertionError::Malformed => "malformed",
            AssertionError::BadSignature => "bad_signature",
            AssertionError::Expired => "expired",
            AssertionError::NotYetValid => "not_yet_valid",
            AssertionError::WrongIssuer => "wrong_issuer",
        }
    }
}

impl core::fmt::Display for AssertionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "assertion refused: {}", self.code())
    }
}

impl std::error::Error for AssertionError {}

/// The assertion key, prepared once. `Debug` hides it.
#[derive(Clone, Debug)]
pub struct AssertionKey {
    key: SigningKey,
}

impl AssertionKey {
    /// Prepares the key for `secret` (`ASSERTION_SECRET`).
    pub fn new(secret: &[u8]) -> Self {
        AssertionKey {
            key: SigningKey::new(secret),
        }
    }

    /// A stable, non-reversible handle of a session id (22 base64url characters, 132 bits):
    /// what the origin and the logs see instead of the id.
    pub fn session_handle(&self, id: &SessionId) -> String {
        let mut message = Vec::with_capacity(HANDLE_CONTEXT.len() + id.as_str().len());
        message.extend_from_slice(HANDLE_CONTEXT);
        message.extend_from_slice(id.as_str().as_bytes());
        let tag = self.key.tag(&message);
        let mut handle = URL_SAFE_NO_PAD.encode(tag);
        handle.truncate(22);
        handle
    }

    /// Signs `claims` as a compact JWT.
    pub fn mint(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 48);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.key.tag(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// Verifies a token minted by [`AssertionKey::mint`] (or by any HS256 JWT library with the
    /// same header) at `now_s`, allowing `skew_s` seconds of clock difference for `iat`.
    pub fn verify(&self, token: &str, now_s: u64, skew_s: u64) -> Result<Claims, AssertionError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AssertionError::Malformed);
        }
        let (signed_part, signature_b64) =
            token.rsplit_once('.').ok_or(AssertionError::Malformed)?;
        let (header_b64, payload_b64) = signed_part
            .split_once('.')
            .ok_or(AssertionError::Malformed)?;
        // Only the exact header we write: no `alg: none`, no other algorithm, no key ids.
        if !is_hs256_header(header_b64) {
            return Err(AssertionError::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| AssertionError::Malformed)?;
        let expected = self.key.tag(signed_part.as_bytes());
        if !bool::from(expected.as_slice().ct_eq(signature.as_slice())) {
            return Err(AssertionError::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| AssertionError::Malformed)?;
        let claims: Claims = crate::json::from_object(&payload).ok_or(AssertionError::Malformed)?;
        if claims.iss != ISSUER {
            return Err(AssertionError::WrongIssuer);
        }
        if claims.exp <= now_s {
            return Err(AssertionError::Expired);
        }
        if claims.iat > now_s.saturating_add(skew_s) {
            return Err(AssertionError::NotYetValid);
        }
        Ok(claims)
    }
}

fn is_hs256_header(header_b64: &str) -> bool {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        #[serde(default)]
        typ: Option<String>,
        #[serde(default)]
        // Only its presence matters; skipping it builds no JSON value.
        crit: Option<serde::de::IgnoredAny>,
    }
    if header_b64 == HEADER_B64 {
        return true;
    }
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header_b64) else {
        return false;
    };
    match crate::json::from_object::<Header>(&bytes) {
        Some(h) => {
            h.alg == "HS256" && h.crit.is_none() && h.typ.as_deref().is_none_or(|t| t == "JWT")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AssertionKey {
        AssertionKey::new(b"an-assertion-secret-of-32-bytes!!")
    }

    fn claims(iat: u64, exp: u64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            sid: "handle".into(),
            iat,
            exp,
            data: None,
        }
    }

    #[test]
    fn header_constant_is_the_json_it_claims() {
        let decoded = URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap();
        assert_eq!(decoded, br#"{"alg":"HS256","typ":"JWT"}"#);
    }

    #[test]
    fn mint_then_verify() {
        let token = key().mint(&claims(100, 160));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(key().verify(&token, 120, 0), Ok(claims(100, 160)));
    }

    #[test]
    fn refusals() {
        let k = key();
        let token = k.mint(&claims(100, 160));
        assert_eq!(k.verify(&token, 160, 0), Err(AssertionError::Expired));
        assert_eq!(k.verify(&token, 90, 5), Err(AssertionError::NotYetValid));
        assert_eq!(k.verify(&token, 96, 5).map(|c| c.sub), Ok("alice".into()));
        let other = AssertionKey::new(b"another-assertion-secret-32-bytes");
        assert_eq!(
            other.verify(&token, 120, 0),
            Err(AssertionError::BadSignature)
        );
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(k.verify(&flipped, 120, 0).is_err());
        assert_eq!(k.verify("a.b", 120, 0), Err(AssertionError::Malformed));
        // alg "none" with an empty signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let (_, rest) = token.split_once('.').unwrap();
        let (payload, _) = rest.split_once('.').unwrap();
        assert_eq!(
            k.verify(&format!("{none_header}.{payload}."), 120, 0),
            Err(AssertionError::Malformed)
        );
    }

    #[test]
    fn numbers_in_data_reach_the_origin_exactly() {
        // Found by fuzzing: a number parsed and printed again came back one ulp off; data is kept
        // as its JSON text (`json::JsonObject`), so it reaches the origin exactly.
        let mut c = claims(100, 160);
        c.data = JsonObject::parse(r#"{"n":-1.5715450039294425e202}"#);
        assert_eq!(key().verify(&key().mint(&c), 120, 0), Ok(c));
    }

    #[test]
    fn wrong_issuer() {
        let mut c = claims(100, 160);
        c.iss = "someone-else".into();
        let token = key().mint(&c);
        assert_eq!(
            key().verify(&token, 120, 0),
            Err(AssertionError::WrongIssuer)
        );
    }

    #[test]
    fn handles_are_stable_distinct_and_not_the_id() {
        let k = key();
        let a = SessionId::parse(&"a".repeat(43)).unwrap();
        let b = SessionId::parse(&"b".repeat(43)).unwrap();
        assert_eq!(k.session_handle(&a), k.session_handle(&a));
        assert_ne!(k.session_handle(&a), k.session_handle(&b));
        assert_eq!(k.session_handle(&a).len(), 22);
        assert!(!k.session_handle(&a).contains("aaaa"));
    }
}
