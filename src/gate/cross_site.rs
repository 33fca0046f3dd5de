//! Cross-site protection for the whole app (`CSRF_PROTECTION`): a request with a method other
//! than GET, HEAD and OPTIONS must come from the gateway's own origin or one of
//! `CSRF_ALLOWED_ORIGINS`, whether or not it carries a cookie (a forged sign-in carries none),
//! or it is refused before it reaches the origin.

use super::exchange::GateRequest;
use super::refusal::{Refusal, Refused};
use crate::config::BrowserConfig;
use crate::headers::header_value;

/// Whether a browser request may act on the app: the rule of the built-in endpoints
/// ([`GateRequest::is_same_origin`]: `Origin` equal to the gateway's origin, else `Sec-Fetch-Site`
/// `same-origin` or `none`, and a request with neither is no browser's), or an `Origin` equal to
/// one of `allowed` (exact origins, as checked at load). The one place that decides which origins
/// may act, for unsafe methods here and for any other origin check (a WebSocket upgrade's).
pub fn is_allowed_origin<B>(request: &GateRequest<B>, allowed: &[String]) -> bool {
    request.is_same_origin()
        || header_value(&request.headers, "origin")
            .is_some_and(|origin| allowed.iter().any(|a| a == origin))
}

/// Methods that must not change state, exempt from the check (CORS preflights are OPTIONS).
fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Refuses an unsafe request from another origin when `CSRF_PROTECTION` is on.
pub(super) fn check<B>(browser: &BrowserConfig, request: &GateRequest<B>) -> Result<(), Refused> {
    if !browser.csrf_protection
        || is_safe_method(&request.method)
        || is_allowed_origin(request, &browser.csrf_allowed_origins)
    {
        return Ok(());
    }
    let detail = match header_value(&request.headers, "origin") {
        Some(_) => "Origin is neither this origin nor in CSRF_ALLOWED_ORIGINS",
        None => "Sec-Fetch-Site is neither same-origin nor none",
    };
    Err((Refusal::CrossSiteRequest, Some(detail.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> GateRequest<()> {
        GateRequest {
            method: method.to_owned(),
            origin: "https://app.example".to_owned(),
            path: "/orders".to_owned(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: (),
        }
    }

    fn browser(on: bool, allowed: &[&str]) -> BrowserConfig {
        BrowserConfig {
            login_url: None,
            login_return_param: "return_to".to_owned(),
            auth_realm: None,
            optional_paths: crate::paths::PublicPaths::default(),
            csrf_protection: on,
            csrf_allowed_origins: allowed.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn unsafe_methods_need_an_allowed_origin() {
        let on = browser(true, &["https://admin.example:8443"]);
        for (method, headers, passes) in [
            ("POST", vec![("origin", "https://app.example")], true),
            ("POST", vec![("origin", "https://admin.example:8443")], true),
            ("POST", vec![("origin", "https://admin.example")], false),
            ("POST", vec![("origin", "https://evil.example")], false),
            ("POST", vec![("origin", "null")], false),
            ("DELETE", vec![("origin", "http://app.example")], false),
            ("PUT", vec![("sec-fetch-site", "same-origin")], true),
            ("PUT", vec![("sec-fetch-site", "none")], true),
            ("PUT", vec![("sec-fetch-site", "same-site")], false),
            ("PATCH", vec![("sec-fetch-site", "cross-site")], false),
            ("POST", vec![], true),
            ("post", vec![("origin", "https://evil.example")], false),
            ("GET", vec![("origin", "https://evil.example")], true),
            ("HEAD", vec![("sec-fetch-site", "cross-site")], true),
            ("OPTIONS", vec![("origin", "https://evil.example")], true),
        ] {
            let r = request(method, &headers);
            assert_eq!(check(&on, &r).is_ok(), passes, "{method} {headers:?}");
            assert!(check(&browser(false, &[]), &r).is_ok(), "off: {method}");
        }
    }
}
