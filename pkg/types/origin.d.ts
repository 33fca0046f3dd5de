// Types of `sessiongate/origin`: verifying the gateway's assertion in the origin.
import type { Secret } from './index.js';

export type AssertionErrorCode =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience';

/** Why an assertion was refused. `status` is 401 (for Express's error handling). */
export class AssertionError extends Error {
  readonly name: 'AssertionError';
  readonly code: AssertionErrorCode;
  readonly status: 401;
  constructor(code: AssertionErrorCode);
}

export interface AssertionClaims {
  iss: 'sessiongate';
  /** The user id. */
  sub: string;
  /** The gateway's ASSERTION_AUDIENCE, when set. */
  aud?: string | string[];
  /** The session handle: a keyed hash of the session id, never the id. */
  sid: string;
  iat: number;
  exp: number;
  data?: Record<string, unknown>;
}

export interface VerifiedAssertion {
  user: string;
  sessionHandle: string;
  data: Record<string, unknown> | null;
  claims: AssertionClaims;
}

export interface AssertionVerifierOptions {
  /**
   * The gateway's ASSERTION_SECRET (at least 32 bytes), or during a rotation an array of up to
   * three: the first mints, any verifies.
   */
  secret: Secret | readonly Secret[];
  /** Expected audience(s): the token's `aud` (string or array) must name one, as with `jose`. */
  audience?: string | readonly string[];
  /** Allowed clock difference for `iat`, in seconds (default 5). */
  clockSkewSeconds?: number;
  /** Milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

export interface AssertionVerifier {
  /** Throws `AssertionError` unless `token` is a valid, unexpired assertion. */
  verify(token: string | undefined | null): VerifiedAssertion;
  mint(claims: AssertionClaims): string;
}

export function createAssertionVerifier(options: AssertionVerifierOptions): AssertionVerifier;
/** One-off `createAssertionVerifier({ secret, audience }).verify(token)` (keys are cached per secret string). */
export function verifyAssertion(
  token: string | undefined | null,
  secret: Secret | readonly Secret[],
  options?: { audience?: string | readonly string[] },
): VerifiedAssertion;

export interface MintOptions {
  user: string;
  sessionHandle?: string;
  data?: Record<string, unknown>;
  /** The `aud` claim, as the gateway sets it from ASSERTION_AUDIENCE. */
  audience?: string | string[];
  ttlSeconds?: number;
  now?: () => number;
}
/** Mints an assertion like the gateway does: for testing an origin without the gateway. */
export function mintAssertion(options: MintOptions, secret: Secret | readonly Secret[]): string;
