//! What goes in and out of the gate: the client's request, the request to the origin and its
//! response, and the response for the client.

use crate::headers::header_value;

/// A request as the gateway sees it. `path` is the URL path as the runtime's URL parser produced
/// it (dot segments resolved), `query` is without the `?`.
#[derive(Debug)]
pub struct GateRequest<B> {
    /// The method, as sent.
    pub method: String,
    /// `scheme://host[:port]` of the request URL, for the same-origin check.
    pub origin: String,
    /// The normalized path.
    pub path: String,
    /// The query, without `?`.
    pub query: Option<String>,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// The body, opaque to the gate.
    pub body: B,
}

impl<B> GateRequest<B> {
    /// Whether the request comes from the gateway's own origin, for unsafe requests to its
    /// endpoints: `Origin` equal to it, else `Sec-Fetch-Site` `same-origin` or `none`; a request
    /// with neither header is not a browser's, so not a cross-site request forgery.
    pub fn is_same_origin(&self) -> bool {
        if let Some(origin) = header_value(&self.headers, "origin") {
            return origin == self.origin;
        }
        match header_value(&self.headers, "sec-fetch-site") {
            Some(site) => site == "same-origin" || site == "none",
            None => true,
        }
    }
}

/// A request for the origin. `target` is the client's path and query; the adapter puts it after
/// the origin's URL (`ORIGIN_URL`, path prefix included) or the request's own origin (a handler).
#[derive(Debug)]
pub struct OriginRequest<B> {
    /// The method, as the client sent it.
    pub method: String,
    /// Path and query (`/a/b?x=1`), as the client sent them.
    pub target: String,
    /// The headers to send.
    pub headers: Vec<(String, String)>,
    /// The client's body.
    pub body: B,
    /// It carries the user header and assertion: the adapter must not let a shared cache answer
    /// it (`fetch` with `cache: 'no-store'`), since a cache keys on the URL, not on the identity.
    pub identified: bool,
}

/// The head of the origin's response, with its body unread.
#[derive(Debug)]
pub struct OriginResponse<B> {
    /// Status code.
    pub status: u16,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// The body, streamed through by the adapter.
    pub body: B,
}

/// Why the origin could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginError {
    /// Connecting or sending failed (the text says why, without secrets).
    Unreachable(String),
    /// No response head within `ORIGIN_TIMEOUT_MS`.
    Timeout,
}

impl core::fmt::Display for OriginError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OriginError::Unreachable(why) => write!(f, "origin unreachable: {why}"),
            OriginError::Timeout => f.write_str("origin timed out"),
        }
    }
}

impl std::error::Error for OriginError {}

/// Sends a request to the origin and returns its response head with an opaque, streaming body.
#[allow(async_fn_in_trait)]
pub trait Origin {
    /// The request body type of the runtime.
    type RequestBody;
    /// The response body type of the runtime.
    type ResponseBody;
    /// Sends `request` and waits for the response head.
    async fn send(
        &self,
        request: OriginRequest<Self::RequestBody>,
    ) -> Result<OriginResponse<Self::ResponseBody>, OriginError>;
}

/// A response body: the origin's (streamed through) or the gateway's own (a JSON answer, or
/// the sessions page and its assets; the headers give the type).
#[derive(Debug)]
pub enum Body<B> {
    /// The origin's body, streamed through under the headers of the [`GateResponse`].
    Origin(B),
    /// The origin's response exactly as it came: same status and headers (nothing to strip, no
    /// cookie to set). The glue may pass the runtime's own response object on instead of
    /// rebuilding it, which saves a copy of every header per request.
    OriginAsIs(B),
    /// The gateway's own text.
    Gateway(String),
}

/// The response for the client.
#[derive(Debug)]
pub struct GateResponse<B> {
    /// Status code.
    pub status: u16,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body<B>,
}

/// Splits a request URL as the runtime serialized it (WHATWG-normalized: lowercase scheme and
/// host, dot segments resolved) into `(origin, path, query)`. The fragment, which clients do not
/// send, is dropped if present. `None` for anything that is not an absolute http(s) URL.
///
/// ```
/// use sessiongate::gate::split_request_url;
/// assert_eq!(
///     split_request_url("https://gate.example.com:8443/a/b?x=1&y#f"),
///     Some(("https://gate.example.com:8443", "/a/b", Some("x=1&y")))
/// );
/// assert_eq!(split_request_url("https://gate.example.com"), Some(("https://gate.example.com", "/", None)));
/// assert_eq!(split_request_url("mailto:x"), None);
/// ```
pub fn split_request_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let after_scheme = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let scheme_len = url.len() - after_scheme.len();
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .map_or(without_fragment.len(), |i| scheme_len + i);
    let origin = without_fragment.get(..authority_end)?;
    let rest = without_fragment.get(authority_end..)?;
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    Some((origin, if path.is_empty() { "/" } else { path }, query))
}

#[cfg(test)]
mod tests {
    use super::split_request_url;

    #[test]
    fn request_url_split() {
        assert_eq!(
            split_request_url("http://[::1]:8787/x?"),
            Some(("http://[::1]:8787", "/x", Some("")))
        );
        assert_eq!(
            split_request_url("http://h?q=/path"),
            Some(("http://h", "/", Some("q=/path")))
        );
        assert_eq!(
            split_request_url("http://h/a?b?c#d?e"),
            Some(("http://h", "/a", Some("b?c")))
        );
        assert_eq!(
            split_request_url("http://h#frag"),
            Some(("http://h", "/", None))
        );
        assert_eq!(split_request_url("ftp://h/a"), None);
        assert_eq!(split_request_url(""), None);
    }
}
