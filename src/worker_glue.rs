//! The standalone Worker: the `fetch` entry point and configuration from `env`. The KV and origin
//! adapters live in `runtime`; everything that decides anything lives in the platform-free core.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{event, Context, Env};

use crate::config::{self, ConfigError, LoadedConfig};
use crate::runtime::{self, KvBinding, Upstream};
use crate::store::IsolateMemory;

/// Name of the KV namespace binding.
const KV_BINDING: &str = "SESSIONS";

/// What an isolate keeps between requests.
struct Isolate {
    config: LoadedConfig,
    kv: Option<KvBinding>,
    memory: Rc<IsolateMemory>,
}

thread_local! {
    /// Read and validated once per isolate: `env` does not change within one, the HMAC key
    /// states are prepared here, not per request, and the session cache and the record of recent
    /// activity refreshes live as long.
    static ISOLATE: RefCell<Option<Rc<Isolate>>> = const { RefCell::new(None) };
}

fn isolate_for(env: &Env) -> Rc<Isolate> {
    if let Some(isolate) = ISOLATE.with(|i| i.borrow().clone()) {
        return isolate;
    }
    let mut config = config::load(
        &|name| runtime::property_text(env, name),
        worker::Date::now().as_millis(),
    );
    let kv = KvBinding::from_property(env, KV_BINDING);
    if kv.is_none() {
        config.errors.push(ConfigError::MissingKvBinding {
            binding: KV_BINDING,
        });
        config.session = None;
    }
    // Logged once per isolate, with every problem.
    runtime::log_config_errors(&config);
    let isolate = Rc::new(Isolate {
        memory: runtime::isolate_memory(&config),
        config,
        kv,
    });
    ISOLATE.with(|i| *i.borrow_mut() = Some(isolate.clone()));
    isolate
}

#[event(fetch)]
async fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<web_sys::Response> {
    let isolate = isolate_for(&env);
    runtime::serve(
        &isolate.config,
        isolate.kv.clone(),
        &isolate.memory,
        Upstream::Fetch,
        request,
        &|task| ctx.wait_until(task),
    )
    .await
    .map_err(worker::Error::from)
}
