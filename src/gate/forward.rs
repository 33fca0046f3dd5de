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
    // The gateway's own cookie is its business: the origin never sees the session id.
    let cookie_name = sessions.map(|s| s.cookie.name.as_str());
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        if let (true, Some(cookie_name)) = (name.eq_ignore_ascii_case("cookie"), cookie_name) {
            if let Some(rest) = remove_cookie(&value, cookie_name) {
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
    }
}

/// Whether an origin response header sets the session cookie. The gateway owns that cookie: an
/// origin (an old express-session app under the same name, a reflected header) must not plant or
/// overwrite it, so such `Set-Cookie` lines are dropped.
fn sets_session_cookie(name: &str, value: &str, cookie_name: Option<&str>) -> bool {
    let Some(cookie_name) = cookie_name else {
        return false;
    };
    name.eq_ignore_ascii_case("set-cookie")
        && value
            .split_once('=')
            .is_some_and(|(name, _)| name.trim() == cookie_name)
}

/// The origin's response for the client, with the gateway's own headers added. When nothing is
/// removed or added, it is passed on as it came ([`Body::OriginAsIs`]).
pub(super) fn client_response<B>(
    status: u16,
    headers: Vec<(String, String)>,
    body: B,
    cookie_name: Option<&str>,
    mut added: Vec<(String, String)>,
) -> GateResponse<B> {
    let origin_header_count = headers.len();
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, value)| {
            !is_control_response_header(name) && !sets_session_cookie(name, value, cookie_name)
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
