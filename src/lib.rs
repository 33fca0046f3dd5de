//! sessiongate: a session gateway for the edge.
//!
//! The crate is a platform-free core, unit-tested natively, and thin glue for the Cloudflare
//! Workers runtime: the standalone Worker (feature `worker`), the npm package's embeddable gate
//! (`embed`), its primitives (`js`) and its origin-side verifier (`js-origin`).
//!
//! - [`signing`]: `cookie-signature`-compatible sign / unsign with a keyring.
//! - [`cookie`]: `Cookie` header parsing (jshttp/cookie rules) and the session cookie.
//! - [`set_cookie`]: `Set-Cookie` serialization (jshttp/cookie rules).
//! - [`session`]: the session model: ids, the record and its activity, timeouts, user-agent binding.
//! - [`store`]: where sessions are kept: the session store trait, Workers KV's key layout, the
//!   per-isolate cache and refresh memory.
//! - [`device`]: a readable device label from a user agent, for the sessions page.
//! - [`assertion`]: the HS256 JWT the origin receives.
//! - [`headers`], [`paths`]: header hygiene and public-path matching.
//! - [`config`]: configuration, parsed once into checked values, with typed errors.
//! - [`gate`]: the request flow over the session store and an origin.

#![warn(missing_docs)]
// A panic in a Worker aborts every request in flight in the isolate: outside tests, nothing may
// unwrap, index or panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

pub mod assertion;
pub mod config;
pub mod cookie;
pub mod device;
pub mod gate;
pub mod headers;
pub mod json;
pub mod paths;
pub mod session;
pub mod set_cookie;
pub mod signing;
pub mod store;

#[cfg(feature = "embed")]
pub mod js_gate;
#[cfg(feature = "js-import")]
pub mod js_import;
#[cfg(feature = "js-origin")]
pub mod js_origin;
#[cfg(feature = "js")]
pub mod js_primitives;
#[cfg(feature = "runtime")]
mod runtime;
#[cfg(feature = "runtime")]
mod websocket_glue;
#[cfg(feature = "worker")]
mod worker_glue;
