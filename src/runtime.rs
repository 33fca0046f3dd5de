//! Workers runtime adapters shared by the standalone Worker (`worker_glue`) and the embeddable
//! gate of the npm package (`js_gate`): Workers KV as the [`KeyValueStore`], the origin as an
//! [`Origin`] (a `fetch`, or a JavaScript handler function), and [`serve`], which moves one
//! request through [`gate::handle`] over the core's session store. Nothing here decides anything.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use js_sys::futures::JsFuture;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{Date, Delay};

use crate::config::LoadedConfig;
use crate::gate::{
    self, Body, GateRequest, GateResponse, LogLine, Origin, OriginError, OriginRequest,
    OriginResponse, Refusal,
};
use crate::headers::header_value;
use crate::store::{
    CachedSessions, IsolateMemory, KeyPage, KeyValueStore, KvSessions, SessionStore, StoreError,
};
use crate::websocket_glue;

/// What an isolate keeps between requests under `config` (nothing when the session settings
/// are invalid: no session is ever loaded then).
pub(crate) fn isolate_memory(config: &LoadedConfig) -> Rc<IsolateMemory> {
    Rc::new(
        config
            .session
            .as_ref()
            .map_or_else(|| IsolateMemory::new(0, 0), |s| s.isolate_memory()),
    )
}

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
    } else if let Some(flag) = value.as_bool() {
        Some(flag.to_string())
    } else if value.is_object() {
        // An embedding app may pass a JSON setting as an object or array (`ADMIN_TOKENS`,
        // `ASSERTION_AUDIENCE`): its JSON text.
        js_sys::JSON::stringify(&value).ok().map(String::from)
    } else {
        None
    }
}

/// A log line of the glue's own (request decisions are logged as `gate::LogLine`).
#[derive(serde::Serialize)]
struct GlueEvent<'a> {
    event: &'a str,
    level: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    config_errors: &'a [String],
}

// One log line as an object, not a string: Workers Logs and Tail Workers then see its fields
// (`console.log` of a JSON string is a string to them). The JSON crosses the boundary once and
// is parsed on the JavaScript side.
#[wasm_bindgen(inline_js = r#"
export function logObject(level, json) {
  let line;
  try { line = JSON.parse(json); } catch { line = { event: 'log_error', level: 'error' }; }
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = logObject)]
    fn log_object(level: &str, json: &str);
}

/// Logs the line of a decision that began at `started_ms` (a request, or a WebSocket's session
/// re-check), with its duration, at its level; a quiet line is not logged.
pub(crate) fn log_decision(log: &mut LogLine, started_ms: u64) {
    if !log.quiet {
        log.duration_ms = Date::now().as_millis().saturating_sub(started_ms);
        log_object(log.level, &log.to_json());
    }
}

fn log_error(event: &str, detail: Option<&str>, config_errors: &[String]) {
    let line = GlueEvent {
        event,
        level: "error",
        detail,
        config_errors,
    };
    log_object("error", &serde_json::to_string(&line).unwrap_or_default());
}

/// Logs the configuration problems once (never a secret's value: errors only name settings).
#[cfg(feature = "worker")]
pub(crate) fn log_config_errors(config: &LoadedConfig) {
    if !config.errors.is_empty() {
        let errors: Vec<String> = config.errors.iter().map(ToString::to_string).collect();
        log_error("config_error", None, &errors);
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

    /// One page of `list({ prefix, cursor })`: key names, their metadata (JSON text), and the
    /// cursor of the next page.
    async fn list_page(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, JsValue> {
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"prefix".into(), &prefix.into())?;
        if let Some(cursor) = cursor {
            js_sys::Reflect::set(&options, &"cursor".into(), &cursor.into())?;
        }
        let page = self.call("list", &[options.into()]).await?;
        let keys = js_sys::Array::from(&js_sys::Reflect::get(&page, &"keys".into())?);
        let mut names = Vec::new();
        let mut metadata = Vec::new();
        for key in keys.iter() {
            let Some(name) = js_sys::Reflect::get(&key, &"name".into())?.as_string() else {
                continue;
            };
            let meta = js_sys::Reflect::get(&key, &"metadata".into())?;
            let meta = if meta.is_object() {
                js_sys::JSON::stringify(&meta).ok().map(String::from)
            } else {
                None
            };
            names.push(name);
            metadata.push(meta);
        }
        let complete = js_sys::Reflect::get(&page, &"list_complete".into())?
            .as_bool()
            .unwrap_or(true);
        let next = js_sys::Reflect::get(&page, &"cursor".into())?
            .as_string()
            .filter(|c| !complete && !c.is_empty());
        Ok(KeyPage {
            keys: names,
            cursor: next,
            metadata,
        })
    }
}

/// Workers KV with a time limit on every operation. `kv` is `None` when the binding is missing,
/// and every operation then fails (closed).
///
/// Reads (a session's record and activity; on the sessions page, the other sessions) share one
/// time budget per store, that is per request: each read gets what is left of `timeout_ms` since
/// the store was made (the runtime's clock advances between I/O, which is where it matters). They
/// go through [`read_keys`]: one call across the boundary, one bulk KV read for both keys of a
/// session, and a timer that is cleared as soon as they are read, so none outlives its request.
/// Writes, deletes and lists have a timer each.
pub(crate) struct WorkersKv {
    kv: Option<KvBinding>,
    timeout_ms: u64,
    started_ms: f64,
}

// The values of `keys` (strings or null), raced against a timer that is cleared when they are
// read; null when the time is up. Several keys go in one bulk read, `kv.get([...])`, which answers
// a Map: one KV operation instead of one per key (and, in Cloudflare's words, faster than separate
// reads). A binding that answers anything else (a runtime from before bulk reads, which takes the
// array for one key's name, or a stand-in store), or refuses the array with a TypeError (a stand-in
// store checking that a key is a string), is remembered and read key by key from then on. Any
// other failure is an outage, the caller's to report.
#[wasm_bindgen(inline_js = r#"
const keyByKey = new WeakSet();
async function readAll(kv, keys) {
  if (keys.length > 1 && !keyByKey.has(kv)) {
    let found;
    try {
      found = await kv.get(keys);
    } catch (error) {
      if (error?.name !== 'TypeError') throw error;
    }
    if (found instanceof Map) return keys.map((key) => found.get(key) ?? null);
    keyByKey.add(kv);
  }
  return Promise.all(keys.map((key) => kv.get(key)));
}
export function readKeys(kv, keys, timeoutMs) {
  if (timeoutMs <= 0) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, timeoutMs, null);
    readAll(kv, keys).then(
      (values) => { clearTimeout(timer); resolve(values); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = readKeys, catch)]
    fn read_keys(
        kv: &JsValue,
        keys: &js_sys::Array,
        timeout_ms: f64,
    ) -> Result<js_sys::Promise, JsValue>;
}

impl WorkersKv {
    /// A store for one request that started at `started_ms` (its read budget counts from there).
    fn new(kv: Option<KvBinding>, timeout_ms: u64, started_ms: u64) -> Self {
        // Milliseconds since 1970: far below 2^53, exact as a JavaScript number.
        let started_ms = started_ms as f64;
        WorkersKv {
            kv,
            timeout_ms,
            started_ms,
        }
    }

    /// The same binding and limits with a read budget that starts at `started_ms` (a WebSocket's
    /// session re-check, long after its request).
    pub(crate) fn restarted(&self, started_ms: u64) -> Self {
        WorkersKv::new(self.kv.clone(), self.timeout_ms, started_ms)
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

    /// The values of `keys`, read together within what is left of the read budget.
    async fn read(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let binding = self.binding()?;
        let unavailable = |e: JsValue| {
            let text = keys
                .iter()
                .fold(js_text(&e), |text, key| scrubbed(text, key));
            StoreError::Unavailable(text)
        };
        let budget_ms = self.timeout_ms as f64 - (js_sys::Date::now() - self.started_ms);
        let names: js_sys::Array = keys.iter().map(|key| JsValue::from_str(key)).collect();
        let promise = read_keys(&binding.namespace, &names, budget_ms).map_err(unavailable)?;
        let values = JsFuture::from(promise).await.map_err(unavailable)?;
        if values.is_null() {
            return Err(StoreError::Timeout);
        }
        let values: js_sys::Array = values
            .dyn_into()
            .map_err(|_| StoreError::Unavailable("KV reads returned no list".to_owned()))?;
        Ok(values.iter().map(|value| value.as_string()).collect())
    }
}

impl WorkersKv {
    /// `put(key, value, { expirationTtl, metadata })`.
    async fn put_with(
        &self,
        key: &str,
        value: &str,
        ttl_seconds: u64,
        metadata: Option<&str>,
    ) -> Result<(), StoreError> {
        let options = js_sys::Object::new();
        let building = |_| StoreError::Unavailable("building the put options".to_owned());
        // TTLs are whole seconds far below 2^53, exact as a JavaScript number.
        let ttl = JsValue::from_f64(ttl_seconds as f64);
        js_sys::Reflect::set(&options, &"expirationTtl".into(), &ttl).map_err(building)?;
        if let Some(metadata) = metadata {
            let metadata = js_sys::JSON::parse(metadata).map_err(building)?;
            js_sys::Reflect::set(&options, &"metadata".into(), &metadata).map_err(building)?;
        }
        self.call(key, "put", &[key.into(), value.into(), options.into()])
            .await
            .map(drop)
    }
}

impl KeyValueStore for WorkersKv {
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        self.read(keys).await
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        self.put_with(key, value, ttl_seconds, None).await
    }

    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        ttl_seconds: u64,
        metadata: &str,
    ) -> Result<(), StoreError> {
        self.put_with(key, value, ttl_seconds, Some(metadata)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(key, "delete", &[key.into()]).await.map(drop)
    }

    async fn list_page(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let binding = self.binding()?;
        match with_timeout(self.timeout_ms, binding.list_page(prefix, cursor)).await {
            None => Err(StoreError::Timeout),
            Some(result) => {
                result.map_err(|e| StoreError::Unavailable(scrubbed(js_text(&e), prefix)))
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

struct RuntimeOrigin<'a> {
    upstream: Upstream,
    timeout_ms: u64,
    /// What the request's path and query are appended to: `ORIGIN_URL` for `Fetch`, the
    /// request's own origin for a handler (which gets the request at its own URL).
    base: &'a str,
}

/// The headers of a request to the origin (the handler or `fetch`), as a runtime `Headers`.
fn origin_headers(pairs: &[(String, String)]) -> Result<web_sys::Headers, OriginError> {
    headers_from(pairs)
        .map_err(|e| OriginError::Unreachable(format!("building headers: {}", js_text(&e))))
}

impl RuntimeOrigin<'_> {
    /// The request a handler is called with, at the request's own URL.
    fn handler_request(
        &self,
        request: OriginRequest<Option<web_sys::ReadableStream>>,
    ) -> Result<web_sys::Request, OriginError> {
        let headers = origin_headers(&request.headers)?;
        let init = web_sys::RequestInit::new();
        init.set_method(&request.method.to_ascii_uppercase());
        init.set_headers(&headers);
        init.set_redirect(web_sys::RequestRedirect::Manual);
        if let Some(body) = &request.body {
            init.set_body(body);
        }
        let url = format!("{}{}", self.base, request.target);
        web_sys::Request::new_with_str_and_init(&url, &init)
            .map_err(|e| OriginError::Unreachable(format!("building the request: {}", js_text(&e))))
    }

    async fn call_handler(
        &self,
        function: &js_sys::Function,
        outbound: web_sys::Request,
    ) -> Result<web_sys::Response, OriginError> {
        let returned = function
            .call1(&JsValue::UNDEFINED, &outbound)
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
            .map_err(|_| OriginError::Unreachable("handler did not return a Response".to_owned()))
    }

    async fn call_fetch(
        &self,
        request: OriginRequest<Option<web_sys::ReadableStream>>,
    ) -> Result<web_sys::Response, OriginError> {
        let headers = origin_headers(&request.headers)?;
        let body = request.body.map_or(JsValue::NULL, JsValue::from);
        // Whole milliseconds far below 2^53, exact as a JavaScript number.
        let timeout_ms = self.timeout_ms as f64;
        let method = request.method.to_ascii_uppercase();
        let url = format!("{}{}", self.base, request.target);
        // Only an accepted WebSocket handshake has `Upgrade` (hygiene strips the client's).
        let fetched = if header_value(&request.headers, "upgrade").is_some() {
            websocket_glue::fetch_upgrade(&url, &method, &headers, timeout_ms)
        } else {
            fetch_origin(
                &url,
                &method,
                &headers,
                &body,
                timeout_ms,
                request.identified,
            )
        }
        .map_err(|e| OriginError::Unreachable(js_text(&e)))?;
        match JsFuture::from(fetched).await {
            Err(e) => Err(OriginError::Unreachable(js_text(&e))),
            Ok(response) if response.is_null() => Err(OriginError::Timeout),
            Ok(response) => response.dyn_into::<web_sys::Response>().map_err(|_| {
                OriginError::Unreachable("fetch did not return a Response".to_owned())
            }),
        }
    }
}

// The origin's response, or null when `timeoutMs` has passed (the runtime's own timer aborts the
// fetch: no Rust-side timer per request). One call across the boundary, with a plain init object:
// building a `RequestInit` and a `Request` from Rust took a crossing per field, and a profile under
// load put that at about 7% of the Worker's time. A request with an identity is never answered
// from a cache (`cache: 'no-store'`, supported by workerd from compatibility date 2024-11-11): a
// cache keys on the URL, not on who asks.
#[wasm_bindgen(inline_js = r#"
export function fetchOrigin(url, method, headers, body, timeoutMs, identified) {
  const signal = AbortSignal.timeout(timeoutMs);
  const init = { method, headers, body, redirect: 'manual', signal };
  if (identified) init.cache = 'no-store';
  return fetch(url, init).catch((error) => {
    if (signal.aborted) return null;
    throw error;
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fetchOrigin, catch)]
    fn fetch_origin(
        url: &str,
        method: &str,
        headers: &web_sys::Headers,
        body: &JsValue,
        timeout_ms: f64,
        identified: bool,
    ) -> Result<js_sys::Promise, JsValue>;
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

// Headers cross the JS/Wasm boundary as one string each way, `name:value` lines, instead of a
// call per header and per part: a profile under load put the per-header crossings at about a
// tenth of the Worker's time. The format is unambiguous: names are tokens (no `:`), and the
// runtime refuses `\n` in names and values.
#[wasm_bindgen(inline_js = r#"
export function headerLines(headers) {
  let text = '';
  for (const [name, value] of headers) text += name + ':' + value + '\n';
  return text;
}
export function headersFromLines(text) {
  const headers = new Headers();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon), line.slice(colon + 1));
  }
  return headers;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = headerLines)]
    fn header_lines(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(js_name = headersFromLines, catch)]
    fn headers_from_lines(text: &str) -> Result<web_sys::Headers, JsValue>;
}

/// Every header as a (name, value) pair, in the runtime's order (names lowercase).
fn header_pairs(headers: &web_sys::Headers) -> Vec<(String, String)> {
    header_lines(headers)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// A `Headers` object with `pairs`, in order. The runtime validates them (and throws).
pub(crate) fn headers_from(pairs: &[(String, String)]) -> Result<web_sys::Headers, JsValue> {
    let representable = pairs
        .iter()
        .all(|(name, value)| !name.contains([':', '\n']) && !value.contains('\n'));
    if !representable {
        // Not valid header text anyway: one call per header lets the runtime say which.
        let headers = web_sys::Headers::new()?;
        for (name, value) in pairs {
            headers.append(name, value)?;
        }
        return Ok(headers);
    }
    let mut text = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in pairs {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    headers_from_lines(&text)
}

impl Origin for RuntimeOrigin<'_> {
    type RequestBody = Option<web_sys::ReadableStream>;
    type ResponseBody = web_sys::Response;

    async fn send(
        &self,
        request: OriginRequest<Self::RequestBody>,
    ) -> Result<OriginResponse<web_sys::Response>, OriginError> {
        let response = match &self.upstream {
            Upstream::Handler(function) => {
                self.call_handler(function, self.handler_request(request)?)
                    .await?
            }
            Upstream::Fetch => self.call_fetch(request).await?,
        };
        Ok(OriginResponse {
            status: response.status(),
            headers: header_pairs(&response.headers()),
            body: response,
        })
    }
}

/// Status and headers of a response the glue builds.
fn response_init(
    status: u16,
    headers: &[(String, String)],
) -> Result<web_sys::ResponseInit, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers_headers(&headers_from(headers)?);
    Ok(init)
}

/// The client's response: the origin's response object itself when the gate changed nothing, the
/// origin's body streamed through under the gate's headers, or the gateway's own text.
fn runtime_response(
    response: GateResponse<web_sys::Response>,
) -> Result<web_sys::Response, JsValue> {
    match response.body {
        Body::OriginAsIs(origin_response) => Ok(origin_response),
        Body::Origin(origin_response) => web_sys::Response::new_with_opt_readable_stream_and_init(
            origin_response.body().as_ref(),
            &response_init(response.status, &response.headers)?,
        ),
        // Bytes, not a string: a string body would add `content-type: text/plain` when the
        // gateway sets none.
        Body::Gateway(text) => web_sys::Response::new_with_opt_u8_array_and_init(
            Some(&mut text.into_bytes()),
            &response_init(response.status, &response.headers)?,
        ),
    }
}

pub(crate) fn refusal_response(refusal: Refusal) -> Result<web_sys::Response, JsValue> {
    runtime_response(GateResponse {
        status: refusal.status(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Body::Gateway(refusal.body()),
    })
}

/// One request through the gate: logs its line, hands the refresh writes to `run_later`
/// (`waitUntil`), and answers 500 only if the response itself cannot be built.
///
/// Takes the runtime's own `Request` (not worker-rs's wrapper, whose conversion reads
/// `request.cf`, a measurable cost per request that nothing here needs).
pub(crate) async fn serve(
    config: &LoadedConfig,
    kv: Option<KvBinding>,
    memory: &Rc<IsolateMemory>,
    upstream: Upstream,
    request: web_sys::Request,
    run_later: &dyn Fn(BackgroundTask),
) -> Result<web_sys::Response, JsValue> {
    // The runtime's URL string is already WHATWG-normalized; splitting it here instead of
    // re-parsing with the `url` crate keeps its IDNA tables out of the binary.
    let url = request.url();
    let Some((request_origin, path, query)) = gate::split_request_url(&url) else {
        return refusal_response(Refusal::InternalError);
    };
    let gate_request = GateRequest {
        method: request.method(),
        origin: request_origin.to_owned(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: header_pairs(&request.headers()),
        body: request.body(),
    };
    let now_ms = Date::now().as_millis();
    // Without valid session settings the gate reads no session, and without forwarding settings
    // it sends nothing to the origin: the zero limits below are then never used.
    let kv_timeout_ms = config.session.as_ref().map_or(0, |s| s.kv_timeout_ms);
    let kv = Rc::new(WorkersKv::new(kv, kv_timeout_ms, now_ms));
    let forward = config.forward.as_ref();
    let base = match upstream {
        Upstream::Handler(_) => request_origin,
        Upstream::Fetch => forward.and_then(|f| f.origin_url.as_deref()).unwrap_or(""),
    };
    let origin = RuntimeOrigin {
        upstream,
        timeout_ms: forward.map_or(0, |f| f.origin_timeout_ms),
        base,
    };
    let sessions = KvSessions::new(kv.as_ref());
    let store = CachedSessions::new(&sessions, memory, now_ms);
    let mut outcome = gate::handle(config, &store, &origin, gate_request, now_ms).await;
    log_decision(&mut outcome.log, now_ms);
    if let Some(refresh) = outcome.refresh {
        let memory = memory.clone();
        let kv = kv.clone();
        run_later(Box::pin(async move {
            // At most one refresh per session and interval in this isolate (see `store`).
            let sessions = KvSessions::new(kv.as_ref());
            let store = CachedSessions::new(&sessions, &memory, now_ms);
            if let Err(e) = store.refresh(&refresh).await {
                log_error("refresh_failed", Some(&e.to_string()), &[]);
            }
        }));
    }
    if let Some(websocket) = outcome.websocket {
        let recheck = websocket_glue::Recheck {
            kv,
            memory: memory.clone(),
        };
        return websocket_glue::relay(outcome.response, websocket, recheck).or_else(|e| {
            log_error("websocket_error", Some(&js_text(&e)), &[]);
            refusal_response(Refusal::OriginUnreachable)
        });
    }
    match runtime_response(outcome.response) {
        Ok(response) => Ok(response),
        Err(e) => {
            log_error("response_error", Some(&js_text(&e)), &[]);
            refusal_response(Refusal::InternalError)
        }
    }
}
