//! JSON for the few structures the gateway reads and writes: a strict reader of objects into
//! typed fields, JSON objects kept as their exact text, and a writer of flat objects.
//!
//! Written here rather than with serde's derived `Deserialize`: serde_json's deserializer formats
//! its type errors with core's float formatting, about 8 KB of the Worker's gzipped Wasm, though the
//! gateway never reads a float. The reader accepts what serde_json's derived decoding of these
//! structures accepted and refuses what it refused (`tests/json_reader.rs` holds it to that,
//! differentially, on generated and mutated inputs). Writing stays with serde_json.

use std::borrow::Cow;

/// A JSON object kept as its exact text: validated when read, written back verbatim, never parsed
/// into values. Session data goes from the login instruction to KV to the assertion byte for byte
/// (numbers included), and no number parser or map is needed to carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonObject(String);

impl JsonObject {
    /// `text` when it is one JSON object (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Option<Self> {
        let mut reader = Reader::new(text);
        let object = reader.object_text()?;
        reader.end()?;
        Some(object)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads `text` as one JSON object (surrounding whitespace allowed), calling `member` with each
/// member's name and a reader at its value. `member` reads the value, skips it
/// ([`Reader::skip`]), or refuses the object by answering `None`.
///
/// Only an object: serde's derived structs also took an array of their fields in order, so
/// `["alice"]` would have read as `{"user":"alice"}`; every structure the gateway reads is defined
/// as an object. A name given twice is refused by [`once`], which every reader of a field uses.
pub fn read_object<'a>(
    text: &'a str,
    member: impl FnMut(&str, &mut Reader<'a>) -> Option<()>,
) -> Option<()> {
    let mut reader = Reader::new(text);
    reader.object(member)?;
    reader.end()
}

/// Stores a field's value in `slot` the first time its name is seen. A second occurrence of the
/// name, or a value that did not read, refuses the object.
pub fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

/// `text` when it is a JSON array of strings (surrounding whitespace allowed).
pub fn string_array(text: &str) -> Option<Vec<String>> {
    let mut reader = Reader::new(text);
    let strings = reader.strings()?;
    reader.end()?;
    Some(strings)
}

/// A cursor over JSON text. Every read skips the whitespace before its value, checks the grammar
/// of RFC 8259 and answers `None` for anything else: it never panics, and nesting (in skipped
/// values) is followed with a stack on the heap, not by recursion.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next_byte()? == expected).then_some(())
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return: not form feed).
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Only whitespace is left.
    fn end(mut self) -> Option<()> {
        self.whitespace();
        (self.pos == self.text.len()).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.get(self.pos..)?;
        rest.starts_with(word).then(|| self.pos += word.len())
    }

    /// `null`, or the value `read` reads: `Some(None)` for null, `None` when neither reads.
    pub fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.whitespace();
        if self.peek() == Some(b'n') {
            self.literal("null").map(|()| None)
        } else {
            read(self).map(Some)
        }
    }

    /// Whether the next value is an array.
    pub fn at_array(&mut self) -> bool {
        self.whitespace();
        self.peek() == Some(b'[')
    }

    /// `true` or `false`.
    pub fn bool(&mut self) -> Option<bool> {
        self.whitespace();
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => None,
        }
    }

    /// A whole number from 0 to `u64::MAX` written as plain digits: a sign, a fraction or an
    /// exponent (`1.0`, `1e3`, `-0`) makes it a float, which no field of the gateway is.
    pub fn u64(&mut self) -> Option<u64> {
        self.whitespace();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            if self.pos > start && value == 0 {
                return None; // a leading zero
            }
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.pos += 1;
        }
        let is_float = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (self.pos > start && !is_float).then_some(value)
    }

    /// [`Reader::u64`] within `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    /// A string, its escapes decoded.
    pub fn string(&mut self) -> Option<String> {
        self.str().map(Cow::into_owned)
    }

    /// A string, borrowed from the text when it has no escapes. A `\u` escape of half a
    /// surrogate pair without its other half is refused: it is no character.
    fn str(&mut self) -> Option<Cow<'a, str>> {
        self.whitespace();
        self.eat(b'"')?;
        let text = self.text;
        let start = self.pos;
        let mut decoded: Option<String> = None;
        let mut chunk_start = start;
        loop {
            match self.next_byte()? {
                b'"' => {
                    let chunk = text.get(chunk_start..self.pos - 1)?;
                    return Some(match decoded {
                        None => Cow::Borrowed(chunk),
                        Some(mut string) => {
                            string.push_str(chunk);
                            Cow::Owned(string)
                        }
                    });
                }
                b'\\' => {
                    let string = decoded.get_or_insert_with(String::new);
                    string.push_str(text.get(chunk_start..self.pos - 1)?);
                    string.push(self.escape()?);
                    chunk_start = self.pos;
                }
                0x00..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Option<char> {
        Some(match self.next_byte()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        self.literal("\\u")?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code)?
                    }
                    _ => char::from_u32(unit)?, // a lone low surrogate is not a char: None
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos.checked_add(4)?)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// Skips a string, checking its escapes as JSON text (a lone surrogate escape is valid JSON
    /// text, kept as it is in session data).
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            match self.next_byte()? {
                b'"' => return Some(()),
                b'\\' => match self.next_byte()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        self.hex4()?;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// Skips a number: `-`, then `0` or digits not starting with `0`, then optionally a
    /// fraction and an exponent.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next_byte()? {
            b'0' => {}
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.expect_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.expect_digits()?;
        }
        Some(())
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn expect_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.skip_digits();
        (self.pos > start).then_some(())
    }

    /// Skips one value of any kind, checking it.
    pub fn skip(&mut self) -> Option<()> {
        // The closing bracket of each array and object entered and not yet left.
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value.
            self.whitespace();
            match self.peek()? {
                bracket @ (b'{' | b'[') => {
                    self.pos += 1;
                    self.whitespace();
                    let closer = if bracket == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(closer) {
                        self.pos += 1;
                    } else {
                        if closer == b'}' {
                            self.name_and_colon()?;
                        }
                        open.push(closer);
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                _ => self.skip_number()?,
            }
            // After a value: close what ends here, then a comma leads to the next value.
            loop {
                let Some(&closer) = open.last() else {
                    return Some(());
                };
                self.whitespace();
                match self.next_byte()? {
                    b',' => {
                        if closer == b'}' {
                            self.name_and_colon()?;
                        }
                        break;
                    }
                    byte if byte == closer => {
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    fn name_and_colon(&mut self) -> Option<()> {
        self.whitespace();
        self.skip_string()?;
        self.whitespace();
        self.eat(b':')
    }

    /// An object, kept as its text.
    pub fn object_text(&mut self) -> Option<JsonObject> {
        self.whitespace();
        let start = self.pos;
        if self.peek() != Some(b'{') {
            return None;
        }
        self.skip()?;
        Some(JsonObject(self.text.get(start..self.pos)?.to_owned()))
    }

    /// An array of strings.
    pub fn strings(&mut self) -> Option<Vec<String>> {
        self.whitespace();
        self.eat(b'[')?;
        let mut strings = Vec::new();
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(strings);
        }
        loop {
            strings.push(self.string()?);
            self.whitespace();
            match self.next_byte()? {
                b',' => {}
                b']' => return Some(strings),
                _ => return None,
            }
        }
    }

    /// An object, each member given to `member` (see [`read_object`]).
    pub fn object(
        &mut self,
        mut member: impl FnMut(&str, &mut Reader<'a>) -> Option<()>,
    ) -> Option<()> {
        self.whitespace();
        self.eat(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        loop {
            let name = self.str()?;
            self.whitespace();
            self.eat(b':')?;
            member(&name, self)?;
            self.whitespace();
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }
}

/// Writes a JSON object member by member, in the order given.
pub struct ObjectWriter(String);

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> Self {
        ObjectWriter(String::from("{"))
    }

    fn name(&mut self, name: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_string(&mut self.0, name);
        self.0.push(':');
        &mut self.0
    }

    /// A string member.
    pub fn string(mut self, name: &str, value: &str) -> Self {
        push_string(self.name(name), value);
        self
    }

    /// A whole-number member.
    pub fn u64(mut self, name: &str, value: u64) -> Self {
        self.name(name).push_str(&value.to_string());
        self
    }

    /// A `true` member.
    pub fn flag(mut self, name: &str) -> Self {
        self.name(name).push_str("true");
        self
    }

    /// A member whose value is JSON text already.
    pub fn json(mut self, name: &str, value: &str) -> Self {
        self.name(name).push_str(value);
        self
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// `values` as a JSON array of strings.
pub fn strings_text(values: &[String]) -> String {
    let mut array = String::from("[");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        push_string(&mut array, value);
    }
    array.push(']');
    array
}

/// `value` as a JSON string, escaped as serde_json escapes it.
pub fn push_string(out: &mut String, value: &str) {
    // Serializing a string cannot fail.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_are_kept_verbatim() {
        let text = r#"{ "n": -1.5715450039294425e202, "big": 123456789012345678901234567890, "s": "\u00e9", "deep": [[{"a":[]}],{}] }"#;
        let object = JsonObject::parse(text).unwrap();
        assert_eq!(object.as_str(), text.trim());
        assert_eq!(JsonObject::parse(&format!(" \n{text}\t")), Some(object));
        for not_an_object in [
            "[1]",
            "1",
            "\"x\"",
            "null",
            "{",
            "{} {}",
            "",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":[1,]}",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\" 1}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":tru}",
            "{\"a\":[}",
            "{\"a\":{]}",
            "\u{c}{}",
        ] {
            assert!(
                JsonObject::parse(not_an_object).is_none(),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_followed_without_recursion() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(JsonObject::parse(&deep).is_some());
        let unclosed = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(JsonObject::parse(&unclosed).is_none());
    }

    #[derive(Debug, PartialEq)]
    struct Pair {
        a: u64,
        b: Option<u64>,
    }

    fn pair(text: &str) -> Option<Pair> {
        let (mut a, mut b) = (None, None);
        read_object(text, |name, value| match name {
            "a" => once(&mut a, value.u64()),
            "b" => once(&mut b, value.nullable(Reader::u64)),
            _ => None,
        })?;
        Some(Pair {
            a: a?,
            b: b.flatten(),
        })
    }

    #[test]
    fn objects_only_each_name_once() {
        assert_eq!(pair(r#"{"a":1,"b":2}"#), Some(Pair { a: 1, b: Some(2) }));
        assert_eq!(pair(" \n{\"a\":3}"), Some(Pair { a: 3, b: None }));
        assert_eq!(
            pair(r#"{"\u0061":3,"b":null}"#),
            Some(Pair { a: 3, b: None })
        );
        for refused in [
            "[1,2]",
            "[1]",
            "1",
            r#"{"a":1} x"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"b":null,"b":2}"#,
            r#"{"a":1,"c":2}"#,
            r#"{"b":2}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.0}"#,
            r#"{"a":1e3}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":"1"}"#,
            r#"{"a":01}"#,
        ] {
            assert_eq!(pair(refused), None, "{refused}");
        }
        assert_eq!(
            pair(r#"{"a":18446744073709551615}"#).map(|p| p.a),
            Some(u64::MAX)
        );
    }

    #[test]
    fn strings_decode_escapes_and_refuse_lone_surrogates() {
        let read = |text: &str| Reader::new(text).string();
        assert_eq!(read(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(
            read(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#).as_deref(),
            Some("a\"b\\c/d\u{8}\u{c}\n\r\té😀")
        );
        assert_eq!(read("\"Zürich 日本\"").as_deref(), Some("Zürich 日本"));
        for refused in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\u12""#,
            "\"a",
        ] {
            assert_eq!(read(refused), None, "{refused}");
        }
        assert_eq!(
            string_array(r#" ["a", "\u0062"] "#),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(string_array("[]"), Some(vec![]));
        for refused in [
            "[",
            "[1]",
            "[\"a\",]",
            "[\"a\" \"b\"]",
            "\"a\"",
            "[\"a\"] x",
        ] {
            assert_eq!(string_array(refused), None, "{refused}");
        }
    }

    #[test]
    fn writes_objects_in_order_with_escaped_strings() {
        let text = ObjectWriter::new()
            .string("user", "al\"ice\u{1}")
            .u64("n", 7)
            .json("data", r#"{"x":[1]}"#)
            .flag("imported")
            .finish();
        assert_eq!(
            text,
            r#"{"user":"al\"ice\u0001","n":7,"data":{"x":[1]},"imported":true}"#
        );
        assert_eq!(ObjectWriter::new().finish(), "{}");
        let strings = vec!["a".to_owned(), "\"b\"".to_owned()];
        assert_eq!(strings_text(&strings), r#"["a","\"b\""]"#);
        assert_eq!(string_array(&strings_text(&strings)), Some(strings));
        assert_eq!(strings_text(&[]), "[]");
    }
}
