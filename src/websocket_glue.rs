//! The WebSocket relay of the runtime glue (shared by the standalone Worker and the embedded gate):
//! the origin's socket (from `fetch` with `Upgrade: websocket`, or a handler's `101` response) and
//! a `WebSocketPair` toward the client, messages passed both ways as they come (text as text,
//! binary as binary), a close on either side passed to the other, and the session re-checked every
//! `WEBSOCKET_RECHECK_SECONDS` through the same store chain as a request. What is accepted and
//! when a socket is closed is decided in [`crate::gate::websocket`]; this file only relays.

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::pin_mut;
use js_sys::futures::JsFuture;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{Date, Delay};

use crate::gate::websocket::WebSocketRelay;
use crate::gate::{Body, GateResponse};
use crate::runtime::{headers_from, log_decision, WorkersKv};
use crate::store::{CachedSessions, IsolateMemory, KvSessions};

// `fetchUpgrade`: the origin's `101` (or whatever it answers), or null when `timeoutMs` passes
// before its response head. Unlike `fetchOrigin`'s `AbortSignal.timeout`, the timer is cleared
// once the head arrives: an abort after that would tear the socket down.
//
// `openRelay`: accepts the origin's socket, makes the client's, passes messages and closes both
// ways, and answers the `101` for the client. Close codes that `close()` refuses are reported ones
// (1005 no status, 1006 abnormal, 1015 TLS): 1005 is passed on as a close without a code, a lost
// origin connection as 1014 (bad gateway) to the client, a lost client as 1001 (going away) to the
// origin. `binaryType` is set so binary messages come as ArrayBuffers (newer compatibility dates
// default to Blob, which `send` would turn into text).
#[wasm_bindgen(inline_js = r#"
export function fetchUpgrade(url, method, headers, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  return fetch(url, { method, headers, redirect: 'manual', signal: controller.signal }).then(
    (response) => { clearTimeout(timer); return response; },
    (error) => { clearTimeout(timer); if (controller.signal.aborted) return null; throw error; },
  );
}
const REPORTED_ONLY = [1005, 1006, 1015];
export function openRelay(response, headers) {
  const origin = response.webSocket;
  if (!origin) return null;
  const pair = new WebSocketPair();
  const client = pair[0];
  const gate = pair[1];
  origin.accept();
  gate.accept();
  origin.binaryType = 'arraybuffer';
  gate.binaryType = 'arraybuffer';
  let settle;
  const closed = new Promise((resolve) => { settle = resolve; });
  const close = (socket, code, reason) => {
    try {
      if (code === undefined) socket.close();
      else socket.close(code, reason);
    } catch {
      // Already closed or closing.
    }
    settle();
  };
  const pipe = (from, to, lost, lostReason) => {
    from.addEventListener('message', (event) => {
      try {
        to.send(event.data);
      } catch {
        // The other side is closing: its close event ends the relay.
      }
    });
    from.addEventListener('close', (event) => {
      if (event.code === 1005) close(to);
      else if (REPORTED_ONLY.includes(event.code)) close(to, lost, lostReason);
      else close(to, event.code, event.reason);
    });
    from.addEventListener('error', () => close(to, lost, lostReason));
  };
  pipe(origin, gate, 1014, 'origin connection lost');
  pipe(gate, origin, 1001, 'client connection lost');
  return {
    response: new Response(null, { status: 101, webSocket: client, headers }),
    closed,
    close(code, reason) {
      close(gate, code, reason);
      close(origin, code, reason);
    },
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fetchUpgrade, catch)]
    pub(crate) fn fetch_upgrade(
        url: &str,
        method: &str,
        headers: &web_sys::Headers,
        timeout_ms: f64,
    ) -> Result<js_sys::Promise, JsValue>;

    /// A relay between the origin's socket and the client's.
    type Relay;
    #[wasm_bindgen(js_name = openRelay, catch)]
    fn open_relay(
        response: &web_sys::Response,
        headers: &web_sys::Headers,
    ) -> Result<Option<Relay>, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn response(this: &Relay) -> web_sys::Response;
    #[wasm_bindgen(method, getter)]
    fn closed(this: &Relay) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn close(this: &Relay, code: u16, reason: &str);
}

/// What re-checking a socket's session needs from the request that opened it.
pub(crate) struct Recheck {
    /// The request's KV store (a fresh read budget is started for every re-check).
    pub kv: Rc<WorkersKv>,
    /// The isolate's session cache and refresh memory.
    pub memory: Rc<IsolateMemory>,
}

/// The client's `101` for an origin's: the relay is opened and, for a socket with a session, its
/// re-checks are started. `Err` when the origin's response carries no socket.
pub(crate) fn relay(
    response: GateResponse<web_sys::Response>,
    websocket: WebSocketRelay,
    recheck: Recheck,
) -> Result<web_sys::Response, JsValue> {
    let origin_response = match response.body {
        Body::Origin(r) | Body::OriginAsIs(r) => r,
        Body::Gateway(_) => return Err(JsValue::from_str("no origin response to relay")),
    };
    let headers = headers_from(&response.headers)?;
    let relay = open_relay(&origin_response, &headers)?
        .ok_or_else(|| JsValue::from_str("the origin's 101 carries no WebSocket"))?;
    let client_response = relay.response();
    if let Some(every_ms) = websocket.recheck_every_ms() {
        js_sys::futures::spawn_local(watch(relay, websocket, every_ms, recheck));
    }
    Ok(client_response)
}

/// Re-checks the session every `every_ms` until the relay closes, and closes it when the session
/// is gone.
async fn watch(relay: Relay, websocket: WebSocketRelay, every_ms: u64, recheck: Recheck) {
    let closed = JsFuture::from(relay.closed());
    pin_mut!(closed);
    loop {
        let delay = Delay::from(Duration::from_millis(every_ms));
        pin_mut!(delay);
        if let Either::Right(_) = select(delay, closed.as_mut()).await {
            return;
        }
        let now_ms = Date::now().as_millis();
        let kv = recheck.kv.restarted(now_ms);
        let sessions = KvSessions::new(&kv);
        let store = CachedSessions::new(&sessions, &recheck.memory, now_ms);
        if let Some(mut close) = websocket.recheck(&store, now_ms).await {
            log_decision(&mut close.log, now_ms);
            relay.close(close.code, close.reason);
            return;
        }
    }
}
