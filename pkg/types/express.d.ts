// Types of `sessiongate/express`.
import type { Secret } from './index.js';
import type { AssertionErrorCode, VerifiedAssertion } from './origin.js';
export { AssertionError } from './origin.js';

export interface SessiongateMiddlewareOptions {
  /** The gateway's ASSERTION_SECRET. */
  secret: Secret;
  /** Request header carrying the assertion (default `x-sessiongate-assertion`). */
  header?: string;
  /** Let requests without any assertion through with `req.user` undefined (default false). */
  optional?: boolean;
  clockSkewSeconds?: number;
  now?: () => number;
}

export interface IncomingLike {
  headers: Record<string, string | string[] | undefined>;
  user?: string;
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

/** Refusal body sent with status 401. */
export interface RefusalBody {
  error: `assertion_${AssertionErrorCode}`;
  message: string;
}

export function sessiongate(options: SessiongateMiddlewareOptions): SessiongateMiddleware;
export default sessiongate;

declare global {
  namespace Express {
    interface Request {
      /** Set by sessiongate's middleware: the user id from the verified assertion. */
      user?: string;
      sessiongate?: VerifiedAssertion;
    }
  }
}
