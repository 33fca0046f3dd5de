// Cloudflare Workers entry: wrangler (and other Workers bundlers) import a `.wasm` file as a
// compiled WebAssembly.Module, so the primitives are instantiated synchronously at import.
import wasmModule from '../dist/primitives_bg.wasm';
import { initSync } from '../dist/primitives.js';

initSync({ module: wasmModule });

export * from './api.js';
