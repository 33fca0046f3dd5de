// Node.js entry of `sessiongate/origin`: instantiates the assertion's Wasm from the package files.
import { readFileSync } from 'node:fs';
import { initSync } from '../dist/origin.js';

initSync({ module: readFileSync(new URL('../dist/origin_bg.wasm', import.meta.url)) });

export * from './origin-api.js';
