// Types of `sessiongate/express`.
import type { Secret } from './index.js';
import type { AssertionErrorCode, VerifiedAssertion } from './origin.js';
export { AssertionError } from './origin.js';

export interface SessiongateMiddlewareOptions {
  /**
   * The gateway's ASSERTION_SECRET (at least 32 bytes), or during a rotation an array of up to three:
   * the current secret first, then the previous ones. Any of them verifies.
   */
  secret: Secret | readonly Secret[];
  /** Expected audience (the gateway's ASSERTION_AUDIENCE): the token's `aud` must name one of them. */
  audience?: string | readonly string[];
  /** Request header carrying the assertion (default `x-sessiongate-assertion`). */
  header?: string;
  /** Let requests without any assertion through without an identity (default false). */
  optional?: boolean;
  /** Also set `req.user` to the user id (default false: the identity is `req.sessiongate`). */
  setUser?: boolean;
  /** Call `next(err)` with the `AssertionError` (status 401) instead of answering 401 JSON (default false). */
  passErrors?: boolean;
  /** Allowed clock difference for `iat`, in seconds (default 5). */
  clockSkewSeconds?: number;
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

export interface IncomingLike {
  headers: Record<string, string | string[] | undefined>;
  sessiongate?: VerifiedAssertion;
}
export interface ResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export type SessiongateMiddleware = (
  req: IncomingLike,
  res: ResponseLike,
  next: (error?: unknown) => void,
) => void;

/** Refusal body sent with status 401 (unless `passErrors`). */
export interface RefusalBody {
  error: `assertion_${AssertionErrorCode}`;
  message: string;
}

export function sessiongate(options: SessiongateMiddlewareOptions): SessiongateMiddleware;

/**
 * `value` if it is a same-origin relative path no browser reads as another host (one leading `/`,
 * not `//` or `/\`; printable ASCII; no backslash; no `%2F`/`%5C` before the query; at most 2048
 * bytes), else `'/'`. The gateway applies the same rules to the path it carries to LOGIN_URL.
 */
export function safeReturnPath(value: unknown): string;
/**
 * After sign-in, where to send the browser: the request's `param` query parameter (default
 * `return_to`, the gateway's LOGIN_RETURN_PARAM) through `safeReturnPath`, else `fallback` (`'/'`).
 */
export function returnTo(
  req: { query?: unknown; url?: string; originalUrl?: string },
  options?: { param?: string; fallback?: string },
): string;
export default sessiongate;

/** What `login` and `logout` need of a response: Node's `ServerResponse` and Express's `res` fit. */
export interface HeaderResponseLike {
  setHeader(name: string, value: string): unknown;
  removeHeader?(name: string): unknown;
}

/**
 * Session data: a plain object (not an array, not a class instance: checked when called), at most
 * 2048 bytes as sent (ASCII-only JSON). `object`, so that values typed by an interface fit too.
 */
export type SessionData = object;

/** Which sessions `logout` ends: the current one, or every session of its user on every device. */
export type LogoutScope = 'session' | 'all';

/**
 * Tells the gateway to log `user` in: sets `Sessiongate-Login: {"user":…,"data":{…}}` (ASCII-only
 * JSON, `\uXXXX` escapes) and removes any `Sessiongate-Logout`. `user` is 1–256 printable ASCII
 * characters without a leading or trailing space; `data` (optional) is passed back to the origin in
 * every assertion of the session. Throws a `TypeError` for what the gateway would refuse. Returns `res`.
 */
export function login<R extends HeaderResponseLike>(res: R, user: string, data?: SessionData | null): R;

/**
 * Tells the gateway to end the current session (`'session'`, the default) or every session of the
 * current user (`'all'`): sets `Sessiongate-Logout` and removes any `Sessiongate-Login`. Returns `res`.
 */
export function logout<R extends HeaderResponseLike>(res: R, scope?: LogoutScope): R;

declare global {
  namespace Express {
    interface Request {
      /**
       * Set by sessiongate's middleware: the verified identity (`user`, `sessionHandle`, `data`,
       * `claims`). `req.user` is left alone unless `setUser: true` (then it is `sessiongate.user`).
       */
      sessiongate?: VerifiedAssertion;
    }
  }
}
