//! Session record decoding on arbitrary bytes: no panic, only well-formed records pass, and a
//! decoded record survives encode → decode unchanged (what a refresh writes back to KV).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiongate::session::{
    is_valid_user, RecordError, SessionRecord, MAX_RECORD_LEN, RECORD_VERSION,
};

use sessiongate::json::{once, read_object, JsonObject, Reader};

/// The reference: serde_json's derived decoding, which `json::read_object` replaces.
#[derive(serde::Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Strict {
    a: String,
    b: Option<u64>,
}

fn read_strict(text: &str) -> Option<Strict> {
    let (mut a, mut b) = (None, None);
    read_object(text, |name, value| match name {
        "a" => once(&mut a, value.string()),
        "b" => once(&mut b, value.nullable(Reader::u64)),
        _ => None,
    })?;
    Some(Strict { a: a?, b: b.flatten() })
}

fuzz_target!(|bytes: &[u8]| {
    let starts_with_brace = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    // The reader accepts only objects (never an array of the fields, a scalar or trailing text),
    // and reads a struct exactly as serde_json's derived decoding does.
    let reference = serde_json::from_str::<Strict>(text).ok().filter(|_| starts_with_brace);
    assert_eq!(read_strict(text), reference, "{text:?}");

    // JsonObject: exactly one JSON object, kept verbatim (so re-parsing its text gives it back).
    if let Some(object) = JsonObject::parse(text) {
        assert!(starts_with_brace);
        assert_eq!(
            object.as_str(),
            text.trim_matches(|c: char| c.is_ascii_whitespace())
        );
        // Valid JSON grammar. Known differences from serde_json::Value, which text-kept data
        // carries through as written: a number beyond f64's range (`{"n":5e555}`) and an
        // unpaired surrogate escape (`"\uda12"`).
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => assert!(value.is_object()),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.starts_with("number out of range")
                        || message.contains("hex escape")
                        || message.contains("surrogate")
                        // serde_json::Value stops at 128 levels of nesting; JsonObject follows
                        // any depth, without recursion.
                        || message.starts_with("recursion limit exceeded"),
                    "{message}"
                );
            }
        }
        assert_eq!(JsonObject::parse(object.as_str()).as_ref(), Some(&object));
    }
    match SessionRecord::decode(text) {
        Ok(record) => {
            assert!(starts_with_brace);
            assert!(text.len() <= MAX_RECORD_LEN);
            assert_eq!(record.v, RECORD_VERSION);
            assert!(is_valid_user(&record.user));
            let encoded = record.encode();
            let decoded = SessionRecord::decode(&encoded);
            assert_eq!(
                decoded.as_ref(),
                Ok(&record),
                "decode(encode(r)) != r for {encoded}"
            );
            if let Ok(decoded) = decoded {
                assert_eq!(decoded.encode(), encoded, "encoding is not stable");
            }
        }
        Err(RecordError::TooLarge) => assert!(text.len() > MAX_RECORD_LEN),
        Err(RecordError::Malformed | RecordError::UnsupportedVersion) => {}
    }
});
