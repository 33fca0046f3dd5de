// The embeddable gate for JavaScript Workers (Cloudflare Workers / workerd only: it needs a KV
// namespace binding). The Rust `Gate` runs the same request flow as the standalone Worker.
import wasmModule from '../dist/gate_bg.wasm';
import { Gate, initSync } from '../dist/gate.js';

initSync({ module: wasmModule });

/**
 * Creates a gate. `options` takes the standalone Worker's settings by their `wrangler.toml` names
 * (so `{ ...env, kv: env.SESSIONS }` works) and `kv`, the KV namespace binding. Throws an Error
 * listing every configuration problem. Create it once per isolate and reuse it.
 */
export function createGate(options) {
  const gate = new Gate(options);
  return Object.freeze({
    /**
     * Answers `request`. Without `handler`, requests the gate lets through go to `ORIGIN_URL`;
     * with it, they go to `handler(request)` (the embedding app) with the user and assertion
     * headers set and every client-supplied identity header removed. A WebSocket handshake
     * reaches `handler` with `Upgrade: websocket`; its `101` response's `webSocket` is relayed.
     */
    fetch(request, ctx, handler) {
      if (handler !== undefined && typeof handler !== 'function') {
        throw new TypeError('gate.fetch: handler must be a function (request) => Response');
      }
      return gate.fetch(request, ctx ?? undefined, handler);
    },
  });
}
