//! Strict JSON decoding of objects.

use serde::de::DeserializeOwned;

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
    use super::from_object;

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
