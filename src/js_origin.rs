//! JavaScript bindings of the assertion (feature `js-origin`), for the npm package's
//! `sessiongate/origin` and `sessiongate/express` entries: a Node (or any JavaScript) origin
//! verifies the gateway's HS256 assertion with the same Rust code that mints it. A module of its
//! own so the cookie primitives' Wasm carries no JSON parser.

use wasm_bindgen::prelude::*;

use crate::assertion::{AssertionKey, Claims};
use crate::config::MIN_SECRET_LEN;

/// Verifies and mints the gateway's HS256 assertions with one prepared key.
#[wasm_bindgen]
pub struct AssertionVerifier {
    key: AssertionKey,
    /// Expected audiences (none: `aud` is not checked).
    audiences: Vec<String>,
}

#[wasm_bindgen]
impl AssertionVerifier {
    /// Refuses secrets shorter than the gateway accepts, so a misconfigured origin fails loudly.
    #[wasm_bindgen(constructor)]
    pub fn new(secret: &[u8]) -> Result<AssertionVerifier, String> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the assertion secret must be at least {MIN_SECRET_LEN} bytes, got {}",
                secret.len()
            ));
        }
        Ok(AssertionVerifier {
            key: AssertionKey::new(secret),
            audiences: Vec::new(),
        })
    }

    /// Adds an expected audience: from then on the token's `aud` must name one of them.
    #[wasm_bindgen(js_name = expectAudience)]
    pub fn expect_audience(&mut self, audience: &str) {
        self.audiences.push(audience.to_owned());
    }

    /// The claims as JSON text, or an error code (`malformed`, `bad_signature`, `expired`,
    /// `not_yet_valid`, `wrong_issuer`, `wrong_audience`). With expected audiences, the token's
    /// `aud` must name one of them.
    pub fn verify(&self, token: &str, now_s: f64, skew_s: f64) -> Result<String, String> {
        let claims = self
            .key
            .verify_for_audience(token, seconds(now_s), seconds(skew_s), &self.audiences)
            .map_err(|e| e.code().to_owned())?;
        Ok(claims.encode())
    }

    /// Mints a token from claims JSON (`iss`, `sub`, `sid`, `iat`, `exp`, optional `aud` and
    /// `data`).
    pub fn mint(&self, claims_json: &str) -> Result<String, String> {
        let claims = Claims::decode(claims_json)
            .ok_or_else(|| "claims must be an object with iss, sub, sid, iat and exp".to_owned())?;
        Ok(self.key.mint(&claims))
    }
}

/// Whole seconds from a JavaScript number; negative and non-finite values become 0.
fn seconds(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // A float-to-int `as` saturates: values beyond u64 become u64::MAX.
        value.floor() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_from_js_numbers() {
        assert_eq!(seconds(-1.0), 0);
        assert_eq!(seconds(f64::INFINITY), 0);
        assert_eq!(seconds(f64::NAN), 0);
        assert_eq!(seconds(12.9), 12);
    }

    #[test]
    fn assertion_round_trip_and_short_secret() {
        assert!(AssertionVerifier::new(b"short").is_err());
        let verifier = AssertionVerifier::new(&[7u8; 32]).unwrap();
        let token = verifier
            .mint(r#"{"iss":"sessiongate","sub":"alice","sid":"h","iat":100,"exp":200}"#)
            .unwrap();
        let claims = verifier.verify(&token, 150.0, 0.0).unwrap();
        assert!(claims.contains(r#""sub":"alice""#));
        assert_eq!(verifier.verify(&token, 200.0, 0.0), Err("expired".into()));
        assert_eq!(
            verifier.verify("x.y.z", 150.0, 0.0),
            Err("malformed".into())
        );
        assert!(verifier.mint("[]").is_err());

        let mut for_api = AssertionVerifier::new(&[7u8; 32]).unwrap();
        for_api.expect_audience("api");
        assert_eq!(
            for_api.verify(&token, 150.0, 0.0),
            Err("wrong_audience".into())
        );
        let with_aud = for_api
            .mint(r#"{"iss":"sessiongate","sub":"a","aud":["web","api"],"sid":"h","iat":100,"exp":200}"#)
            .unwrap();
        let claims = for_api.verify(&with_aud, 150.0, 0.0).unwrap();
        assert!(claims.contains(r#""aud":["web","api"]"#));
    }
}
