//! The signed assertion the gateway adds to forwarded requests: a compact HS256 JWT that any JWT
//! library verifies with the shared `ASSERTION_SECRET`.

use crate::json::{once, read_object, strings_text, JsonObject, ObjectWriter, Reader};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
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
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// Issuer: always `sessiongate`.
    pub iss: String,
    /// Subject: the user id.
    pub sub: String,
    /// Who the assertion is for (`ASSERTION_AUDIENCE`); absent unless configured.
    pub aud: Option<Audience>,
    /// The session handle (a keyed hash of the session id, never the id).
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// The session data the origin stored at login, as its exact JSON text.
    pub data: Option<JsonObject>,
}

/// The `aud` claim (RFC 7519 §4.1.3): one audience, or several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// One audience (`"aud":"api"`).
    One(String),
    /// Several (`"aud":["api","admin"]`).
    Many(Vec<String>),
}

impl Claims {
    /// The claims of a payload: an object with `iss`, `sub`, `sid`, `iat` and `exp`, optional
    /// `aud` (a string or an array of strings) and `data` (an object); other claims are skipped,
    /// as JWT allows, but none of these twice.
    pub fn decode(json: &str) -> Option<Self> {
        let (mut iss, mut sub, mut aud, mut sid, mut iat, mut exp, mut data) =
            (None, None, None, None, None, None, None);
        read_object(json, |name, value| match name {
            "iss" => once(&mut iss, value.string()),
            "sub" => once(&mut sub, value.string()),
            "aud" => once(&mut aud, value.nullable(Audience::read)),
            "sid" => once(&mut sid, value.string()),
            "iat" => once(&mut iat, value.u64()),
            "exp" => once(&mut exp, value.u64()),
            "data" => once(&mut data, value.nullable(Reader::object_text)),
            _ => value.skip(),
        })?;
        Some(Claims {
            iss: iss?,
            sub: sub?,
            aud: aud.flatten(),
            sid: sid?,
            iat: iat?,
            exp: exp?,
            data: data.flatten(),
        })
    }

    /// The payload's JSON, `aud` and `data` only when set.
    pub fn encode(&self) -> String {
        let mut object = ObjectWriter::new()
            .string("iss", &self.iss)
            .string("sub", &self.sub);
        match &self.aud {
            Some(Audience::One(one)) => object = object.string("aud", one),
            Some(Audience::Many(many)) => object = object.json("aud", &strings_text(many)),
            None => {}
        }
        object = object
            .string("sid", &self.sid)
            .u64("iat", self.iat)
            .u64("exp", self.exp);
        if let Some(data) = &self.data {
            object = object.json("data", data.as_str());
        }
        object.finish()
    }
}

impl Audience {
    /// A string, or an array of strings.
    fn read(value: &mut Reader<'_>) -> Option<Self> {
        if value.at_array() {
            value.strings().map(Audience::Many)
        } else {
            value.string().map(Audience::One)
        }
    }
}

/// Most audiences `ASSERTION_AUDIENCE` may list, and the longest one, in bytes.
const MAX_AUDIENCES: usize = 16;

/// Why `ASSERTION_AUDIENCE` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudienceError {
    /// It starts with `[` but is not a JSON array of strings.
    NotAnArrayOfStrings,
    /// The array holds this many audiences, not 1 to 16.
    Count(usize),
    /// An audience is empty or longer than 256 bytes.
    Entry,
}

impl core::fmt::Display for AudienceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AudienceError::NotAnArrayOfStrings => {
                f.write_str("ASSERTION_AUDIENCE starts with [ but is not a JSON array of strings")
            }
            AudienceError::Count(n) => write!(
                f,
                "ASSERTION_AUDIENCE must list 1 to {MAX_AUDIENCES} audiences, got {n}"
            ),
            AudienceError::Entry => write!(
                f,
                "ASSERTION_AUDIENCE entries must be non-empty and at most {MAX_AUDIENCE_LEN} bytes"
            ),
        }
    }
}

impl std::error::Error for AudienceError {}
const MAX_AUDIENCE_LEN: usize = 256;

impl Audience {
    /// Whether `name` is the audience or one of them.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Audience::One(one) => one == name,
            Audience::Many(many) => many.iter().any(|a| a == name),
        }
    }

    /// The `ASSERTION_AUDIENCE` setting: a JSON array of strings, or one string. Every audience
    /// is non-empty and at most 256 bytes, at most 16 of them.
    pub fn from_setting(raw: &str) -> Result<Audience, AudienceError> {
        let trimmed = raw.trim();
        let audience = if trimmed.starts_with('[') {
            let many =
                crate::json::string_array(trimmed).ok_or(AudienceError::NotAnArrayOfStrings)?;
            if many.is_empty() || many.len() > MAX_AUDIENCES {
                return Err(AudienceError::Count(many.len()));
            }
            Audience::Many(many)
        } else {
            Audience::One(trimmed.to_owned())
        };
        let entries: &[String] = match &audience {
            Audience::One(one) => core::slice::from_ref(one),
            Audience::Many(many) => many,
        };
        if entries
            .iter()
            .any(|a| a.trim().is_empty() || a.len() > MAX_AUDIENCE_LEN)
        {
            return Err(AudienceError::Entry);
        }
        Ok(audience)
    }
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
    /// An audience was expected and `aud` is missing or names none of the expected ones.
    WrongAudience,
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
            AssertionError::WrongAudience => "wrong_audience",
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
        let payload = claims.encode();
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
    /// same header) at `now_s`, allowing `skew_s` seconds of clock difference for `iat`. The
    /// `aud` claim is not checked (see [`AssertionKey::verify_for_audience`]).
    pub fn verify(&self, token: &str, now_s: u64, skew_s: u64) -> Result<Claims, AssertionError> {
        self.verify_for_audience(token, now_s, skew_s, &[])
    }

    /// [`AssertionKey::verify`], and when `audiences` is not empty, the token's `aud` (a string
    /// or an array of strings) must name at least one of them, as `jose`'s `audience`
    /// option checks it: a token without `aud` is then refused too.
    pub fn verify_for_audience(
        &self,
        token: &str,
        now_s: u64,
        skew_s: u64,
        audiences: &[String],
    ) -> Result<Claims, AssertionError> {
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
        let claims = std::str::from_utf8(&payload)
            .ok()
            .and_then(Claims::decode)
            .ok_or(AssertionError::Malformed)?;
        if claims.iss != ISSUER {
            return Err(AssertionError::WrongIssuer);
        }
        if !audiences.is_empty()
            && !claims
                .aud
                .as_ref()
                .is_some_and(|aud| audiences.iter().any(|a| aud.contains(a)))
        {
            return Err(AssertionError::WrongAudience);
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
    if header_b64 == HEADER_B64 {
        return true;
    }
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header_b64) else {
        return false;
    };
    let Ok(json) = std::str::from_utf8(&bytes) else {
        return false;
    };
    // `alg` required, `typ` optional, `crit` (any value but null) refused; others skipped.
    let (mut alg, mut typ, mut crit) = (None, None, None);
    let read = read_object(json, |name, value| match name {
        "alg" => once(&mut alg, value.string()),
        "typ" => once(&mut typ, value.nullable(Reader::string)),
        "crit" => once(&mut crit, value.nullable(Reader::skip)),
        _ => value.skip(),
    });
    read.is_some()
        && alg.as_deref() == Some("HS256")
        && crit.flatten().is_none()
        && typ.flatten().as_deref().is_none_or(|t| t == "JWT")
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
            aud: None,
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
    fn audience_is_checked_only_when_expected() {
        let k = key();
        let expect = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let none = k.mint(&claims(100, 160));
        assert!(k.verify_for_audience(&none, 120, 0, &[]).is_ok());
        assert_eq!(
            k.verify_for_audience(&none, 120, 0, &expect(&["api"])),
            Err(AssertionError::WrongAudience)
        );
        let mut one = claims(100, 160);
        one.aud = Some(Audience::One("api".into()));
        let one_token = k.mint(&one);
        let payload = URL_SAFE_NO_PAD
            .decode(one_token.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(
            payload,
            br#"{"iss":"sessiongate","sub":"alice","aud":"api","sid":"handle","iat":100,"exp":160}"#
        );
        assert_eq!(k.verify(&one_token, 120, 0), Ok(one.clone()));
        assert_eq!(
            k.verify_for_audience(&one_token, 120, 0, &expect(&["api"])),
            Ok(one)
        );
        assert_eq!(
            k.verify_for_audience(&one_token, 120, 0, &expect(&["other"])),
            Err(AssertionError::WrongAudience)
        );
        assert!(k
            .verify_for_audience(&one_token, 120, 0, &expect(&["other", "api"]))
            .is_ok());
        let mut many = claims(100, 160);
        many.aud = Some(Audience::Many(vec!["web".into(), "api".into()]));
        let many_token = k.mint(&many);
        assert_eq!(
            k.verify_for_audience(&many_token, 120, 0, &expect(&["api"])),
            Ok(many)
        );
        assert_eq!(
            k.verify_for_audience(&many_token, 120, 0, &expect(&["ap"])),
            Err(AssertionError::WrongAudience)
        );
        // Expired still wins over a matching audience, and a non-string aud is malformed.
        assert_eq!(
            k.verify_for_audience(&many_token, 160, 0, &expect(&["api"])),
            Err(AssertionError::Expired)
        );
        let numeric = format!(
            "{HEADER_B64}.{}",
            URL_SAFE_NO_PAD.encode(
                br#"{"iss":"sessiongate","sub":"a","aud":7,"sid":"h","iat":100,"exp":160}"#
            )
        );
        let signature = URL_SAFE_NO_PAD.encode(k.key.tag(numeric.as_bytes()));
        assert_eq!(
            k.verify(&format!("{numeric}.{signature}"), 120, 0),
            Err(AssertionError::Malformed)
        );
    }

    #[test]
    fn audience_setting() {
        assert_eq!(
            Audience::from_setting(" api.example.com "),
            Ok(Audience::One("api.example.com".into()))
        );
        assert_eq!(
            Audience::from_setting(r#"["a","b"]"#),
            Ok(Audience::Many(vec!["a".into(), "b".into()]))
        );
        for bad in [
            "[]",
            "[1]",
            r#"["a",""]"#,
            "[\"a\"",
            "x".repeat(257).as_str(),
        ] {
            assert!(Audience::from_setting(bad).is_err(), "{bad}");
        }
        let seventeen = format!("[{}]", ["\"a\""; 17].join(","));
        assert!(Audience::from_setting(&seventeen).is_err());
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
