//! Assertion verification on arbitrary tokens, mint → verify round trips, and tampering.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessiongate::assertion::{AssertionError, AssertionKey, Claims, ISSUER};

/// `assertion::MAX_TOKEN_LEN` (private): longer tokens are refused as malformed.
const MAX_TOKEN_LEN: usize = 8192;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: &'a [u8],
    token: &'a str,
    now: u64,
    skew: u16,
    sub: String,
    sid: String,
    iat: u64,
    lifetime: u32,
    data: Option<Vec<(String, Data)>>,
    edit: Option<(u16, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Data {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    List(Vec<i32>),
}

impl Data {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Data::Null => Value::Null,
            Data::Bool(b) => Value::Bool(*b),
            Data::Int(i) => Value::from(*i),
            Data::Unsigned(u) => Value::from(*u),
            // Non-finite numbers have no JSON form (serde_json writes null).
            Data::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Data::Text(s) => Value::from(s.as_str()),
            Data::List(l) => Value::from(l.clone()),
        }
    }
}

fn check_verdict(verdict: &Result<Claims, AssertionError>, now: u64, skew: u64) {
    if let Ok(claims) = verdict {
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.exp > now);
        assert!(claims.iat <= now.saturating_add(skew));
    }
}

fuzz_target!(|input: Input<'_>| {
    let key = AssertionKey::new(input.secret);
    let skew = u64::from(input.skew);

    // Arbitrary tokens: never a panic, and nothing invalid passes.
    let verdict = key.verify(input.token, input.now, skew);
    check_verdict(&verdict, input.now, skew);

    // mint → verify gives the claims back while they are valid.
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: input.sub,
        aud: None,
        sid: input.sid,
        iat: input.iat,
        exp: input.iat.saturating_add(u64::from(input.lifetime)),
        data: input.data.and_then(|entries| {
            let map: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            sessiongate::json::JsonObject::parse(&serde_json::Value::Object(map).to_string())
        }),
    };
    let token = key.mint(&claims);
    let now = input.iat;
    let verdict = key.verify(&token, now, skew);
    check_verdict(&verdict, now, skew);
    // Claims the gateway can mint (user <= 256 bytes, a 22-character handle, data <= 2048 bytes)
    // always fit the verifier's 8 KiB token limit; larger ones are refused before any work.
    let within_gateway_bounds = claims.sub.len() <= 256
        && claims.sid.len() <= 22
        && claims
            .data
            .as_ref()
            .is_none_or(|d| d.as_str().len() <= 2048);
    if within_gateway_bounds {
        assert!(token.len() <= MAX_TOKEN_LEN, "{} bytes", token.len());
    }
    if token.len() > MAX_TOKEN_LEN {
        assert_eq!(verdict, Err(AssertionError::Malformed));
    } else if claims.exp > now {
        assert_eq!(
            verdict.as_ref(),
            Ok(&claims),
            "round trip failed for {token}"
        );
    } else {
        assert_eq!(verdict, Err(AssertionError::Expired));
    }

    // Any change to the token is refused (a different text never verifies under the same key).
    if let Some((at, byte)) = input.edit {
        let mut bytes = token.clone().into_bytes();
        let i = usize::from(at) % bytes.len();
        bytes[i] = byte;
        if let Ok(tampered) = String::from_utf8(bytes) {
            let verdict = key.verify(&tampered, now, skew);
            if tampered == token {
                check_verdict(&verdict, now, skew);
            } else {
                assert!(verdict.is_err(), "accepted tampered token {tampered}");
            }
        }
    }
});
