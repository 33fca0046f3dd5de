//! Cloudflare Workers glue: the `fetch` entry point, Workers KV as the [`KeyValueStore`], `fetch`
//! as the [`Origin`], and configuration from `env`. Everything that decides anything lives in
//! the platform-free modules; this file only moves values between them and the runtime.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use wasm_bindgen::JsValue;
use worker::{
    console_error, console_log, event, AbortController, Context, Date, Delay, Env, Fetch, Headers,
    KvStore, Method, Request, RequestInit, RequestRedirect, Response, ResponseBuilder,
};

use crate::config::{self, LoadedConfig};
use crate::gate::{
    self, Body, GateRequest, GateResponse, KeyValueStore, Origin, OriginError, OriginRequest,
    OriginResponse, Refusal, StoreError,
};

/// Name of the KV namespace binding.
const KV_BINDING: &str = "SESSIONS";

thread_local! {
    /// Configuration is read and validated once per isolate: `env` does not change within one,
    /// and the HMAC key states are prepared here, not per request.
    static CONFIG: RefCell<Option<Rc<LoadedConfig>>> = const { RefCell::new(None) };
}

/// Reads a binding as text. `[vars]` may hold numbers or booleans, which become their JSON text.
fn env_text(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if let Some(text) = value.as_string() {
        Some(text)
    } else if let Some(number) = value.as_f64() {
        Some(format!("{number}"))
    } else {
        value.as_bool().map(|b| b.to_string())
    }
}

fn config_for(env: &Env) -> Rc<LoadedConfig> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return config;
    }
    let mut loaded = config::load(&|name| env_text(env, name));
    if env.kv(KV_BINDING).is_err() {
        loaded.errors.push(format!(
            "KV namespace binding {KV_BINDING} is missing: add [[kv_namespaces]] binding = \"{KV_BINDING}\" to wrangler.toml"
        ));
        loaded.session = None;
    }
    if !loaded.errors.is_empty() {
        // Logged once per isolate, with every problem; values of secrets never appear.
        let line = serde_json::json!({ "event": "config_error", "errors": loaded.errors });
        console_error!("{}", line);
    }
    let config = Rc::new(loaded);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    config
}

/// Runs `operation`, giving up after `timeout_ms`.
async fn with_timeout<T>(
    timeout_ms: u64,
    operation: impl core::future::Future<Output = T>,
) -> Option<T> {
    let delay = Delay::from(Duration::from_millis(timeout_ms));
    pin_mut!(operation);
    pin_mut!(delay);
    match select(operation, delay).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// A KV error as log text, without the key (keys contain session ids).
fn kv_error_text(error: impl core::fmt::Display, key: &str) -> String {
    // Bounded by characters, not bytes: `String::truncate` panics inside a UTF-8 sequence.
    error
        .to_string()
        .replace(key, "<key>")
        .chars()
        .take(200)
        .collect()
}

/// Runs one KV operation with the timeout; errors become log-safe `StoreError`s (`key` is
/// scrubbed from their text).
async fn kv_call<T>(
    timeout_ms: u64,
    key: &str,
    operation: impl core::future::Future<Output = Result<T, worker::KvError>>,
) -> Result<T, StoreError> {
    match with_timeout(timeout_ms, operation).await {
        None => Err(StoreError::Timeout),
        Some(result) => result.map_err(|e| StoreError::Unavailable(kv_error_text(e, key))),
    }
}

/// Workers KV with a timeout on every operation.
struct WorkersKv {
    kv: Option<KvStore>,
    timeout_ms: u64,
}

impl WorkersKv {
    fn kv(&self) -> Result<&KvStore, StoreError> {
        self.kv
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable(format!("binding {KV_BINDING} missing")))
    }
}

impl KeyValueStore for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        kv_call(self.timeout_ms, key, self.kv()?.get(key).text()).await
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        let kv = self.kv()?;
        let put = kv
            .put(key, value)
            .map_err(|e| StoreError::Unavailable(kv_error_text(e, key)))?
            .expiration_ttl(ttl_seconds);
        kv_call(self.timeout_ms, key, put.execute()).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        kv_call(self.timeout_ms, key, self.kv()?.delete(key)).await
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let kv = self.kv()?;
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut list = kv.list().prefix(prefix.to_owned());
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = kv_call(self.timeout_ms, prefix, list.execute()).await?;
            keys.extend(page.keys.into_iter().map(|k| k.name));
            match page.cursor {
                Some(next) if !page.list_complete && !next.is_empty() => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }
}

/// The origin, reached with `fetch`; redirects are passed back to the client, not followed.
struct FetchOrigin {
    timeout_ms: u64,
}

impl Origin for FetchOrigin {
    type RequestBody = Option<web_sys::ReadableStream>;
    type ResponseBody = Response;

    async fn send(
        &self,
        request: OriginRequest<Self::RequestBody>,
    ) -> Result<OriginResponse<Response>, OriginError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers
                .append(name, value)
                .map_err(|e| OriginError::Unreachable(format!("header {name}: {e}")))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.to_ascii_uppercase()))
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual)
            .with_body(request.body.map(JsValue::from));
        let outbound = Request::new_with_init(&request.url, &init)
            .map_err(|e| OriginError::Unreachable(format!("building the request: {e}")))?;
        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(outbound);
        let sent = with_timeout(self.timeout_ms, fetch.send_with_signal(&signal)).await;
        let response = match sent {
            None => {
                controller.abort();
                return Err(OriginError::Timeout);
            }
            Some(Err(e)) => return Err(OriginError::Unreachable(e.to_string())),
            Some(Ok(response)) => response,
        };
        Ok(OriginResponse {
            status: response.status_code(),
            headers: response.headers().entries().collect(),
            body: response,
        })
    }
}

fn to_worker_response(response: GateResponse<Response>) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let builder = ResponseBuilder::new()
        .with_status(response.status)
        .with_headers(headers);
    Ok(match response.body {
        Body::Json(text) => builder.fixed(text.into_bytes()),
        Body::Origin(origin_response) => {
            let (_, body) = origin_response.into_parts();
            builder.body(body)
        }
    })
}

fn refusal_response(refusal: Refusal) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.append("content-type", "application/json")?;
    Ok(ResponseBuilder::new()
        .with_status(refusal.status())
        .with_headers(headers)
        .fixed(refusal.body().into_bytes()))
}

#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let config = config_for(&env);
    // The runtime's URL string is already WHATWG-normalized; splitting it here instead of
    // re-parsing with the `url` crate keeps its IDNA tables out of the binary.
    let url = request.inner().url();
    let Some((origin, path, query)) = gate::split_request_url(&url) else {
        return refusal_response(Refusal::InternalError);
    };
    let gate_request = GateRequest {
        method: request.method().to_string(),
        origin: origin.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: request.headers().entries().collect(),
        body: request.inner().body(),
    };
    let store = Rc::new(WorkersKv {
        kv: env.kv(KV_BINDING).ok(),
        timeout_ms: config.session.as_ref().map_or(2000, |s| s.kv_timeout_ms),
    });
    let origin = FetchOrigin {
        timeout_ms: config
            .forward
            .as_ref()
            .map_or(30_000, |f| f.origin_timeout_ms),
    };
    let outcome = gate::handle(
        &config,
        store.as_ref(),
        &origin,
        gate_request,
        Date::now().as_millis(),
    )
    .await;
    console_log!("{}", outcome.log.to_json());
    for write in outcome.background {
        let store = store.clone();
        ctx.wait_until(async move {
            if let Err(e) = store.put(&write.key, &write.value, write.ttl_seconds).await {
                let line =
                    serde_json::json!({ "event": "touch_failed", "detail": format!("{e:?}") });
                console_error!("{}", line);
            }
        });
    }
    match to_worker_response(outcome.response) {
        Ok(response) => Ok(response),
        Err(e) => {
            console_error!(
                "{}",
                serde_json::json!({ "event": "response_error", "detail": e.to_string() })
            );
            refusal_response(Refusal::InternalError)
        }
    }
}
