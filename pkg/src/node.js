// Node.js entry (18+): instantiates the primitives' Wasm synchronously from the package files.
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { initSync } from '../dist/primitives.js';

// Node 18 has Web Crypto only under `node:crypto` unless started with
// --experimental-global-webcrypto; session ids need crypto.getRandomValues.
if (typeof globalThis.crypto?.getRandomValues !== 'function') {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true, writable: true });
}

initSync({ module: readFileSync(new URL('../dist/primitives_bg.wasm', import.meta.url)) });

export * from './api.js';
