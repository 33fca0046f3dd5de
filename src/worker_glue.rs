//! The standalone Worker: the `fetch` entry point and configuration from `env`. The KV and origin
//! adapters live in `runtime`; everything that decides anything lives in the platform-free core.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{event, Context, Env, Request, Response};

use crate::config::{self, LoadedConfig};
use crate::runtime::{self, KvBinding, Upstream};

/// Name of the KV namespace binding.
const KV_BINDING: &str = "SESSIONS";

thread_local! {
    /// Configuration is read and validated once per isolate: `env` does not change within one,
    /// and the HMAC key states are prepared here, not per request.
    static CONFIG: RefCell<Option<Rc<LoadedConfig>>> = const { RefCell::new(None) };
}

fn config_for(env: &Env) -> Rc<LoadedConfig> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return config;
    }
    let mut loaded = config::load(&|name| runtime::property_text(env, name));
    if KvBinding::from_property(env, KV_BINDING).is_none() {
        loaded.errors.push(format!(
            "KV namespace binding {KV_BINDING} is missing: add [[kv_namespaces]] binding = \"{KV_BINDING}\" to wrangler.toml"
        ));
        loaded.session = None;
    }
    // Logged once per isolate, with every problem.
    runtime::log_config_errors(&loaded);
    let config = Rc::new(loaded);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    config
}

#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let config = config_for(&env);
    runtime::serve(
        &config,
        KvBinding::from_property(&env, KV_BINDING),
        Upstream::Fetch,
        request,
        &|task| ctx.wait_until(task),
    )
    .await
}
