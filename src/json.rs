//! Strict JSON decoding of objects, and JSON objects kept as text.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON object kept as its exact text: validated when decoded, written back verbatim, never
/// parsed into values. Session data goes from the login instruction to KV to the assertion byte
/// for byte (numbers included), and no float parser or map is needed to carry it.
#[derive(Clone, Debug)]
pub struct JsonObject(Box<RawValue>);

impl JsonObject {
    /// `text` when it is one JSON object (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Option<Self> {
        let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Box<RawValue>) -> Option<Self> {
        raw.get().starts_with('{').then_some(JsonObject(raw))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for JsonObject {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for JsonObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        JsonObject::from_raw(raw).ok_or_else(|| D::Error::custom("expected a JSON object"))
    }
}

/// Decodes `text` into `T` only when it is a JSON object.
///
/// Structs derived with serde also accept a JSON array of their fields in order, so
/// `["alice"]` would otherwise decode as `{"user":"alice"}`. Every structure the gateway reads
/// (login instructions, session records, assertion claims and headers) is defined as an object.
/// Decoding the struct directly (not through `serde_json::Value`) keeps its refusal of duplicate
/// keys, which would otherwise be resolved silently in favour of the last one.
pub fn from_object<T: DeserializeOwned>(text: &[u8]) -> Option<T> {
    let starts_an_object = text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !starts_an_object {
        return None;
    }
    serde_json::from_slice(text).ok()
}

#[cfg(test)]
mod tests {
    use super::{from_object, JsonObject};

    #[test]
    fn json_objects_are_kept_verbatim() {
        let text = r#"{ "n": -1.5715450039294425e202, "big": 123456789012345678901234567890, "s": "\u00e9" }"#;
        let object = JsonObject::parse(text).unwrap();
        assert_eq!(object.as_str(), text.trim());
        assert_eq!(serde_json::to_string(&object).unwrap(), text);
        for not_an_object in ["[1]", "1", "\"x\"", "null", "{", "{} {}", ""] {
            assert!(
                JsonObject::parse(not_an_object).is_none(),
                "{not_an_object}"
            );
        }
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Pair {
        a: u8,
        b: Option<u8>,
    }

    #[test]
    fn objects_only() {
        assert_eq!(
            from_object::<Pair>(br#"{"a":1,"b":2}"#),
            Some(Pair { a: 1, b: Some(2) })
        );
        assert_eq!(from_object::<Pair>(b"[1,2]"), None);
        assert_eq!(from_object::<Pair>(b"[1]"), None);
        assert_eq!(from_object::<Pair>(b"1"), None);
        assert_eq!(
            from_object::<Pair>(b" \n{\"a\":3}"),
            Some(Pair { a: 3, b: None })
        );
        assert_eq!(from_object::<Pair>(br#"{"a":1} x"#), None);
        assert_eq!(from_object::<Pair>(br#"{"a":1,"a":2}"#), None);
    }
}
