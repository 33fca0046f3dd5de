//! `Cookie` header parsing on arbitrary text: parse, find and remove agree with each other, and
//! the `encodeURIComponent` / `decodeURIComponent` pair round-trips.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessiongate::cookie::{
    decode_uri_component, encode_uri_component, find_cookie, parse_cookie_header, remove_cookie,
};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    /// A cookie name to look up and remove; often one the header contains (see below).
    name: &'a str,
    /// Pick the name from the header's own pairs instead (by index), which is where bugs hide.
    pick: Option<u8>,
}

fuzz_target!(|input: Input<'_>| {
    let header = input.header;
    let parsed = parse_cookie_header(header);

    // First occurrence wins: names are unique, and find_cookie agrees with every parsed pair.
    for (i, (name, value)) in parsed.iter().enumerate() {
        assert!(
            parsed.iter().skip(i + 1).all(|(other, _)| other != name),
            "duplicate name {name:?} in parse result"
        );
        assert_eq!(
            find_cookie(header, name).as_deref(),
            Some(value.as_str()),
            "find_cookie disagrees with parse_cookie_header for {name:?}"
        );
    }

    let name = match input.pick {
        Some(i) if !parsed.is_empty() => parsed
            .get(usize::from(i) % parsed.len())
            .map_or(input.name, |(n, _)| n.as_str()),
        _ => input.name,
    };
    let expected = parsed
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    assert_eq!(find_cookie(header, name).as_deref(), expected);

    // remove_cookie drops every pair called `name` and keeps every other pair's first value.
    match remove_cookie(header, name) {
        Some(rest) => {
            assert!(
                find_cookie(&rest, name).is_none(),
                "{name:?} still present after removal: {rest:?}"
            );
            let reparsed = parse_cookie_header(&rest);
            let mut others: Vec<_> = parsed.iter().filter(|(n, _)| n != name).collect();
            // jshttp/cookie reads nothing from a header shorter than `a=`: a lone `=` left over
            // is an empty cookie there, and none at all once it is the whole header.
            if rest.len() < 2 {
                others.clear();
            }
            assert_eq!(reparsed.iter().collect::<Vec<_>>(), others);
        }
        None => assert!(
            parsed.iter().all(|(n, _)| n == name),
            "remove_cookie dropped other cookies"
        ),
    }

    // encode → decode is the identity, and decoding is stable once re-encoded.
    let encoded = encode_uri_component(header);
    assert_eq!(decode_uri_component(&encoded).as_deref(), Some(header));
    if let Some(decoded) = decode_uri_component(header) {
        let again = encode_uri_component(&decoded);
        assert_eq!(decode_uri_component(&again).as_deref(), Some(&*decoded));
        // Without a `%`, decoding changes nothing.
        if !header.contains('%') {
            assert_eq!(&*decoded, header);
        }
    }
});
