// End-to-end benchmark, one run, one machine, one origin (benchmark, not a test): requests/s and
// p50/p99 latency under wrk on 127.0.0.1 for
//   (a) a pass-through Worker (the floor), (b) sessiongate's Worker, (c) a hand-written JavaScript
//   Worker doing the same checks with Web Crypto and KV, (d) Express + express-session +
//   connect-redis + Redis,
// every one with a valid session of the same user, in front of the same tiny origin; plus the time
// from starting each runtime to its first answered request. Writes a Markdown table to stdout.
// Usage: node benches/e2e.mjs [seconds per run, default 10] [connections, default 16]
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  ASSERTION_SECRET, COMPATIBILITY_DATE, COOKIE, SESSION_SECRET, UA, request, seedSession, signedCookie,
} from '../tests/e2e/helpers.mjs';
import { startExpressStack } from './express-stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromTests = createRequire(path.join(HERE, '../tests/package.json'));
const { Miniflare, Log, LogLevel } = await import(pathToFileURL(requireFromTests.resolve('miniflare')).href);
const run = promisify(execFile);

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';
const PATH = '/api/orders?page=2';

function startOrigin() {
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
 * A Worker in workerd (Miniflare) with local KV. Every Worker gets the same runtime settings; its
 * stdout (sessiongate logs one JSON line per request) is read and dropped, as a log drain would.
 */
async function startWorker(script, bindings) {
  const mf = new Miniflare({
    host: '127.0.0.1', port: 0, cf: false, modules: true, ...script,
    compatibilityDate: COMPATIBILITY_DATE, kvNamespaces: ['SESSIONS'], bindings, log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { url, kv: () => mf.getKVNamespace('SESSIONS'), close: () => mf.dispose() };
}

const scriptWorker = (file) => ({ scriptPath: path.join(HERE, 'workers', file) });
const BUILD = path.join(HERE, '../build');
const sessiongateWorker = {
  modulesRoot: BUILD,
  scriptPath: path.join(BUILD, 'index.js'),
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
};

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await new Promise((resolve) => net.connect(port, '127.0.0.1').on('connect', function ok() { this.end(); resolve(true); }).on('error', () => resolve(false)))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, close: () => child.kill() };
}

const headers = { cookie: signedCookie(ID), 'user-agent': UA };

/** Starts a target and measures until its first answered request (200 with the user forwarded). */
async function timed(start) {
  const t0 = process.hrtime.bigint();
  const target = await start();
  for (;;) {
    const res = await request(target.url, 'GET', PATH, { headers }).catch(() => null);
    if (res?.status === 200) break;
    if (res && res.status !== 503) throw new Error(`${target.url}: ${res.status} ${res.body}`);
  }
  return { target, firstMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function ms(text) {
  const value = Number.parseFloat(text);
  if (text.endsWith('us')) return value / 1000;
  if (text.endsWith('ms')) return value;
  if (text.endsWith('s')) return value * 1000;
  return value;
}

async function load(url, seconds) {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Cookie: ${headers.cookie}`, '-H', `User-Agent: ${UA}`, url + PATH];
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const rps = Number.parseFloat(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = ms(/\s50%\s+([\d.]+\w+)/.exec(stdout)?.[1] ?? 'NaN');
  const p99 = ms(/\s99%\s+([\d.]+\w+)/.exec(stdout)?.[1] ?? 'NaN');
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p50, p99, errors, requests: Number(/(\d+) requests in/.exec(stdout)?.[1]) };
}

const origin = await startOrigin();
const redis = await startRedis();
const targets = [
  ['(a) pass-through Worker', () => startWorker(scriptWorker('passthrough.js'), { ORIGIN_URL: origin.url })],
  ['(b) sessiongate Worker (Rust/Wasm)', async () => {
    const gateway = await startWorker(sessiongateWorker, {
      ORIGIN_URL: origin.url, SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE, COOKIE_SECURE: 'false',
    });
    await seedSession(await gateway.kv(), ID, { user: 'alice' });
    return gateway;
  }],
  ['(c) hand-written JS Worker (Web Crypto + KV)', async () => {
    const worker = await startWorker(scriptWorker('js-gate.js'), { ORIGIN_URL: origin.url, SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE });
    await seedSession(await worker.kv(), ID, { user: 'alice' });
    return worker;
  }],
  ['(d) Express + express-session + connect-redis + Redis', async () => {
    const stack = await startExpressStack({ redisUrl: redis.url, originUrl: origin.url, secret: SESSION_SECRET, cookieName: COOKIE });
    await stack.seed(ID, 'alice');
    return stack;
  }],
];

const results = [];
for (const [name, start] of targets) {
  const { target, firstMs } = await timed(start);
  await load(target.url, 2); // warm-up
  const measured = await load(target.url, SECONDS);
  if (measured.errors > 0) throw new Error(`${name}: ${measured.errors} non-2xx answers under load`);
  results.push({ name, firstMs, ...measured });
  await target.close();
  process.stderr.write(`[bench] ${name}: ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms\n`);
}
await origin.close();
redis.close();

const [floor, , jsWorker] = results;
const { stdout: workerdVersion } = await run(requireFromTests.resolve('workerd/bin/workerd'), ['--version']).catch(() => ({ stdout: 'unknown' }));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; Node ${process.version}; ${workerdVersion.trim()}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s on 127.0.0.1, load generator, runtimes and origin on the same machine. ${new Date().toISOString().slice(0, 10)}.`);
console.log('');
console.log('| target | req/s | p50 ms | p99 ms | vs (a) req/s | vs (c) req/s | p99 over (a) | first request after start |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.rps / floor.rps).toFixed(2)}x | ${(r.rps / jsWorker.rps).toFixed(2)}x | ${(r.p99 - floor.p99 >= 0 ? '+' : '')}${(r.p99 - floor.p99).toFixed(2)} ms | ${Math.round(r.firstMs)} ms |`);
}
