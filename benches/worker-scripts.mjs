// The Worker scripts the benchmarks run in workerd (Miniflare options), shared by e2e.mjs and
// instructions.mjs so that both measure the same builds.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD = path.join(HERE, '../build');

/** A single-file Worker of benches/workers/. */
export const scriptWorker = (file) => ({ scriptPath: path.join(HERE, 'workers', file) });

/** sessiongate's Worker as worker-build wrote it (build/index.js and its Wasm). */
export const sessiongateWorker = {
  modulesRoot: BUILD,
  scriptPath: path.join(BUILD, 'index.js'),
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
};
