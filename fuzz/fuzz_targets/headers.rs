//! Header hygiene, public paths and request URL splitting on arbitrary input.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessiongate::gate::split_request_url;
use sessiongate::headers::{
    fold_name, header_value, is_control_response_header, RequestHeaderPolicy,
};
use sessiongate::paths::{normalize, PublicPaths};

#[derive(Arbitrary, Debug)]
struct Input {
    user_header: String,
    assertion_header: String,
    headers: Vec<(String, String)>,
    /// Name variants: which of the headers to look up, and how to disguise names.
    lookup: String,
    disguise: Disguise,
    public_paths: String,
    path: String,
    url: String,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Disguise {
    Upper,
    Lower,
    Underscores,
    Alternating,
}

fn disguise(name: &str, how: Disguise) -> String {
    match how {
        Disguise::Upper => name.to_ascii_uppercase(),
        Disguise::Lower => name.to_ascii_lowercase(),
        Disguise::Underscores => name.replace('-', "_"),
        Disguise::Alternating => name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect(),
    }
}

/// Names that must never reach the origin, whatever else the request carries (a sample of the
/// README's list: the prefixes, the configured headers, and one of each family).
fn must_be_stripped(folded: &str, policy_names: &[String], connection_listed: &[String]) -> bool {
    folded.starts_with("sessiongate-")
        || folded.starts_with("x-sessiongate-")
        || policy_names.iter().any(|n| n == folded)
        || connection_listed.iter().any(|n| n == folded)
        || [
            "x-user",
            "x-remote-user",
            "x-forwarded-user",
            "x-original-url",
            "x-http-method-override",
        ]
        .contains(&folded)
        || [
            "connection",
            "keep-alive",
            "te",
            "transfer-encoding",
            "upgrade",
        ]
        .contains(&folded)
}

fuzz_target!(|input: Input| {
    // fold_name: stable, and blind to ASCII case and to `_` versus `-`.
    let folded_lookup = fold_name(&input.lookup);
    assert_eq!(
        fold_name(&folded_lookup),
        folded_lookup,
        "fold_name is not idempotent"
    );
    for how in [
        Disguise::Upper,
        Disguise::Lower,
        Disguise::Underscores,
        Disguise::Alternating,
    ] {
        assert_eq!(fold_name(&disguise(&input.lookup, how)), folded_lookup);
        assert_eq!(
            is_control_response_header(&disguise(&input.lookup, how)),
            is_control_response_header(&input.lookup)
        );
    }
    assert_eq!(
        is_control_response_header(&input.lookup),
        folded_lookup.starts_with("sessiongate-") || folded_lookup.starts_with("x-sessiongate-")
    );

    // header_value: the first value whose name matches case-insensitively.
    let lookup_lower = input.lookup.to_ascii_lowercase();
    assert_eq!(
        header_value(&input.headers, &input.lookup),
        input
            .headers
            .iter()
            .find(|(n, _)| n.to_ascii_lowercase() == lookup_lower)
            .map(|(_, v)| v.as_str())
    );

    // sanitize: keeps a subsequence, strips every identity/control/hop-by-hop header in any
    // disguise, decides the same whatever the names' case and separators, and is idempotent.
    let policy = RequestHeaderPolicy::new(&input.user_header, &input.assertion_header);
    let policy_names = [
        fold_name(&input.user_header),
        fold_name(&input.assertion_header),
    ];
    let connection_listed: Vec<String> = input
        .headers
        .iter()
        .filter(|(n, _)| fold_name(n) == "connection")
        .flat_map(|(_, v)| v.split(',').map(|t| fold_name(t.trim())))
        .filter(|t| !t.is_empty())
        .collect();
    let kept = policy.sanitize(input.headers.clone());
    let mut rest = input.headers.iter();
    for header in &kept {
        assert!(
            rest.any(|h| h == header),
            "sanitize reordered or invented {header:?}"
        );
        assert!(
            !must_be_stripped(&fold_name(&header.0), &policy_names, &connection_listed),
            "forwarded {:?}",
            header.0
        );
    }
    assert_eq!(
        policy.sanitize(kept.clone()),
        kept,
        "sanitize is not idempotent"
    );
    let disguised: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(n, v)| (disguise(n, input.disguise), v.clone()))
        .collect();
    let kept_disguised = policy.sanitize(disguised);
    let expected: Vec<(String, String)> = kept
        .iter()
        .map(|(n, v)| (disguise(n, input.disguise), v.clone()))
        .collect();
    assert_eq!(
        kept_disguised, expected,
        "a disguised name changed the decision"
    );

    // normalize: idempotent, and what it returns is unambiguous.
    if let Some(normal) = normalize(&input.path) {
        assert_eq!(
            normalize(&normal).as_deref(),
            Some(normal.as_str()),
            "normalize not idempotent"
        );
        assert!(normal.starts_with('/'));
        assert!(!normal.contains(['%', '\\', ';', '?', '#']));
        assert!(!normal.chars().any(char::is_control));
        let trimmed = normal.strip_suffix('/').unwrap_or(&normal);
        if trimmed.len() > 1 {
            assert!(
                trimmed
                    .split('/')
                    .skip(1)
                    .all(|s| !s.is_empty() && s != "." && s != ".."),
                "ambiguous segment in {normal:?}"
            );
        }
    }

    // Public paths: only normalizable paths match, and the raw and normalized forms agree.
    if let Ok(public) = PublicPaths::parse(&input.public_paths) {
        let matched = public.matches(&input.path);
        match normalize(&input.path) {
            Some(normal) => assert_eq!(public.matches(&normal), matched),
            None => assert!(!matched, "matched an ambiguous path {:?}", input.path),
        }
    }

    // split_request_url: origin + path + query rebuild the URL without its fragment.
    if let Some((origin, path, query)) = split_request_url(&input.url) {
        assert!(origin.starts_with("http://") || origin.starts_with("https://"));
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        assert!(
            !authority.contains(['/', '?', '#']),
            "authority {authority:?}"
        );
        assert!(path.starts_with('/'));
        assert!(!path.contains(['?', '#']));
        assert!(!query.is_some_and(|q| q.contains('#')));
        let without_fragment = input.url.split('#').next().unwrap_or("");
        let rebuilt_path = if without_fragment[origin.len()..].starts_with('/') {
            path
        } else {
            ""
        };
        let rebuilt = match query {
            Some(q) => format!("{origin}{rebuilt_path}?{q}"),
            None => format!("{origin}{rebuilt_path}"),
        };
        assert_eq!(rebuilt, without_fragment);
    } else {
        assert!(!input.url.starts_with("http://") && !input.url.starts_with("https://"));
    }
});
