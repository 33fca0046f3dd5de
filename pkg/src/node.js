// Node.js entry (20.19+ / 22.12+): instantiates the primitives' Wasm synchronously from the package
// files. No top-level await, so `require('sessiongate')` works as well as `import`.
import { readFileSync } from 'node:fs';
import { initSync } from '../dist/primitives.js';

initSync({ module: readFileSync(new URL('../dist/primitives_bg.wasm', import.meta.url)) });

export * from './api.js';
