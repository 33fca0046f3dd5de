//! `GET {GATEWAY_PATH}/health`: whether this gateway can serve.
//!
//! - 200 when the configuration is valid, 503 when not. The answer never contains a secret, a KV
//!   value or the configuration's problems (those are in the log, and in the answer to an
//!   operator); the version only with `HEALTH_SHOW_VERSION=true`.
//! - `?deep=1` also reads KV (one read of a key that never exists, with `KV_TIMEOUT_MS`) and
//!   answers 503 when it fails. The read needs an admin token (`Authorization: Bearer …`, see
//!   `ADMIN_TOKENS`); without one, a deep check is answered from the isolate's last deep result
//!   when it is at most 10 s old, and refused (401) otherwise, so nobody can run up KV reads.

use std::cell::Cell;

use super::admin::bearer_operator;
use super::exchange::GateRequest;
use super::refusal::Refusal;
use super::respond::{json_headers, Flow, Outcome};
use crate::config::LoadedConfig;
use crate::json::{strings_text, ObjectWriter};
use crate::session::SessionId;
use crate::store::{Loaded, SessionStore, StoreError};

/// How old a deep result may be when answered without an admin token.
pub const DEEP_RESULT_MAX_AGE_MS: u64 = 10_000;

/// A session id no session has (ids are random): reading it reads KV and finds nothing.
const PROBE_ID: &str = "sessiongate-health-probe";

thread_local! {
    /// This isolate's last deep check: when (Unix ms) and what KV said.
    static LAST_DEEP: Cell<Option<(u64, &'static str)>> = const { Cell::new(None) };
}

/// The answer's JSON.
fn health_json(
    healthy: bool,
    configured: bool,
    kv: Option<&str>,
    age_ms: Option<u64>,
    version: Option<&str>,
    errors: &[String],
) -> String {
    let mut json = ObjectWriter::new()
        .string("status", if healthy { "ok" } else { "unavailable" })
        .string("config", if configured { "ok" } else { "invalid" });
    if let Some(kv) = kv {
        json = json.string("kv", kv);
    }
    if let Some(age) = age_ms {
        json = json.u64("kv_checked_ms_ago", age);
    }
    if let Some(version) = version {
        json = json.string("version", version);
    }
    if !errors.is_empty() {
        json = json.json("errors", &strings_text(errors));
    }
    json.finish()
}

async fn probe<S: SessionStore>(store: &S) -> &'static str {
    let Some(id) = SessionId::parse(PROBE_ID) else {
        return "error";
    };
    match store.load(&id).await {
        Ok(Loaded::Missing | Loaded::Found(_) | Loaded::Unusable(_)) => "ok",
        Err(StoreError::Timeout) => "timeout",
        Err(StoreError::Unavailable(_)) => "error",
    }
}

/// Answers the health check.
pub(super) async fn answer<S: SessionStore, B, Body>(
    mut flow: Flow<'_>,
    config: &LoadedConfig,
    store: &S,
    request: &GateRequest<Body>,
    now_ms: u64,
) -> Outcome<B> {
    flow.log.event = "health";
    let is = |m: &str| request.method.eq_ignore_ascii_case(m);
    if !(is("GET") || is("HEAD")) {
        return flow.refuse((Refusal::MethodNotAllowed, None));
    }
    let ops = &config.operations;
    let operator = ops
        .admin_tokens
        .as_ref()
        .and_then(|tokens| bearer_operator(tokens, &request.headers));
    flow.log.operator = operator.map(str::to_owned);
    let deep = request
        .query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == "deep=1"));
    let (kv, age) = if !deep {
        (None, None)
    } else if operator.is_some() {
        let result = probe(store).await;
        LAST_DEEP.with(|last| last.set(Some((now_ms, result))));
        (Some(result), None)
    } else {
        let fresh = LAST_DEEP.with(Cell::get).and_then(|(at, result)| {
            let age = now_ms.checked_sub(at)?;
            (age <= DEEP_RESULT_MAX_AGE_MS).then_some((result, age))
        });
        match fresh {
            Some((result, age)) => (Some(result), Some(age)),
            None => {
                flow.extra_headers
                    .push(("www-authenticate".to_owned(), "Bearer".to_owned()));
                return flow.refuse((
                    Refusal::AdminUnauthorized,
                    Some("a deep health check reads KV: admin token required".to_owned()),
                ));
            }
        }
    };
    let configured = config.errors.is_empty();
    let healthy = configured && kv.is_none_or(|k| k == "ok");
    let errors: Vec<String> = if operator.is_some() {
        config.errors.iter().map(ToString::to_string).collect()
    } else {
        Vec::new()
    };
    let version = ops.health_show_version.then_some(env!("CARGO_PKG_VERSION"));
    let body = health_json(healthy, configured, kv, age, version, &errors);
    let status = if healthy { 200 } else { 503 };
    if !configured {
        flow.log.config_errors = config.errors.iter().map(ToString::to_string).collect();
    }
    if let Some(kv) = kv {
        flow.log.detail = Some(format!("kv {kv}"));
    }
    flow.log.level = if healthy { "info" } else { "error" };
    flow.log.quiet = healthy && !ops.log_public_paths && operator.is_none();
    flow.answer(status, json_headers(), body)
}
