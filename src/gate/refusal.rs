//! Every refusal the gateway can give: its status, stable code and message.

use crate::store::StoreError;

/// Every refusal the gateway can give, with its status and stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no session cookie on a protected path.
    MissingSession,
    /// 401: the cookie is not signed by a configured secret, or malformed.
    InvalidSessionCookie,
    /// 401: the store has no such session.
    UnknownSession,
    /// 401: the idle or absolute timeout has passed.
    SessionExpired,
    /// 401: another user agent than the one bound at login.
    UserAgentMismatch,
    /// 400: an admin API call without a valid `user`.
    BadRequest,
    /// 403: an unsafe request to a gateway endpoint from another origin.
    CrossSiteRequest,
    /// 401: an admin API call (or a deep health check) without a valid admin token.
    AdminUnauthorized,
    /// 404: an unknown gateway endpoint or session handle.
    NotFound,
    /// 405: a wrong method for a gateway endpoint.
    MethodNotAllowed,
    /// 500: the configuration is missing or invalid.
    Misconfigured,
    /// 500: the random generator failed, or a response could not be built.
    InternalError,
    /// 502: the origin could not be reached.
    OriginUnreachable,
    /// 502: the origin sent a malformed login or logout instruction.
    OriginProtocolError,
    /// 503: the session store failed or timed out.
    StoreUnavailable,
    /// 504: the origin did not answer in time.
    OriginTimeout,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Refusal::MissingSession
            | Refusal::InvalidSessionCookie
            | Refusal::UnknownSession
            | Refusal::SessionExpired
            | Refusal::UserAgentMismatch
            | Refusal::AdminUnauthorized => 401,
            Refusal::BadRequest => 400,
            Refusal::CrossSiteRequest => 403,
            Refusal::NotFound => 404,
            Refusal::MethodNotAllowed => 405,
            Refusal::Misconfigured | Refusal::InternalError => 500,
            Refusal::OriginUnreachable | Refusal::OriginProtocolError => 502,
            Refusal::StoreUnavailable => 503,
            Refusal::OriginTimeout => 504,
        }
    }

    /// The stable code in the JSON body (`error`).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingSession => "missing_session",
            Refusal::InvalidSessionCookie => "invalid_session_cookie",
            Refusal::UnknownSession => "unknown_session",
            Refusal::SessionExpired => "session_expired",
            Refusal::UserAgentMismatch => "user_agent_mismatch",
            Refusal::BadRequest => "bad_request",
            Refusal::CrossSiteRequest => "cross_site_request",
            Refusal::AdminUnauthorized => "admin_unauthorized",
            Refusal::NotFound => "not_found",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::Misconfigured => "misconfigured",
            Refusal::InternalError => "internal_error",
            Refusal::OriginUnreachable => "origin_unreachable",
            Refusal::OriginProtocolError => "origin_protocol_error",
            Refusal::StoreUnavailable => "store_unavailable",
            Refusal::OriginTimeout => "origin_timeout",
        }
    }

    /// The human-readable message in the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingSession => "No session: sign in first.",
            Refusal::InvalidSessionCookie => "The session cookie is not valid.",
            Refusal::UnknownSession => "The session does not exist or has ended.",
            Refusal::SessionExpired => "The session has expired: sign in again.",
            Refusal::UserAgentMismatch => {
                "The session was used from a different client and has been ended."
            }
            Refusal::BadRequest => "The request is malformed.",
            Refusal::CrossSiteRequest => "Cross-site request refused.",
            Refusal::AdminUnauthorized => "A valid admin token is required.",
            Refusal::NotFound => "Not found.",
            Refusal::MethodNotAllowed => "Method not allowed.",
            Refusal::Misconfigured => "The gateway is not configured correctly.",
            Refusal::InternalError => "The gateway could not complete the request.",
            Refusal::OriginUnreachable => "The origin could not be reached.",
            Refusal::OriginProtocolError => "The origin sent an invalid session instruction.",
            Refusal::StoreUnavailable => "The session store is unavailable; try again.",
            Refusal::OriginTimeout => "The origin did not answer in time.",
        }
    }

    /// The log level of this refusal: `error` when the gateway, its store or the origin failed
    /// (5xx), `warn` for what may be an attack, `info` for the everyday ones (no session, an
    /// expired one).
    pub fn level(self) -> &'static str {
        match self.status() {
            500.. => "error",
            _ if matches!(
                self,
                Refusal::InvalidSessionCookie
                    | Refusal::UserAgentMismatch
                    | Refusal::CrossSiteRequest
                    | Refusal::AdminUnauthorized
            ) =>
            {
                "warn"
            }
            _ => "info",
        }
    }

    /// A 401 that asks for a session (every 401 but the admin API's, which asks for a bearer
    /// token): answered with the sign-in redirect or `WWW-Authenticate: Session realm="…"`.
    pub(super) fn asks_for_session(self) -> bool {
        self.status() == 401 && self != Refusal::AdminUnauthorized
    }

    /// Refusals about the presented session also clear the cookie.
    pub(super) fn clears_cookie(self) -> bool {
        matches!(
            self,
            Refusal::InvalidSessionCookie
                | Refusal::UnknownSession
                | Refusal::SessionExpired
                | Refusal::UserAgentMismatch
        )
    }

    /// The JSON body of this refusal.
    pub fn body(self) -> String {
        format!(
            "{{\"error\":\"{}\",\"message\":\"{}\"}}",
            self.code(),
            self.message()
        )
    }
}

/// A refusal with the log's detail.
pub(super) type Refused = (Refusal, Option<String>);

/// The refusal for a store failure during `operation`: 503, fail closed.
pub(super) fn store_refusal(operation: &str, error: StoreError) -> Refused {
    let detail = match error {
        StoreError::Timeout => format!("{operation} timed out"),
        StoreError::Unavailable(why) => format!("{operation} failed: {why}"),
    };
    (Refusal::StoreUnavailable, Some(detail))
}
