//! The embeddable gate of the npm package (feature `embed`): a JavaScript Worker creates a
//! [`Gate`] with its own options and KV binding and calls it from its own `fetch` handler. It runs
//! the same flow as the standalone Worker (`gate::handle` through the `runtime` adapters); the only
//! difference is where an authenticated request goes: to `ORIGIN_URL` with `fetch`, or to a
//! handler function of the embedding app (for example a Hono app's `fetch`).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::futures::future_to_promise;
use wasm_bindgen::prelude::*;

use crate::config::{self, LoadedConfig, OriginUrl};
use crate::runtime::{self, BackgroundTask, KvBinding, Upstream};
use crate::store::IsolateMemory;

/// Property of the options object that holds the KV namespace binding.
const KV_OPTION: &str = "kv";

/// A configured gate. Build it once per isolate (configuration is validated and HMAC keys are
/// prepared in the constructor), then call [`Gate::fetch`] per request.
#[wasm_bindgen]
pub struct Gate {
    state: Rc<GateState>,
}

struct GateState {
    config: LoadedConfig,
    kv: KvBinding,
    has_origin_url: bool,
    memory: Rc<IsolateMemory>,
}

#[wasm_bindgen]
impl Gate {
    /// `options` has the same names as the Worker's `[vars]` and secrets (`SESSION_SECRET`,
    /// `ASSERTION_SECRET`, `COOKIE_NAME`, `PUBLIC_PATHS`, …) plus `kv`, the KV namespace binding.
    /// Throws with every configuration problem (names of settings, never secret values).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Gate, JsError> {
        if !options.is_object() {
            return Err(JsError::new(
                "sessiongate: createGate needs an options object",
            ));
        }
        let kv = KvBinding::from_property(&options, KV_OPTION).ok_or_else(|| {
            JsError::new(
                "sessiongate: options.kv must be a KV namespace binding (e.g. env.SESSIONS)",
            )
        })?;
        // An app that passes a handler to every `fetch` needs no ORIGIN_URL.
        let config = config::load_with(
            &|name| runtime::property_text(&options, name),
            OriginUrl::Optional,
            js_sys::Date::now() as u64,
        );
        if !config.errors.is_empty() {
            let errors: Vec<String> = config.errors.iter().map(ToString::to_string).collect();
            return Err(JsError::new(&format!(
                "sessiongate configuration: {}",
                errors.join("; ")
            )));
        }
        let has_origin_url = config
            .forward
            .as_ref()
            .is_some_and(|f| f.origin_url.is_some());
        Ok(Gate {
            state: Rc::new(GateState {
                memory: runtime::isolate_memory(&config),
                config,
                kv,
                has_origin_url,
            }),
        })
    }

    /// Handles one request and resolves to the `Response` for the client. `ctx` is the Worker's
    /// execution context (its `waitUntil` runs the session refresh after the response; without
    /// it the refresh is awaited before resolving). `handler`, when given, receives each request
    /// the gate lets through (with the user and assertion headers) instead of `ORIGIN_URL`.
    pub fn fetch(
        &self,
        request: web_sys::Request,
        ctx: JsValue,
        handler: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let state = self.state.clone();
        future_to_promise(async move {
            let upstream = match handler {
                Some(function) => Upstream::Handler(function),
                None if state.has_origin_url => Upstream::Fetch,
                None => {
                    return Err(JsError::new(
                        "sessiongate: gate.fetch needs a handler when ORIGIN_URL is not set",
                    )
                    .into())
                }
            };
            let wait_until = wait_until_of(&ctx);
            let later = RefCell::new(Vec::<BackgroundTask>::new());
            let response = runtime::serve(
                &state.config,
                Some(state.kv.clone()),
                &state.memory,
                upstream,
                request,
                &|task| match &wait_until {
                    Some(function) => {
                        let promise = future_to_promise(async move {
                            task.await;
                            Ok(JsValue::UNDEFINED)
                        });
                        if function.call1(&ctx, &promise).is_err() {
                            // waitUntil refused (e.g. called after the event ended): the task
                            // still runs as the promise's own microtask chain.
                        }
                    }
                    None => later.borrow_mut().push(task),
                },
            )
            .await?;
            for task in later.into_inner() {
                task.await;
            }
            Ok(response.into())
        })
    }
}

/// `ctx.waitUntil`, when `ctx` has one.
fn wait_until_of(ctx: &JsValue) -> Option<js_sys::Function> {
    js_sys::Reflect::get(ctx, &JsValue::from_str("waitUntil"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
}
