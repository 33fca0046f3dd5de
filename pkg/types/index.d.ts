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
