// Secrets as bytes, shared by the primitives and the origin side (no Wasm here).

const encoder = new TextEncoder();

/** Bytes of one secret: a string (UTF-8, like Node's crypto), any byte view, or a secret KeyObject. */
export function secretBytes(secret) {
  if (typeof secret === 'string') return encoder.encode(secret);
  if (ArrayBuffer.isView(secret)) return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  if (secret instanceof ArrayBuffer) return new Uint8Array(secret);
  if (secret && secret.type === 'secret' && typeof secret.export === 'function') {
    return new Uint8Array(secret.export());
  }
  throw new TypeError(
    'Secret key must be a string, bytes (Buffer, TypedArray, DataView, ArrayBuffer) or a secret KeyObject.',
  );
}
