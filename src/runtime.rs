//! Workers runtime adapters shared by the standalone Worker (`worker_glue`) and the embeddable
//! gate of the npm package (`js_gate`): Workers KV as the [`KeyValueStore`], the origin as an
//! [`Origin`] (a `fetch`, or a JavaScript handler function), and [`serve`], which moves one
//! request through [`gate::handle`]. Nothing here decides anything.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use js_sys::futures::JsFuture;
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    console_error, console_log, AbortSignal, Date, Delay, Fetch, Headers, Method, Request,
    RequestInit, RequestRedirect, Response, ResponseBuilder,
};

use crate::config::LoadedConfig;
use crate::gate::{
    self, Body, GateRequest, GateResponse, KeyValueStore, Origin, OriginError, OriginRequest,
    OriginResponse, Refusal, StoreError,
};

/// Work to run after the response (`ctx.waitUntil`).
pub(crate) type BackgroundTask = Pin<Box<dyn Future<Output = ()>>>;

/// Reads a property as text. `[vars]` may hold numbers or booleans, which become their text.
pub(crate) fn property_text(object: &JsValue, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(object, &JsValue::from_str(name)).ok()?;
    if let Some(text) = value.as_string() {
        Some(text)
    } else if value.as_f64().is_some() {
        // JavaScript's own number-to-text (Rust's float formatting would cost ~14 KB of Wasm).
        js_sys::Number::from(value)
            .to_string_with_radix(10)
            .ok()
            .map(String::from)
    } else {
        value.as_bool().map(|b| b.to_string())
    }
}

/// A log line of the glue's own (request decisions are logged as `gate::LogLine`).
#[derive(serde::Serialize)]
struct GlueEvent<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    errors: &'a [String],
}

fn log_error(event: &str, detail: Option<&str>, errors: &[String]) {
    let line = GlueEvent {
        event,
        detail,
        errors,
    };
    console_error!("{}", serde_json::to_string(&line).unwrap_or_default());
}

/// Logs the configuration problems once (never a secret's value: errors only name settings).
#[cfg(feature = "worker")]
pub(crate) fn log_config_errors(config: &LoadedConfig) {
    if !config.errors.is_empty() {
        log_error("config_error", None, &config.errors);
    }
}

/// Runs `operation`, giving up after `timeout_ms`.
async fn with_timeout<T>(timeout_ms: u64, operation: impl Future<Output = T>) -> Option<T> {
    let delay = Delay::from(Duration::from_millis(timeout_ms));
    pin_mut!(operation);
    pin_mut!(delay);
    match select(operation, delay).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// An error as log text, without `secret_text` (KV keys contain session ids), bounded.
fn scrubbed(error: impl core::fmt::Display, secret_text: &str) -> String {
    // Bounded by characters, not bytes: `String::truncate` panics inside a UTF-8 sequence.
    let text = error.to_string();
    let text = if secret_text.is_empty() {
        text
    } else {
        text.replace(secret_text, "<key>")
    };
    text.chars().take(200).collect()
}

/// A KV namespace binding (`env.SESSIONS`, or `options.kv`), called directly: its four methods take
/// and return plain values, and worker-rs's typed wrapper would add serde-wasm-bindgen and float
/// formatting to the binary for nothing.
#[derive(Clone)]
pub(crate) struct KvBinding {
    namespace: JsValue,
}

impl KvBinding {
    /// The binding held by `holder[name]`, if it has the methods of a KV namespace.
    pub(crate) fn from_property(holder: &JsValue, name: &str) -> Option<Self> {
        let namespace = js_sys::Reflect::get(holder, &JsValue::from_str(name)).ok()?;
        let has = |method: &str| {
            js_sys::Reflect::get(&namespace, &JsValue::from_str(method))
                .is_ok_and(|f| f.is_function())
        };
        ["get", "put", "delete", "list"]
            .iter()
            .all(|m| has(m))
            .then_some(KvBinding { namespace })
    }

    /// `namespace[method](...args)` as a promise.
    fn start(&self, method: &str, args: &[JsValue]) -> Result<js_sys::Promise, JsValue> {
        let function: js_sys::Function =
            js_sys::Reflect::get(&self.namespace, &JsValue::from_str(method))?.dyn_into()?;
        let returned = function.apply(&self.namespace, &args.iter().collect())?;
        Ok(js_sys::Promise::resolve(&returned))
    }

    /// `namespace[method](...args)`, awaited.
    async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
        JsFuture::from(self.start(method, args)?).await
    }

    /// One page of `list({ prefix, cursor })`: key names, and the cursor of the next page.
    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), JsValue> {
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"prefix".into(), &prefix.into())?;
        if let Some(cursor) = cursor {
            js_sys::Reflect::set(&options, &"cursor".into(), &cursor.into())?;
        }
        let page = self.call("list", &[options.into()]).await?;
        let keys = js_sys::Array::from(&js_sys::Reflect::get(&page, &"keys".into())?);
        let names = keys
            .iter()
            .filter_map(|key| js_sys::Reflect::get(&key, &"name".into()).ok()?.as_string())
            .collect();
        let complete = js_sys::Reflect::get(&page, &"list_complete".into())?
            .as_bool()
            .unwrap_or(true);
        let next = js_sys::Reflect::get(&page, &"cursor".into())?
            .as_string()
            .filter(|c| !complete && !c.is_empty());
        Ok((names, next))
    }
}

/// Workers KV with a timeout on every operation. `kv` is `None` when the binding is missing, and
/// every operation then fails (closed).
///
/// Reads (the request path: a session's record and activity) share one timer per store, that is
/// per request: a promise that resolves to `sentinel` after `timeout_ms`, which each read races.
/// A timer per read measurably slowed requests under load (about 15% of throughput locally).
/// Writes, deletes and lists keep a timer each.
struct WorkersKv {
    kv: Option<KvBinding>,
    timeout_ms: u64,
    read_deadline: std::cell::OnceCell<Option<(js_sys::Promise, JsValue)>>,
}

/// A promise resolving to a fresh `sentinel` object after `timeout_ms` (JavaScript's `setTimeout`).
fn deadline(timeout_ms: u64) -> Option<(js_sys::Promise, JsValue)> {
    let global = js_sys::global();
    let set_timeout: js_sys::Function = js_sys::Reflect::get(&global, &"setTimeout".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let sentinel: JsValue = js_sys::Object::new().into();
    #[allow(clippy::cast_precision_loss)]
    let delay = JsValue::from_f64(timeout_ms as f64);
    let resolves_to = sentinel.clone();
    let mut scheduled = true;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        scheduled = set_timeout
            .call3(&global, &resolve, &delay, &resolves_to)
            .is_ok();
    });
    scheduled.then_some((promise, sentinel))
}

impl WorkersKv {
    fn new(kv: Option<KvBinding>, timeout_ms: u64) -> Self {
        WorkersKv {
            kv,
            timeout_ms,
            read_deadline: std::cell::OnceCell::new(),
        }
    }

    fn binding(&self) -> Result<&KvBinding, StoreError> {
        self.kv
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("KV binding missing".to_owned()))
    }

    /// One KV call with the timeout; errors become log-safe `StoreError`s (`key` is scrubbed
    /// from their text: real KV errors name the key, which contains the session id).
    async fn call(&self, key: &str, method: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        let binding = self.binding()?;
        match with_timeout(self.timeout_ms, binding.call(method, args)).await {
            None => Err(StoreError::Timeout),
            Some(result) => result.map_err(|e| StoreError::Unavailable(scrubbed(js_text(&e), key))),
        }
    }
}

impl KeyValueStore for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let Some((deadline, sentinel)) = self
            .read_deadline
            .get_or_init(|| deadline(self.timeout_ms))
            .as_ref()
        else {
            // No timer could be set: fall back to one of our own for this read.
            return Ok(self.call(key, "get", &[key.into()]).await?.as_string());
        };
        let unavailable = |e: JsValue| StoreError::Unavailable(scrubbed(js_text(&e), key));
        let read = self
            .binding()?
            .start("get", &[key.into()])
            .map_err(unavailable)?;
        let race = js_sys::Promise::race(&js_sys::Array::of2(&read, deadline));
        let value = JsFuture::from(race).await.map_err(unavailable)?;
        if js_sys::Object::is(&value, sentinel) {
            return Err(StoreError::Timeout);
        }
        Ok(value.as_string())
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        let options = js_sys::Object::new();
        // TTLs are whole seconds far below 2^53, exact as a JavaScript number.
        #[allow(clippy::cast_precision_loss)]
        let ttl = JsValue::from_f64(ttl_seconds as f64);
        js_sys::Reflect::set(&options, &"expirationTtl".into(), &ttl)
            .map_err(|_| StoreError::Unavailable("building the put options".to_owned()))?;
        self.call(key, "put", &[key.into(), value.into(), options.into()])
            .await
            .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(key, "delete", &[key.into()]).await.map(drop)
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let binding = self.binding()?;
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = binding.list_page(prefix, cursor.as_deref());
            let (names, next) = match with_timeout(self.timeout_ms, page).await {
                None => return Err(StoreError::Timeout),
                Some(result) => {
                    result.map_err(|e| StoreError::Unavailable(scrubbed(js_text(&e), prefix)))?
                }
            };
            keys.extend(names);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}

/// Where forwarded requests go.
pub(crate) enum Upstream {
    /// `fetch` to the configured origin; redirects are passed back to the client, not followed.
    Fetch,
    /// A JavaScript function `(Request) => Response | Promise<Response>` (the embedding app),
    /// called with the request at its own URL.
    #[cfg_attr(not(feature = "embed"), allow(dead_code))]
    Handler(js_sys::Function),
}

struct RuntimeOrigin {
    upstream: Upstream,
    timeout_ms: u64,
    /// The configured origin (`ORIGIN_URL`'s base and path prefix) and the request's own origin:
    /// a handler gets the request with the second in place of the first.
    configured_origin: String,
    request_origin: String,
}

impl RuntimeOrigin {
    fn outbound(
        &self,
        request: OriginRequest<Option<web_sys::ReadableStream>>,
    ) -> Result<Request, OriginError> {
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
        let url = match (
            &self.upstream,
            request.url.strip_prefix(&self.configured_origin),
        ) {
            (Upstream::Handler(_), Some(path_and_query)) => {
                format!("{}{path_and_query}", self.request_origin)
            }
            _ => request.url,
        };
        Request::new_with_init(&url, &init)
            .map_err(|e| OriginError::Unreachable(format!("building the request: {e}")))
    }

    async fn call_handler(
        &self,
        function: &js_sys::Function,
        outbound: Request,
    ) -> Result<Response, OriginError> {
        let request: &JsValue = outbound.inner().as_ref();
        let returned = function
            .call1(&JsValue::UNDEFINED, request)
            .map_err(|e| OriginError::Unreachable(format!("handler threw: {}", js_text(&e))))?;
        let settled = with_timeout(
            self.timeout_ms,
            JsFuture::from(js_sys::Promise::resolve(&returned)),
        )
        .await
        .ok_or(OriginError::Timeout)?
        .map_err(|e| OriginError::Unreachable(format!("handler rejected: {}", js_text(&e))))?;
        settled
            .dyn_into::<web_sys::Response>()
            .map(Response::from)
            .map_err(|_| OriginError::Unreachable("handler did not return a Response".to_owned()))
    }
}

/// A thrown JavaScript value as bounded log text.
fn js_text(value: &JsValue) -> String {
    let text = value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "a non-Error value".to_owned());
    scrubbed(text, "")
}

impl Origin for RuntimeOrigin {
    type RequestBody = Option<web_sys::ReadableStream>;
    type ResponseBody = Response;

    async fn send(
        &self,
        request: OriginRequest<Self::RequestBody>,
    ) -> Result<OriginResponse<Response>, OriginError> {
        let outbound = self.outbound(request)?;
        let response = match &self.upstream {
            Upstream::Handler(function) => self.call_handler(function, outbound).await?,
            Upstream::Fetch => {
                // The runtime's own timer aborts the fetch (no Rust-side timer per request).
                let millis = u32::try_from(self.timeout_ms).unwrap_or(u32::MAX);
                let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(millis));
                match Fetch::Request(outbound).send_with_signal(&signal).await {
                    Err(_) if signal.aborted() => return Err(OriginError::Timeout),
                    Err(e) => return Err(OriginError::Unreachable(e.to_string())),
                    Ok(response) => response,
                }
            }
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
        Body::Gateway(text) => builder.fixed(text.into_bytes()),
        Body::Origin(origin_response) => {
            let (_, body) = origin_response.into_parts();
            builder.body(body)
        }
    })
}

pub(crate) fn refusal_response(refusal: Refusal) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.append("content-type", "application/json")?;
    Ok(ResponseBuilder::new()
        .with_status(refusal.status())
        .with_headers(headers)
        .fixed(refusal.body().into_bytes()))
}

/// One request through the gate: logs its line, hands the refresh writes to `run_later`
/// (`waitUntil`), and answers 500 only if the response itself cannot be built.
pub(crate) async fn serve(
    config: &LoadedConfig,
    kv: Option<KvBinding>,
    upstream: Upstream,
    request: Request,
    run_later: &dyn Fn(BackgroundTask),
) -> worker::Result<Response> {
    // The runtime's URL string is already WHATWG-normalized; splitting it here instead of
    // re-parsing with the `url` crate keeps its IDNA tables out of the binary.
    let url = request.inner().url();
    let Some((request_origin, path, query)) = gate::split_request_url(&url) else {
        return refusal_response(Refusal::InternalError);
    };
    let gate_request = GateRequest {
        method: request.method().to_string(),
        origin: request_origin.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: request.headers().entries().collect(),
        body: request.inner().body(),
    };
    let kv_timeout_ms = config.session.as_ref().map_or(2000, |s| s.kv_timeout_ms);
    let store = Rc::new(WorkersKv::new(kv, kv_timeout_ms));
    let forward = config.forward.as_ref();
    let origin = RuntimeOrigin {
        upstream,
        timeout_ms: forward.map_or(30_000, |f| f.origin_timeout_ms),
        configured_origin: forward.map_or(String::new(), |f| {
            format!("{}{}", f.origin_base, f.origin_path_prefix)
        }),
        request_origin: request_origin.to_owned(),
    };
    let outcome = gate::handle(
        config,
        store.as_ref(),
        &origin,
        gate_request,
        Date::now().as_millis(),
    )
    .await;
    console_log!("{}", outcome.log.to_json());
    for write in outcome.background {
        let store = store.clone();
        run_later(Box::pin(async move {
            if let Err(e) = store.put(&write.key, &write.value, write.ttl_seconds).await {
                log_error("touch_failed", Some(&format!("{e:?}")), &[]);
            }
        }));
    }
    match to_worker_response(outcome.response) {
        Ok(response) => Ok(response),
        Err(e) => {
            log_error("response_error", Some(&e.to_string()), &[]);
            refusal_response(Refusal::InternalError)
        }
    }
}
