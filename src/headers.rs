//! Header hygiene: what a client may not send to the origin, and what the origin may not send to
//! the client.

/// Header name folded the way the gateway compares names: ASCII lowercase, `_` read as `-`
/// (some servers and frameworks treat `X_User` and `X-User` as the same header). Other
/// characters are kept as they are, so folding twice changes nothing.
pub fn fold_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Identity headers that origins, proxies and frameworks commonly trust. Removed from every
/// client request, in every case and separator variant.
const IDENTITY_HEADERS: &[&str] = &[
    "x-user",
    "x-user-id",
    "x-userid",
    "x-username",
    "x-user-email",
    "x-email",
    "x-remote-user",
    "remote-user",
    "x-auth-user",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-preferred-username",
    "x-auth-request-groups",
    "x-auth-request-access-token",
    "x-webauth-user",
    "x-ms-client-principal",
    "x-ms-client-principal-name",
    "x-ms-client-principal-id",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-data",
    "x-amzn-oidc-accesstoken",
    "x-jwt-assertion",
];

/// Headers some origins use to re-route or re-method a request after the gateway decided on its
/// path: a public path must not turn into a private one behind the gateway's back.
const ROUTING_OVERRIDE_HEADERS: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-override-url",
    "x-original-uri",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Prefixes of the gateway's own header namespace: control headers (`Sessiongate-Login`, …) and
/// identity headers (`X-Sessiongate-User`, …).
const GATEWAY_PREFIXES: &[&str] = &["sessiongate-", "x-sessiongate-"];

/// Decides which client request headers are dropped before forwarding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHeaderPolicy {
    /// Folded names of the configured user and assertion headers.
    own_headers: Vec<String>,
}

impl RequestHeaderPolicy {
    /// The policy for the configured user and assertion header names.
    pub fn new(user_header: &str, assertion_header: &str) -> Self {
        RequestHeaderPolicy {
            own_headers: vec![fold_name(user_header), fold_name(assertion_header)],
        }
    }

    /// The headers that may be forwarded, in order. `headers` are `(name, value)` pairs as
    /// received; names listed in any `Connection` header are dropped as hop-by-hop too.
    pub fn sanitize(&self, headers: Vec<(String, String)>) -> Vec<(String, String)> {
        let connection_listed: Vec<String> = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, value)| value.split(',').map(|token| fold_name(token.trim())))
            .filter(|token| !token.is_empty())
            .collect();
        headers
            .into_iter()
            .filter(|(name, _)| {
                let folded = fold_name(name);
                !(self.own_headers.contains(&folded)
                    || IDENTITY_HEADERS.contains(&folded.as_str())
                    || ROUTING_OVERRIDE_HEADERS.contains(&folded.as_str())
                    || HOP_BY_HOP_HEADERS.contains(&folded.as_str())
                    || GATEWAY_PREFIXES.iter().any(|p| folded.starts_with(p))
                    || connection_listed.contains(&folded))
            })
            .collect()
    }
}

/// Whether a response header from the origin belongs to the gateway's control namespace and must
/// never reach the client.
pub fn is_control_response_header(name: &str) -> bool {
    let folded = fold_name(name);
    GATEWAY_PREFIXES.iter().any(|p| folded.starts_with(p))
}

/// The first value of `name` (compared case-insensitively) in `headers`.
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn identity_headers_in_every_variant_are_removed() {
        let policy = RequestHeaderPolicy::new("X-Sessiongate-User", "X-Sessiongate-Assertion");
        let spoofed = h(&[
            ("X-Sessiongate-User", "mallory"),
            ("x_sessiongate_user", "mallory"),
            ("X-SESSIONGATE-ASSERTION", "x"),
            ("X-User", "mallory"),
            ("x_user", "mallory"),
            ("X-Forwarded-User", "mallory"),
            ("x-forwarded_user", "mallory"),
            ("Remote-User", "mallory"),
            ("Sessiongate-Login", "{\"user\":\"mallory\"}"),
            ("sessiongate_logout", "all"),
            ("X-Original-URL", "/admin"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("accept", "*/*"),
        ]);
        assert_eq!(names(&policy.sanitize(spoofed)), vec!["accept"]);
    }

    #[test]
    fn configured_header_names_are_removed_too() {
        let policy = RequestHeaderPolicy::new("X-Auth-Subject", "X-Auth-Proof");
        let out = policy.sanitize(h(&[
            ("x_auth_subject", "m"),
            ("X-AUTH-PROOF", "m"),
            ("ok", "1"),
        ]));
        assert_eq!(names(&out), vec!["ok"]);
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let policy = RequestHeaderPolicy::new("X-Sessiongate-User", "X-Sessiongate-Assertion");
        let out = policy.sanitize(h(&[
            ("Connection", "keep-alive, X-Secret-Hop , x_other"),
            ("Keep-Alive", "5"),
            ("X-Secret-Hop", "1"),
            ("X-Other", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("content-type", "text/plain"),
        ]));
        assert_eq!(names(&out), vec!["content-type"]);
    }

    #[test]
    fn ordinary_headers_survive() {
        let policy = RequestHeaderPolicy::new("X-Sessiongate-User", "X-Sessiongate-Assertion");
        let input = h(&[
            ("cookie", "a=1"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-userland", "1"),
            ("authorization", "Bearer t"),
        ]);
        assert_eq!(policy.sanitize(input.clone()), input);
    }

    #[test]
    fn folding_keeps_non_ascii_and_is_idempotent() {
        // Found by fuzzing: bytes were mapped one by one to chars, so `é` became `Ã©`.
        assert_eq!(fold_name("X_Ünï-É"), "x-Ünï-É");
        let once = fold_name("Ï¼_A");
        assert_eq!(fold_name(&once), once);
    }

    #[test]
    fn control_response_headers() {
        assert!(is_control_response_header("Sessiongate-Login"));
        assert!(is_control_response_header("SESSIONGATE_LOGOUT"));
        assert!(is_control_response_header("x-sessiongate-anything"));
        assert!(!is_control_response_header("set-cookie"));
    }
}
