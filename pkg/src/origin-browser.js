// Default entry of `sessiongate/origin` (Deno, Bun, bundlers): fetches the Wasm next to this file.
import init from '../dist/origin.js';

await init({ module_or_path: new URL('../dist/origin_bg.wasm', import.meta.url) });

export * from './origin-api.js';
