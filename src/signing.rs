//! `cookie-signature`-compatible signing: `value + "." + base64(HMAC-SHA256(secret, value))`,
//! standard alphabet, `=` padding stripped.
//!
//! A [`Keyring`] holds the HMAC state of each secret, prepared once (the key is hashed into the
//! inner and outer pads when the ring is built, not per request). The first secret signs; every
//! secret verifies, so a secret can be rotated without logging anybody out.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

/// Length of the base64 text of a 32-byte HMAC-SHA256 tag without padding.
pub const SIGNATURE_LEN: usize = 43;

/// One secret's prepared HMAC state. `Debug` never shows key material.
#[derive(Clone)]
pub struct SigningKey {
    prepared: HmacSha256,
}

impl SigningKey {
    /// Prepares the HMAC state for `secret` (any length is accepted here; configuration
    /// enforces the minimum length for secrets the gateway uses).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` never fails; the fallback (an
        // all-zero key of block size) only exists to avoid a panic path and is never taken.
        let prepared = HmacSha256::new_from_slice(secret)
            .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
        SigningKey { prepared }
    }

    /// HMAC-SHA256 of `message` under this key.
    pub fn tag(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.prepared.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The secrets of a deployment: the first signs, all verify.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<SigningKey>,
}

/// Why a signed value was refused. Deliberately a single opaque reason: callers must not be able
/// to tell a wrong secret from a malformed signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadSignature;

impl core::fmt::Display for BadSignature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("bad signature")
    }
}

impl std::error::Error for BadSignature {}

impl Keyring {
    /// Builds a keyring from secrets, the signing secret first. Returns `None` when empty.
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Option<Self> {
        if secrets.is_empty() {
            return None;
        }
        let keys = secrets
            .iter()
            .map(|s| SigningKey::new(s.as_ref()))
            .collect();
        Some(Keyring { keys })
    }

    /// Number of secrets in the ring.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring has at least one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `value + "." + signature` with the signing (first) secret, exactly like
    /// `require('cookie-signature').sign(value, secret)`.
    ///
    /// ```
    /// let ring = sessiongate::signing::Keyring::new(&["tobiiscool"]).unwrap();
    /// assert_eq!(ring.sign("hello"), "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI");
    /// ```
    pub fn sign(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 1 + SIGNATURE_LEN);
        out.push_str(value);
        out.push('.');
        self.append_signature(value, &mut out);
        out
    }

    /// Just the signature part of [`Keyring::sign`].
    pub fn signature(&self, value: &str) -> String {
        let mut out = String::with_capacity(SIGNATURE_LEN);
        self.append_signature(value, &mut out);
        out
    }

    fn append_signature(&self, value: &str, out: &mut String) {
        if let Some(key) = self.keys.first() {
            STANDARD_NO_PAD.encode_string(key.tag(value.as_bytes()), out);
        }
    }

    /// Returns the value of `signed` when its signature verifies with any secret of the ring,
    /// with the same verdict as `cookie-signature`'s `unsign`: the value is everything before the
    /// last `.`, and the rest must be exactly the unpadded standard base64 of the 32-byte tag
    /// (so padding, URL-safe characters, truncation and trailing garbage are all refused).
    /// The tag comparison is constant-time and every secret is tried, whichever matches.
    ///
    /// ```
    /// let ring = sessiongate::signing::Keyring::new(&["tobiiscool"]).unwrap();
    /// let signed = ring.sign("hello");
    /// assert_eq!(ring.unsign(&signed), Ok("hello"));
    /// assert!(ring.unsign("hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QJ").is_err());
    /// ```
    pub fn unsign<'a>(&self, signed: &'a str) -> Result<&'a str, BadSignature> {
        self.verify(signed).map(|(value, _)| value)
    }

    /// [`Keyring::unsign`], also saying which secret verified: its position in the ring (0 is
    /// the signing secret). The position is chosen in constant time too.
    ///
    /// ```
    /// let old = sessiongate::signing::Keyring::new(&["old-secret"]).unwrap();
    /// let ring = sessiongate::signing::Keyring::new(&["new-secret", "old-secret"]).unwrap();
    /// assert_eq!(ring.verify(&old.sign("hello")), Ok(("hello", 1)));
    /// assert_eq!(ring.verify(&ring.sign("hello")), Ok(("hello", 0)));
    /// ```
    pub fn verify<'a>(&self, signed: &'a str) -> Result<(&'a str, usize), BadSignature> {
        let (value, signature) = signed.rsplit_once('.').ok_or(BadSignature)?;
        if signature.len() != SIGNATURE_LEN {
            return Err(BadSignature);
        }
        let mut tag = [0u8; 32];
        // The decoder refuses non-canonical trailing bits, so only one text maps to each tag,
        // which keeps the verdict identical to cookie-signature's string comparison.
        match STANDARD_NO_PAD.decode_slice(signature, &mut tag) {
            Ok(32) => {}
            _ => return Err(BadSignature),
        }
        let mut matched = Choice::from(0);
        let mut position = 0u32;
        for (i, key) in (0u32..).zip(&self.keys) {
            let this = key.tag(value.as_bytes()).ct_eq(&tag);
            // The first secret that matches is the one reported.
            position.conditional_assign(&i, this & !matched);
            matched |= this;
        }
        match (bool::from(matched), usize::try_from(position)) {
            (true, Ok(position)) => Ok((value, position)),
            _ => Err(BadSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(secrets: &[&str]) -> Keyring {
        Keyring::new(secrets).unwrap()
    }

    // The vectors of cookie-signature's own test suite.
    #[test]
    fn cookie_signature_known_answers() {
        let r = ring(&["tobiiscool"]);
        assert_eq!(
            r.sign("hello"),
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI"
        );
        assert_eq!(
            r.unsign("hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI"),
            Ok("hello")
        );
        assert_eq!(
            ring(&["luna"]).unsign("hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI"),
            Err(BadSignature)
        );
    }

    // RFC 4231 test case 2 (key "Jefe"), rendered in cookie-signature's encoding.
    #[test]
    fn rfc4231_case_2() {
        let key = SigningKey::new(b"Jefe");
        let tag = key.tag(b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let signed = ring(&["Jefe"]).sign("what do ya want for nothing?");
        assert_eq!(
            signed,
            format!(
                "what do ya want for nothing?.{}",
                STANDARD_NO_PAD.encode(tag)
            )
        );
    }

    // RFC 4231 test case 6: a key longer than the block size is hashed first.
    #[test]
    fn rfc4231_case_6_long_key() {
        let key = SigningKey::new(&[0xaa; 131]);
        let tag = key.tag(b"Test Using Larger Than Block-Size Key - Hash Key First");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rotation_first_signs_all_verify() {
        let old = ring(&["old-secret"]);
        let rotated = ring(&["new-secret", "old-secret"]);
        let by_old = old.sign("id123");
        assert_eq!(rotated.unsign(&by_old), Ok("id123"));
        let by_new = rotated.sign("id123");
        assert!(by_new.starts_with("id123."));
        assert_eq!(ring(&["new-secret"]).unsign(&by_new), Ok("id123"));
        assert_eq!(old.unsign(&by_new), Err(BadSignature));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let r = ring(&["tobiiscool"]);
        let good = "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI";
        for bad in [
            "hello",
            "hello.",
            ".DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5Q",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI=",
            "hello.DGDUkGlIkCzPz-C0B064FNgHdEjox7ch8tOBGslZ5QI",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QIx",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QJ",
            " hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI ",
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI.",
        ] {
            assert_eq!(r.unsign(bad), Err(BadSignature), "{bad:?}");
        }
        assert_eq!(r.unsign(good), Ok("hello"));
    }

    #[test]
    fn value_may_contain_dots_the_last_one_splits() {
        let r = ring(&["s3cr3t"]);
        let signed = r.sign("a.b.c");
        assert_eq!(r.unsign(&signed), Ok("a.b.c"));
    }

    #[test]
    fn debug_hides_keys() {
        let r = ring(&["super-secret-value"]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("super"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
