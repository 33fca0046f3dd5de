//! Forward: the request the origin receives (the gateway's cookie removed, the user header and
//! assertion added), and the origin's response as the client receives it (control headers and
//! any attempt to set the session cookie removed).

use super::exchange::{Body, GateRequest, GateResponse, OriginRequest};
use super::session_check::LiveSession;
use crate::assertion::{Claims, ISSUER};
use crate::config::{ForwardConfig, SessionConfig};
use crate::cookie::remove_cookie;
use crate::headers::{header_value, is_control_response_header};

/// Whether `method` and `headers` make a CORS preflight (it carries no cookies in browsers).
pub(super) fn is_cors_preflight(method: &str, headers: &[(String, String)]) -> bool {
    method.eq_ignore_ascii_case("OPTIONS")
        && header_value(headers, "access-control-request-method").is_some()
        && header_value(headers, "origin").is_some()
}

/// The client's request, as the origin gets it.
pub(super) fn origin_request<B>(
    forward: &ForwardConfig,
    sessions: Option<&SessionConfig>,
    request: GateRequest<B>,
    session: Option<&LiveSession>,
    now_ms: u64,
) -> OriginRequest<B> {
    let GateRequest {
        method,
        mut path,
        query,
        headers,
        body,
        ..
    } = request;
    // The path's own buffer becomes the target: no new allocation for a request without a query.
    let mut target = core::mem::take(&mut path);
    if let Some(q) = query {
        target.push('?');
        target.push_str(&q);
    }
    // The gateway's own cookie is its business: the origin never sees the session id, under
    // either name.
    let names = session_cookie_names(sessions);
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        if !names.is_empty() && name.eq_ignore_ascii_case("cookie") {
            let mut rest = Some(value);
            for cookie_name in &names {
                rest = rest.and_then(|value| remove_cookie(&value, cookie_name));
            }
            if let Some(rest) = rest {
                out.push((name, rest));
            }
            continue;
        }
        out.push((name, value));
    }
    if let (Some(live), Some(s)) = (session, sessions) {
        out.push((forward.user_header.clone(), live.record.user.clone()));
        let now_s = now_ms / 1000;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: live.record.user.clone(),
            aud: s.assertion_audience.clone(),
            sid: live.handle.clone(),
            iat: now_s,
            exp: now_s.saturating_add(s.assertion_ttl_s),
            data: live.record.data.clone(),
        };
        out.push((
            forward.assertion_header.clone(),
            s.assertion_key.mint(&claims),
        ));
    }
    OriginRequest {
        method,
        target,
        headers: out,
        body,
        identified: session.is_some() && sessions.is_some(),
    }
}

/// The session cookie's names: `COOKIE_NAME`, and `COOKIE_NAME_PREVIOUS` when set.
pub(super) fn session_cookie_names(sessions: Option<&SessionConfig>) -> Vec<&str> {
    let mut names = Vec::with_capacity(2);
    if let Some(s) = sessions {
        names.push(s.cookie.name.as_str());
        if let Some(previous) = &s.previous_cookie {
            names.push(previous.name.as_str());
        }
    }
    names
}

/// Whether an origin response header sets the session cookie. The gateway owns that cookie: an
/// origin (an old express-session app under the same name, a reflected header) must not plant or
/// overwrite it, under either name, so such `Set-Cookie` lines are dropped.
fn sets_session_cookie(name: &str, value: &str, cookie_names: &[&str]) -> bool {
    name.eq_ignore_ascii_case("set-cookie")
        && value
            .split_once('=')
            .is_some_and(|(name, _)| cookie_names.contains(&name.trim()))
}

/// The origin's response for the client, with the gateway's own headers added. When nothing is
/// removed or added, it is passed on as it came ([`Body::OriginAsIs`]).
pub(super) fn client_response<B>(
    status: u16,
    headers: Vec<(String, String)>,
    body: B,
    cookie_names: &[&str],
    mut added: Vec<(String, String)>,
) -> GateResponse<B> {
    let origin_header_count = headers.len();
    // The gateway's `Cache-Control` (see `caching`) replaces the origin's.
    let replaces_caching = added
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("cache-control"));
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, value)| {
            let dropped = is_control_response_header(name)
                || sets_session_cookie(name, value, cookie_names)
                || (replaces_caching && super::caching::is_replaced(name));
            !dropped
        })
        .collect();
    let body = if added.is_empty() && out.len() == origin_header_count {
        Body::OriginAsIs(body)
    } else {
        out.append(&mut added);
        Body::Origin(body)
    };
    GateResponse {
        status,
        headers: out,
        body,
    }
}
