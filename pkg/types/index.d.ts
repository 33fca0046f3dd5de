// Types of the primitives entry (`import … from "sessiongate"`).

/** A secret: a string (UTF-8), bytes, or (in Node) a secret `KeyObject`. */
export type Secret = string | ArrayBufferView | ArrayBuffer | { type: 'secret'; export(): Uint8Array };
/** One secret, or several: the first signs, all verify (rotation). */
export type Secrets = Secret | readonly Secret[];

/** `value + "." + signature`, exactly like `cookie-signature`'s `sign`. */
export function sign(value: string, secretOrSecrets: Secrets): string;
/** The value, or `false`, exactly where `cookie-signature`'s `unsign` says so. */
export function unsign(signed: string, secretOrSecrets: Secrets): string | false;

export interface Signer {
  sign(value: string): string;
  unsign(signed: string): string | false;
}
/** A signer with its secrets' HMAC state prepared once. */
export function createSigner(secretOrSecrets: Secrets): Signer;

/** `cookie.parse`: first occurrence wins, values percent-decoded; a prototype-less object. */
export function parseCookie(header: string): Record<string, string>;

export interface SerializeOptions {
  encode?: (value: string) => string;
  maxAge?: number;
  domain?: string;
  path?: string;
  expires?: Date;
  httpOnly?: boolean;
  secure?: boolean;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high' | 'Low' | 'Medium' | 'High';
  sameSite?: true | 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None';
}
/** `cookie.serialize`: a `Set-Cookie` value; throws TypeError on invalid arguments. */
export function serializeCookie(name: string, value: string, options?: SerializeOptions): string;

/** 256 bits from the platform CSPRNG, 43 base64url characters. */
export function generateSessionId(): string;

export type AssertionErrorCode =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer';

export class AssertionError extends Error {
  readonly name: 'AssertionError';
  readonly code: AssertionErrorCode;
  constructor(code: AssertionErrorCode);
}

export interface AssertionClaims {
  iss: 'sessiongate';
  /** The user id. */
  sub: string;
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
  /** The gateway's ASSERTION_SECRET (at least 32 bytes). */
  secret: Secret;
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
export function verifyAssertion(token: string | undefined | null, secret: Secret): VerifiedAssertion;

export interface MintOptions {
  user: string;
  sessionHandle?: string;
  data?: Record<string, unknown>;
  ttlSeconds?: number;
  now?: () => number;
}
/** Mints an assertion like the gateway does: for testing an origin without the gateway. */
export function mintAssertion(options: MintOptions, secret: Secret): string;
