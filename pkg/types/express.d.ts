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
