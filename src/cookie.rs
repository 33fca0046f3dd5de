//! `Cookie` request header parsing, and the URI-component coding cookie values use.
//!
//! Parsing follows `jshttp/cookie` 0.7 (what express-session uses), which matches browsers:
//! pairs split on `;`, a pair without `=` is skipped, the first `=` splits name from value,
//! spaces and tabs around both are trimmed, one pair of surrounding double quotes is removed,
//! the value is percent-decoded like `decodeURIComponent` and kept raw when that fails, and the
//! first occurrence of a name wins. Work is linear in the header length and allocates only for
//! the values it returns.

use std::borrow::Cow;

/// One `name=value` pair of a `Cookie` header, as written (not yet decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RawPair<'a> {
    name: &'a str,
    value: &'a str,
}

fn trim_sp_tab(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Iterates the pairs of a `Cookie` header in order, duplicates included.
fn raw_pairs(header: &str) -> impl Iterator<Item = RawPair<'_>> {
    // jshttp/cookie returns nothing for a header shorter than `a=`, which only matters for `=`.
    let header = if header.len() < 2 { "" } else { header };
    header.split(';').filter_map(|segment| {
        let (name, value) = segment.split_once('=')?;
        let value = trim_sp_tab(value);
        let value = match value.strip_prefix('"') {
            // `"` alone becomes the empty string, as in jshttp/cookie.
            Some("") => "",
            Some(rest) => rest.strip_suffix('"').map_or(value, |inner| inner),
            None => value,
        };
        Some(RawPair {
            name: trim_sp_tab(name),
            value,
        })
    })
}

/// Decodes `%XX` escapes like JavaScript's `decodeURIComponent`: `+` stays `+`, and the result must
/// be valid UTF-8. Returns `None` where `decodeURIComponent` would throw.
pub fn decode_uri_component(input: &str) -> Option<Cow<'_, str>> {
    if !input.contains('%') {
        return Some(Cow::Borrowed(input));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let (hex, after) = match tail {
                [h, l, after @ ..] => ((*h, *l), after),
                _ => return None,
            };
            out.push(hex_value(hex.0)? << 4 | hex_value(hex.1)?);
            rest = after;
        } else {
            out.push(first);
            rest = tail;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Encodes like JavaScript's `encodeURIComponent` (what express-session uses for cookie values):
/// everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` becomes `%XX` of its UTF-8 bytes.
pub fn encode_uri_component(input: &str) -> String {
    fn hex_digit(nibble: u8) -> char {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        })
    }
    let mut out = String::with_capacity(input.len() + 8);
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
    }
    out
}

fn decoded(value: &str) -> Cow<'_, str> {
    decode_uri_component(value).unwrap_or(Cow::Borrowed(value))
}

/// All cookies of a header as `(name, decoded value)`, first occurrence of each name only,
/// in header order; the same result as `require('cookie').parse(header)`.
///
/// ```
/// let cookies = sessiongate::cookie::parse_cookie_header("a=1; b=\"x%20y\"; a=2");
/// assert_eq!(cookies, vec![("a".to_string(), "1".to_string()), ("b".to_string(), "x y".to_string())]);
/// ```
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    // A set of the names seen keeps this O(n log n) for a header of many distinct names (a linear
    // scan of the result made it quadratic). A B-tree, not a hash set: Wasm has no random hash
    // seed, and a fixed seed lets a client choose colliding names.
    let mut seen = std::collections::BTreeSet::new();
    raw_pairs(header)
        .filter(|pair| seen.insert(pair.name))
        .map(|pair| (pair.name.to_owned(), decoded(pair.value).into_owned()))
        .collect()
}

/// The decoded value of the first cookie called `name`, without building the whole map.
///
/// ```
/// use sessiongate::cookie::find_cookie;
/// assert_eq!(find_cookie("sid=s%3Aabc.def; sid=other", "sid").as_deref(), Some("s:abc.def"));
/// assert_eq!(find_cookie("other=1", "sid"), None);
/// ```
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    raw_pairs(header)
        .find(|pair| pair.name == name)
        .map(|pair| decoded(pair.value))
}

/// The header without any pair called `name` (all occurrences), other pairs kept as written.
/// Returns `None` when nothing is left.
///
/// ```
/// use sessiongate::cookie::remove_cookie;
/// assert_eq!(remove_cookie("a=1; sid=x; b=2; sid=y", "sid").as_deref(), Some("a=1; b=2"));
/// assert_eq!(remove_cookie("sid=x", "sid"), None);
/// ```
pub fn remove_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .filter(|segment| {
            let segment_name = segment.split_once('=').map(|(n, _)| trim_sp_tab(n));
            segment_name != Some(name)
        })
        .map(trim_sp_tab)
        .filter(|segment| !segment.is_empty())
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

/// Whether `name` is a valid cookie name (an RFC 6265 / RFC 7230 token).
pub fn is_valid_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(header: &str) -> Vec<(&'static str, String)> {
        parse_cookie_header(header)
            .into_iter()
            .map(|(n, v)| (&*Box::leak(n.into_boxed_str()), v))
            .collect()
    }

    #[test]
    fn basic_pairs_and_trimming() {
        assert_eq!(
            parsed(" a = 1 ;\tb=2\t; c=3"),
            vec![("a", "1".into()), ("b", "2".into()), ("c", "3".into())]
        );
    }

    #[test]
    fn first_occurrence_wins() {
        assert_eq!(
            find_cookie("sid=first; sid=second", "sid").as_deref(),
            Some("first")
        );
        assert_eq!(
            find_cookie("sid=second; sid=first", "sid").as_deref(),
            Some("second")
        );
    }

    #[test]
    fn pairs_without_equals_are_skipped() {
        assert_eq!(
            parsed("junk; a=1; more junk; b=2"),
            vec![("a", "1".into()), ("b", "2".into())]
        );
        assert_eq!(parsed("no equals at all"), vec![]);
        assert_eq!(parsed(""), vec![]);
    }

    #[test]
    fn first_equals_splits_name_and_value() {
        assert_eq!(find_cookie("a=b=c", "a").as_deref(), Some("b=c"));
    }

    #[test]
    fn quotes_are_removed_once() {
        assert_eq!(find_cookie("a=\"x\"", "a").as_deref(), Some("x"));
        assert_eq!(find_cookie("a=\"\"x\"\"", "a").as_deref(), Some("\"x\""));
        assert_eq!(find_cookie("a=\"", "a").as_deref(), Some(""));
        assert_eq!(find_cookie("a=\"x", "a").as_deref(), Some("\"x"));
    }

    #[test]
    fn percent_decoding_like_decode_uri_component() {
        assert_eq!(find_cookie("a=s%3Aabc", "a").as_deref(), Some("s:abc"));
        assert_eq!(find_cookie("a=%2B+%20", "a").as_deref(), Some("++ "));
        assert_eq!(find_cookie("a=%E2%82%AC", "a").as_deref(), Some("€"));
        // Invalid escapes and invalid UTF-8 keep the raw value.
        assert_eq!(find_cookie("a=%zz", "a").as_deref(), Some("%zz"));
        assert_eq!(find_cookie("a=100%", "a").as_deref(), Some("100%"));
        assert_eq!(find_cookie("a=%C0%AF", "a").as_deref(), Some("%C0%AF"));
        assert_eq!(
            find_cookie("a=%ED%A0%80", "a").as_deref(),
            Some("%ED%A0%80")
        );
        // Double encoding decodes once.
        assert_eq!(find_cookie("a=s%253A", "a").as_deref(), Some("s%3A"));
    }

    #[test]
    fn encode_matches_encode_uri_component() {
        assert_eq!(encode_uri_component("s:a+b/c=d"), "s%3Aa%2Bb%2Fc%3Dd");
        assert_eq!(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
        assert_eq!(encode_uri_component("€ ;"), "%E2%82%AC%20%3B");
    }

    #[test]
    fn remove_cookie_keeps_others() {
        assert_eq!(
            remove_cookie("a=1;sid=2;b=3", "sid").as_deref(),
            Some("a=1; b=3")
        );
        assert_eq!(remove_cookie(" sid = 2 ", "sid"), None);
        assert_eq!(remove_cookie("xsid=1", "sid").as_deref(), Some("xsid=1"));
    }

    #[test]
    fn cookie_names() {
        assert!(is_valid_cookie_name("__Host-sessiongate"));
        assert!(is_valid_cookie_name("connect.sid"));
        assert!(!is_valid_cookie_name(""));
        assert!(!is_valid_cookie_name("a b"));
        assert!(!is_valid_cookie_name("a=b"));
        assert!(!is_valid_cookie_name("a;b"));
    }

    #[test]
    fn many_distinct_names_keep_first_occurrences_in_order() {
        // Found by review while fuzzing: first-occurrence tracking scanned the result for every
        // pair, so 10,000 distinct names took 0.26 s (quadratic); now it is a set lookup.
        let names: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        let mut header: String = names.iter().map(|n| format!("{n}=first; ")).collect();
        header.push_str("c0=second; c9999=second");
        let parsed = parse_cookie_header(&header);
        assert_eq!(parsed.len(), names.len());
        assert!(parsed
            .iter()
            .zip(&names)
            .all(|((name, value), expected)| name == expected && value == "first"));
    }

    #[test]
    fn huge_header_is_linear_and_finds_the_cookie() {
        let mut header = "x=1; ".repeat(50_000);
        header.push_str("sid=found");
        assert_eq!(find_cookie(&header, "sid").as_deref(), Some("found"));
    }
}
