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
    console_error, console_log, AbortController, Date, Delay, Fetch, Headers, KvStore, Method,
    Request, RequestInit, RequestRedirect, Response, ResponseBuilder,
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
    } else if let Some(number) = value.as_f64() {
        Some(format!("{number}"))
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

/// Runs one KV operation with the timeout; errors become log-safe `StoreError`s (`key` is
/// scrubbed from their text).
async fn kv_call<T>(
    timeout_ms: u64,
    key: &str,
    operation: impl Future<Output = Result<T, worker::KvError>>,
) -> Result<T, StoreError> {
    match with_timeout(timeout_ms, operation).await {
        None => Err(StoreError::Timeout),
        Some(result) => result.map_err(|e| StoreError::Unavailable(scrubbed(e, key))),
    }
}

/// A KV namespace binding: worker-rs's wrapper, and the JavaScript object itself (for `list`).
#[derive(Clone)]
pub(crate) struct KvBinding {
    store: KvStore,
    namespace: JsValue,
}

impl KvBinding {
    /// The binding held by `holder[name]` (`env.SESSIONS`, or `options.kv`), if it is one.
    pub(crate) fn from_property(holder: &JsValue, name: &str) -> Option<Self> {
        let store = KvStore::from_this(holder, name).ok()?;
        let namespace = js_sys::Reflect::get(holder, &JsValue::from_str(name)).ok()?;
        Some(KvBinding { store, namespace })
    }
}

/// Workers KV with a timeout on every operation. `kv` is `None` when the binding is missing, and
/// every operation then fails (closed).
struct WorkersKv {
    kv: Option<KvBinding>,
    timeout_ms: u64,
}

/// One page of `namespace.list({ prefix, cursor })`: key names and the next cursor. Called on the
/// binding directly: worker-rs decodes list results with serde-wasm-bindgen, about 10 KB of Wasm
/// for three fields.
async fn list_page(
    namespace: &JsValue,
    prefix: &str,
    cursor: Option<&str>,
) -> Result<(Vec<String>, Option<String>), JsValue> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"prefix".into(), &prefix.into())?;
    if let Some(cursor) = cursor {
        js_sys::Reflect::set(&options, &"cursor".into(), &cursor.into())?;
    }
    let list: js_sys::Function = js_sys::Reflect::get(namespace, &"list".into())?.dyn_into()?;
    let returned = list.call1(namespace, &options)?;
    let page = JsFuture::from(js_sys::Promise::resolve(&returned)).await?;
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

impl WorkersKv {
    fn binding(&self) -> Result<&KvBinding, StoreError> {
        self.kv
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("KV binding missing".to_owned()))
    }

    fn kv(&self) -> Result<&KvStore, StoreError> {
        self.binding().map(|b| &b.store)
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
            .map_err(|e| StoreError::Unavailable(scrubbed(e, key)))?
            .expiration_ttl(ttl_seconds);
        kv_call(self.timeout_ms, key, put.execute()).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        kv_call(self.timeout_ms, key, self.kv()?.delete(key)).await
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let namespace = &self.binding()?.namespace;
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = list_page(namespace, prefix, cursor.as_deref());
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
    /// called with the request at its own URL: `request_origin` replaces the configured origin.
    #[cfg_attr(not(feature = "embed"), allow(dead_code))]
    Handler {
        function: js_sys::Function,
        configured_origin: String,
        request_origin: String,
    },
}

pub(crate) struct RuntimeOrigin {
    pub(crate) upstream: Upstream,
    pub(crate) timeout_ms: u64,
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
        let url = match &self.upstream {
            Upstream::Fetch => request.url,
            Upstream::Handler {
                configured_origin,
                request_origin,
                ..
            } => match request.url.strip_prefix(configured_origin.as_str()) {
                Some(path_and_query) => format!("{request_origin}{path_and_query}"),
                None => request.url,
            },
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
            Upstream::Handler { function, .. } => self.call_handler(function, outbound).await?,
            Upstream::Fetch => {
                let controller = AbortController::default();
                let signal = controller.signal();
                let fetch = Fetch::Request(outbound);
                match with_timeout(self.timeout_ms, fetch.send_with_signal(&signal)).await {
                    None => {
                        controller.abort();
                        return Err(OriginError::Timeout);
                    }
                    Some(Err(e)) => return Err(OriginError::Unreachable(e.to_string())),
                    Some(Ok(response)) => response,
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
    let upstream = match upstream {
        Upstream::Handler { function, .. } => Upstream::Handler {
            function,
            configured_origin: config.forward.as_ref().map_or(String::new(), |f| {
                format!("{}{}", f.origin_base, f.origin_path_prefix)
            }),
            request_origin: request_origin.to_owned(),
        },
        Upstream::Fetch => Upstream::Fetch,
    };
    let gate_request = GateRequest {
        method: request.method().to_string(),
        origin: request_origin.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: request.headers().entries().collect(),
        body: request.inner().body(),
    };
    let store = Rc::new(WorkersKv {
        kv,
        timeout_ms: config.session.as_ref().map_or(2000, |s| s.kv_timeout_ms),
    });
    let origin = RuntimeOrigin {
        upstream,
        timeout_ms: config
            .forward
            .as_ref()
            .map_or(30_000, |f| f.origin_timeout_ms),
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
