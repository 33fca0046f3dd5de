// Cloudflare Workers entry of `sessiongate/origin` (an origin that is itself a Worker).
import wasmModule from '../dist/origin_bg.wasm';
import { initSync } from '../dist/origin.js';

initSync({ module: wasmModule });

export * from './origin-api.js';
