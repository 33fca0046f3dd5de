// Instructions per request (benchmark, not a test): each Worker target of benches/e2e.mjs runs in
// workerd under `valgrind --tool=callgrind`, and the runtime's instructions over a window of
// sequential requests are divided by the requests. Unlike req/s or CPU time, the count does not
// move with the machine's load for targets that read no KV (repeat runs agree within about 3%),
// so on a VM whose throughput drifts by ±20% it can tell a 5% change from noise. Targets that read
// KV agree within a few percent too, now that every one reads the same seeded values (a session's
// record and its activity): sessiongate's count once ranged from 3.8 to 17.7 M, because the
// activity was missing until its first refresh (a missing key is cheaper to read from local KV),
// and every request that read the old activity while that refresh was being written (seconds under
// valgrind) wrote it again. An isolate now starts one refresh per interval (src/touches.rs).
//
// What is counted: every thread of the workerd process (the Worker's JavaScript and Wasm, the
// runtime's HTTP, the fetch to the origin, and local KV, which runs inside the same process).
// The origin (a Node server) and the client are not counted.
//
// Each target first answers WARM requests (the JIT and Wasm tier-up settle; counters are then
// reset), then REQUESTS requests are counted. Under valgrind a request takes tens of ms, so a
// target takes one to two minutes.
// Usage: node benches/instructions.mjs [requests, default 400] [warm-up requests, default 1500]
//                                      [only the targets whose names start with this, e.g. "(c)"]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ASSERTION_SECRET, COMPATIBILITY_DATE, COOKIE, SESSION_SECRET, UA, signedCookie,
} from '../tests/e2e/helpers.mjs';
import { scriptWorker, seedBenchSession, sessiongateWorker, startOrigin } from './setup.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromTests = createRequire(path.join(HERE, '../tests/package.json'));
const { Miniflare, Log, LogLevel } = await import(pathToFileURL(requireFromTests.resolve('miniflare')).href);

const REQUESTS = Number(process.argv[2] ?? 400);
const WARM = Number(process.argv[3] ?? 1500);
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';
const PATH = '/api/orders?page=2';
const work = mkdtempSync(path.join(os.tmpdir(), 'sessiongate-instructions-'));

// workerd under callgrind: Miniflare starts whatever MINIFLARE_WORKERD_PATH names. The wrapper
// records its pid (valgrind keeps it through `exec`) so the dumps can be asked of that process.
const workerd = requireFromTests('workerd').default;
const wrapper = path.join(work, 'workerd-under-callgrind.sh');
writeFileSync(wrapper, `#!/bin/sh
echo $$ > "${work}/pid"
exec valgrind --tool=callgrind --smc-check=all-non-file --dump-instr=no --dump-line=no \\
  --callgrind-out-file="${work}/callgrind.%p" "${workerd}" "$@" 2>>"${work}/valgrind.log"
`, { mode: 0o755 });
process.env.MINIFLARE_WORKERD_PATH = wrapper;

const origin = await startOrigin();
const originUrl = origin.url;

const gateVars = { SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE, COOKIE_SECURE: 'false' };
const targets = [
  ['(a) pass-through Worker', scriptWorker('passthrough.js'), {}],
  ['(a2) pass-through + the bulk KV read of a session (reference, checks nothing)', scriptWorker('passthrough-kv.js'), {}],
  ['(b) sessiongate Worker (Rust/Wasm), defaults', sessiongateWorker, gateVars],
  ["(b') sessiongate, SESSION_CACHE_TTL_MS=5000", sessiongateWorker, { ...gateVars, SESSION_CACHE_TTL_MS: '5000' }],
  ['(c) hand-written JS Worker (Web Crypto + KV)', scriptWorker('js-gate.js'), gateVars],
];

/** Total instructions recorded in a callgrind dump. */
function totalOf(file) {
  const match = /^totals:\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!match) throw new Error(`no totals in ${file}`);
  return Number(match[1]);
}

async function measure(name, script, vars) {
  for (const entry of readdirSync(work)) if (entry.startsWith('callgrind.') || entry === 'pid') rmSync(path.join(work, entry));
  const mf = new Miniflare({
    host: '127.0.0.1', port: 0, cf: false, modules: true, ...script, compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['SESSIONS'], bindings: { ORIGIN_URL: originUrl, ...vars }, log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  try {
    const url = `${(await mf.ready).toString().replace(/\/$/, '')}${PATH}`;
    await seedBenchSession(await mf.getKVNamespace('SESSIONS'), ID);
    const pid = readFileSync(path.join(work, 'pid'), 'utf8').trim();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const headers = { cookie: signedCookie(ID), 'user-agent': UA };
    // Under valgrind a request now and then fails (workerd's connection to the origin or to local
    // KV is lost: "Network connection lost", 500/502). Such a request is counted as failed and
    // measured like the others; more than 1% failed makes the target's count worthless.
    let failed = 0;
    const one = () => new Promise((resolve) => {
      http.get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) failed += 1;
          resolve();
        });
      }).on('error', () => {
        failed += 1;
        resolve();
      });
    });
    const dump = () => execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
    for (let i = 0; i < WARM; i++) await one();
    dump(); // the first dump holds start-up and warm-up; the counters start again from zero
    failed = 0;
    for (let i = 0; i < REQUESTS; i++) await one();
    dump();
    if (failed > REQUESTS / 100) throw new Error(`${name}: ${failed} of ${REQUESTS} requests failed`);
    if (failed) process.stderr.write(`[instructions] ${name}: ${failed} of ${REQUESTS} requests failed (counted)\n`);
    agent.destroy();
    const second = path.join(work, `callgrind.${pid}.2`);
    if (!existsSync(second)) throw new Error(`${name}: callgrind wrote no second dump`);
    const perRequest = totalOf(second) / REQUESTS;
    process.stderr.write(`[instructions] ${name}: ${(perRequest / 1e6).toFixed(3)} M per request\n`);
    return { name, perRequest };
  } finally {
    await mf.dispose();
  }
}

const results = [];
const only = process.argv[4] ?? '';
for (const [name, script, vars] of targets) if (name.startsWith(only)) results.push(await measure(name, script, vars));
await origin.close();
rmSync(work, { recursive: true, force: true });

const floor = results.find((r) => r.name.startsWith('(a)'));
const jsWorker = results.find((r) => r.name.startsWith('(c)'));
const ratio = (reference, r) => (reference ? `${(reference.perRequest / r.perRequest).toFixed(2)}x` : '—');
const millions = (n) => (n / 1e6).toFixed(2);
console.log(`\`valgrind --tool=callgrind\` on workerd: instructions of the whole runtime process per request, over ${REQUESTS} sequential requests on one connection after ${WARM} warm-up requests. Lower is better; the ratios are inverted (vs (a) = (a)'s count / this count), so that like req/s, above 1 is faster.`);
console.log('');
console.log('| target | million instructions / request | vs (a) | vs (c) |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${millions(r.perRequest)} | ${ratio(floor, r)} | ${ratio(jsWorker, r)} |`);
}
