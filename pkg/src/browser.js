// Browser (and default) entry: fetches and instantiates the primitives' Wasm next to this file
// (bundlers such as Vite and esbuild follow `new URL(…, import.meta.url)`), before exporting.
import init from '../dist/primitives.js';

await init({ module_or_path: new URL('../dist/primitives_bg.wasm', import.meta.url) });

export * from './api.js';
