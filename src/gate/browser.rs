//! The browser flow: a signed-out browser navigation is redirected to the sign-in page
//! (`LOGIN_URL`) carrying where it was going; every other 401 says how to authenticate
//! (`WWW-Authenticate: Session realm="…"`). The return path is only ever a same-origin relative
//! path ([`safe_return_path`]; `sessiongate/express` applies the same rules when reading it back).

use super::exchange::GateRequest;
use crate::config::BrowserConfig;
use crate::headers::header_value;

/// Longest return path carried or accepted, in bytes; a longer one becomes `/`.
pub const MAX_RETURN_PATH_LEN: usize = 2048;

/// `value` if it is a safe place to send a browser back to after signing in, else `/`.
///
/// Safe means a same-origin relative path that no browser or framework reads as another host:
/// it starts with one `/` (not `//` or `/\`), has only printable ASCII (no space, tab, CR, LF or
/// other control character, nothing a browser strips or a header splits on), no backslash, no
/// encoded `/` or `\` (`%2F`, `%5C`) before the query (an app that decodes once would see `//`),
/// and is at most [`MAX_RETURN_PATH_LEN`] bytes. The same table of cases is tested against this
/// function and the JavaScript helper of `sessiongate/express`.
///
/// ```
/// use sessiongate::gate::safe_return_path;
/// assert_eq!(safe_return_path("/orders/7?tab=items"), "/orders/7?tab=items");
/// assert_eq!(safe_return_path("//evil.example"), "/");
/// assert_eq!(safe_return_path("/%2F%2Fevil.example"), "/");
/// assert_eq!(safe_return_path("javascript:alert(1)"), "/");
/// ```
pub fn safe_return_path(value: &str) -> &str {
    if is_safe_return_path(value) {
        value
    } else {
        "/"
    }
}

fn is_safe_return_path(value: &str) -> bool {
    let bytes = value.as_bytes();
    if value.len() > MAX_RETURN_PATH_LEN || bytes.first() != Some(&b'/') {
        return false;
    }
    if matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    if bytes.iter().any(|&b| !b.is_ascii_graphic() || b == b'\\') {
        return false;
    }
    let path = value.split(['?', '#']).next().unwrap_or(value);
    let lower = path.to_ascii_lowercase();
    !lower.contains("%2f") && !lower.contains("%5c")
}

/// Whether the request is a browser's top-level navigation: `Sec-Fetch-Mode: navigate`, or,
/// from a browser that sends no `Sec-Fetch-Mode`, an `Accept` that prefers `text/html`.
pub(super) fn is_navigation(headers: &[(String, String)]) -> bool {
    match header_value(headers, "sec-fetch-mode") {
        Some(mode) => mode.trim().eq_ignore_ascii_case("navigate"),
        None => header_value(headers, "accept").is_some_and(prefers_html),
    }
}

/// Whether `Accept` lists `text/html` with a weight above zero, no other type weighs more, and
/// `application/json` weighs less (`*/*` alone, as `fetch` sends, is not a preference for HTML).
fn prefers_html(accept: &str) -> bool {
    let mut html = 0;
    let mut json = 0;
    let mut others = 0;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim().eq_ignore_ascii_case("q").then(|| weight(value))
            })
            .unwrap_or(Some(1000))
            .unwrap_or(0);
        if media.eq_ignore_ascii_case("text/html") {
            html = html.max(weight);
        } else {
            if media.eq_ignore_ascii_case("application/json") {
                json = json.max(weight);
            }
            others = core::cmp::max(others, weight);
        }
    }
    html > 0 && html >= others && html > json
}

/// A `q` value (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn weight(value: &str) -> Option<u16> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(core::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// How a 401 is answered for this request, decided before the request moves on.
pub(super) struct SignIn {
    /// The sign-in redirect's `Location` (a navigation, with `LOGIN_URL` set).
    pub location: Option<String>,
    /// The redirect's status: 302 for GET and HEAD, 303 (the browser follows with GET, never
    /// re-sending a body) for anything else.
    pub redirect_status: u16,
    /// The realm of `WWW-Authenticate` (`AUTH_REALM`, else the request's host).
    pub realm: String,
}

impl SignIn {
    /// The sign-in answer for `request` under `browser`.
    pub fn for_request<B>(browser: &BrowserConfig, request: &GateRequest<B>) -> Self {
        let location = browser
            .login_url
            .as_deref()
            .filter(|_| is_navigation(&request.headers))
            .map(|login_url| {
                let mut back = request.path.clone();
                if let Some(query) = &request.query {
                    back.push('?');
                    back.push_str(query);
                }
                login_location(
                    login_url,
                    &browser.login_return_param,
                    safe_return_path(&back),
                )
            });
        let realm = match &browser.auth_realm {
            Some(realm) => realm.clone(),
            None => request
                .origin
                .split_once("://")
                .map_or(request.origin.as_str(), |(_, host)| host)
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
                .collect(),
        };
        let get = request.method == "GET" || request.method == "HEAD";
        SignIn {
            location,
            redirect_status: if get { 302 } else { 303 },
            realm,
        }
    }

    /// The `WWW-Authenticate` value of a 401 that is not redirected.
    pub fn challenge(&self) -> String {
        format!("Session realm=\"{}\"", self.realm)
    }
}

/// `login_url` with `param` set to `back` (already safe), percent-encoded except for unreserved
/// characters and `/`.
fn login_location(login_url: &str, param: &str, back: &str) -> String {
    let separator = if login_url.contains('?') { '&' } else { '?' };
    let mut location = format!("{login_url}{separator}{param}=");
    for byte in back.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            location.push(char::from(byte));
        } else {
            location.push_str(&format!("%{byte:02X}"));
        }
    }
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table shared with the JavaScript helper's test (`tests/pkg/return-path.test.mjs`).
    const TABLE: &str = include_str!("../../tests/fixtures/return-paths.json");

    #[test]
    fn return_paths_follow_the_shared_table() {
        let table: Vec<serde_json::Value> = serde_json::from_str(TABLE).unwrap();
        assert!(table.len() > 20);
        for case in table {
            let input = match &case["repeat"] {
                serde_json::Value::Object(r) => r["unit"]
                    .as_str()
                    .unwrap()
                    .repeat(usize::try_from(r["times"].as_u64().unwrap()).unwrap()),
                _ => case["input"].as_str().unwrap().to_owned(),
            };
            let expected = case["expected"].as_str().unwrap();
            assert_eq!(safe_return_path(&input), expected, "{:?}", case["why"]);
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn navigations() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
        for (pairs, navigation) in [
            (vec![("sec-fetch-mode", "navigate")], true),
            (
                vec![("sec-fetch-mode", "navigate"), ("accept", "*/*")],
                true,
            ),
            (vec![("sec-fetch-mode", "cors"), ("accept", chrome)], false),
            (vec![("sec-fetch-mode", "no-cors")], false),
            (vec![("accept", chrome)], true),
            (vec![("accept", "text/html")], true),
            (vec![("accept", "*/*")], false),
            (vec![("accept", "application/json")], false),
            (vec![("accept", "application/json, text/html")], false),
            (vec![("accept", "text/html;q=0.5, application/json")], false),
            (vec![("accept", "text/html;q=0, */*")], false),
            (vec![("accept", "text/html;q=1.0, */*;q=0.1")], true),
            (vec![("accept", "text/html;q=bogus")], false),
            (vec![], false),
        ] {
            assert_eq!(is_navigation(&headers(&pairs)), navigation, "{pairs:?}");
        }
    }

    #[test]
    fn weights() {
        assert_eq!(weight("1"), Some(1000));
        assert_eq!(weight("1.000"), Some(1000));
        assert_eq!(weight("0.8"), Some(800));
        assert_eq!(weight("0.125"), Some(125));
        assert_eq!(weight("0"), Some(0));
        assert_eq!(weight("1.5"), None);
        assert_eq!(weight("0.1234"), None);
        assert_eq!(weight("2"), None);
        assert_eq!(weight(""), None);
    }

    #[test]
    fn locations_encode_the_return_path() {
        assert_eq!(
            login_location("/login", "return_to", "/orders/7?tab=a b&x=1+2%"),
            "/login?return_to=/orders/7%3Ftab%3Da%20b%26x%3D1%2B2%25"
        );
        assert_eq!(
            login_location("/login?lang=en", "next", "/"),
            "/login?lang=en&next=/"
        );
    }
}
