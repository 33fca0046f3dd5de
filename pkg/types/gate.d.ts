// Types of `sessiongate/gate` (Cloudflare Workers only).

/** The subset of a Workers KV namespace binding the gate uses. */
export interface KVNamespaceLike {
  get(key: string, type?: unknown): Promise<unknown>;
  put(key: string, value: string, options?: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: unknown): Promise<unknown>;
}

/**
 * The standalone Worker's settings, by their `wrangler.toml` names (see the sessiongate README's
 * configuration table), plus `kv`. `ORIGIN_URL` is only needed when `fetch` gets no handler.
 */
export interface GateOptions {
  kv: KVNamespaceLike;
  SESSION_SECRET: string;
  ASSERTION_SECRET: string;
  ORIGIN_URL?: string;
  /** The assertion's `aud` claim: a string, or a JSON array of strings (none when unset). */
  ASSERTION_AUDIENCE?: string;
  /**
   * The operators of the admin API under `{GATEWAY_PATH}/admin/`: operator name → token (each at
   * least 32 bytes), as an object or its JSON text. Without it there is no admin API.
   */
  ADMIN_TOKENS?: string | Record<string, string>;
  /** At login, the user's oldest sessions beyond this many end (off when unset or 0). */
  MAX_SESSIONS_PER_USER?: string | number;
  [setting: string]: unknown;
}

export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

export interface Gate {
  /**
   * Answers `request`: refusals, the gateway's own endpoints, login and logout handling; requests it
   * lets through go to `handler` (or to `ORIGIN_URL` without one) with the user and assertion headers.
   * A WebSocket handshake reaches `handler` with `Upgrade: websocket`; answer it with a `101`
   * `Response` carrying a `webSocket` (a `WebSocketPair`'s client end): the gate relays it and
   * closes it with 4401 when the session ends.
   */
  fetch(
    request: Request,
    ctx?: ExecutionContextLike | null,
    handler?: (request: Request) => Response | Promise<Response>,
  ): Promise<Response>;
}

/** Validates `options` (throws an Error naming every problem) and prepares the keys. */
export function createGate(options: GateOptions): Gate;
