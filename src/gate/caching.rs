//! No cacheable session responses: a response that sets or clears the session cookie is
//! `Cache-Control: no-store`, whatever the origin said; a response forwarded with an identity is
//! at least `private`. When the gateway sets `Cache-Control`, the origin's own, and its headers
//! aimed at shared caches only (`CDN-Cache-Control`, `Cloudflare-CDN-Cache-Control`,
//! `Surrogate-Control`), are dropped.

/// The `Cache-Control` of a response that sets or clears the session cookie.
pub(super) const NO_STORE: &str = "no-store";

/// Whether `name` is a header the gateway replaces when it sets `Cache-Control`.
pub(super) fn is_replaced(name: &str) -> bool {
    [
        "cache-control",
        "cdn-cache-control",
        "cloudflare-cdn-cache-control",
        "surrogate-control",
    ]
    .iter()
    .any(|replaced| name.eq_ignore_ascii_case(replaced))
}

/// Whether the gateway's own headers set or clear the session cookie (its only `Set-Cookie`).
pub(super) fn sets_cookie(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
}

/// The `Cache-Control` for a response forwarded with an identity, from the origin's: `None` when
/// the origin already said `private` or `no-store`; else `private` followed by the origin's
/// directives without `public` and `s-maxage` (which only shared caches read).
///
/// ```text
/// (none)                        → private
/// public, max-age=3600          → private, max-age=3600
/// max-age=60, s-maxage=600      → private, max-age=60
/// private, max-age=60           → (kept)
/// ```
pub(super) fn private_for_identity(origin_headers: &[(String, String)]) -> Option<String> {
    let directives = origin_headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let mut out = "private".to_owned();
    for directive in directives {
        let name = directive.split('=').next().unwrap_or(directive).trim();
        if directive.eq_ignore_ascii_case("private") || name.eq_ignore_ascii_case("no-store") {
            return None;
        }
        if name.eq_ignore_ascii_case("public") || name.eq_ignore_ascii_case("s-maxage") {
            continue;
        }
        out.push_str(", ");
        out.push_str(directive);
    }
    Some(out)
}

/// Makes the gateway's own answer `no-store` when it sets or clears a cookie.
pub(super) fn no_store_with_cookie(headers: &mut Vec<(String, String)>) {
    if sets_cookie(headers) {
        headers.retain(|(name, _)| !is_replaced(name));
        headers.push(("cache-control".to_owned(), NO_STORE.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("Cache-Control".to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn identity_responses_become_private() {
        assert_eq!(private_for_identity(&[]).as_deref(), Some("private"));
        assert_eq!(
            private_for_identity(&cc(&["public, max-age=3600"])).as_deref(),
            Some("private, max-age=3600")
        );
        assert_eq!(
            private_for_identity(&cc(&["max-age=60", "s-maxage=600, must-revalidate"])).as_deref(),
            Some("private, max-age=60, must-revalidate")
        );
        assert_eq!(private_for_identity(&cc(&["PRIVATE, max-age=60"])), None);
        assert_eq!(private_for_identity(&cc(&["no-store"])), None);
        assert_eq!(
            private_for_identity(&cc(&["private=\"set-cookie\""])).as_deref(),
            Some("private, private=\"set-cookie\""),
            "a qualified private leaves the rest shareable"
        );
    }

    #[test]
    fn own_answers_with_a_cookie_are_no_store() {
        let mut headers = vec![
            ("cache-control".to_owned(), "no-cache".to_owned()),
            ("set-cookie".to_owned(), "sid=; Max-Age=0".to_owned()),
        ];
        no_store_with_cookie(&mut headers);
        assert_eq!(
            headers,
            [
                ("set-cookie".to_owned(), "sid=; Max-Age=0".to_owned()),
                ("cache-control".to_owned(), "no-store".to_owned()),
            ]
        );
        let mut headers = vec![("cache-control".to_owned(), "no-cache".to_owned())];
        no_store_with_cookie(&mut headers);
        assert_eq!(headers.len(), 1);
    }
}
