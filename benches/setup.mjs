// What e2e.mjs and instructions.mjs share, so that both measure the same builds in front of the
// same origin: the Worker scripts they run in workerd (Miniflare options), and the origin.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedSession } from '../tests/e2e/helpers.mjs';

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

/** The tiny origin every target forwards to: a fixed JSON answer, on 127.0.0.1. */
export function startOrigin() {
  const body = JSON.stringify({ orders: [1, 2, 3] });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}

/**
 * A session in use, as the Worker targets read it: its record, and the activity (`seen:<id>`)
 * that the gateway's refreshes keep. Every KV target reads both keys in one bulk read; with the
 * activity present in all of them they read the same values (a missing key is cheaper to read
 * from local KV, and only sessiongate writes one, once per touch interval).
 */
export async function seedBenchSession(kv, id) {
  const record = await seedSession(kv, id, { user: 'alice' });
  const activity = { last_seen: record.last_seen, idle_expires: record.idle_expires };
  await kv.put(`seen:${id}`, JSON.stringify(activity), { expirationTtl: 3600 });
}
