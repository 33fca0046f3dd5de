// End-to-end benchmark, one run, one machine, one origin (benchmark, not a test): requests/s and
// p50/p99 latency under wrk on 127.0.0.1 for
//   (a) a pass-through Worker (the floor), (a2) the same plus the KV read a session costs (one bulk
//   read of two keys; a reference: it checks nothing), (b) sessiongate's Worker with its defaults (KV read on every
//   request), (b') sessiongate with SESSION_CACHE_TTL_MS, once with one session and once with
//   1,000 sessions in rotation, (c) a hand-written JavaScript Worker doing the same checks with
//   Web Crypto and KV, (d) Express + express-session + connect-redis + Redis,
// every one with a valid session of the same user, in front of the same tiny origin; plus the time
// from starting each runtime to its first answered request. All targets run side by side and are
// measured in interleaved rounds (the median round counts), because this machine's throughput
// drifts by tens of percent from minute to minute. Each round measures throughput with CONNECTIONS
// connections (saturated) and latency with one connection (nothing queued: what one request adds).
// Writes a Markdown table to stdout.
// Usage: node benches/e2e.mjs [seconds per run, default 10] [connections, default 16] [rounds, default 3]
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  ASSERTION_SECRET, COMPATIBILITY_DATE, COOKIE, SESSION_SECRET, UA, request, signedCookie,
} from '../tests/e2e/helpers.mjs';
import { startExpressStack } from './express-stack.mjs';
import { scriptWorker, seedBenchSession, sessiongateWorker, startOrigin } from './setup.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromTests = createRequire(path.join(HERE, '../tests/package.json'));
const { Miniflare, Log, LogLevel } = await import(pathToFileURL(requireFromTests.resolve('miniflare')).href);
const run = promisify(execFile);

const SECONDS = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 16);
const ROUNDS = Number(process.argv[4] ?? 3);
const LATENCY_SECONDS = Math.max(3, Math.round(SECONDS / 2));
const CACHE_TTL_MS = '1000';
const ROTATION = 1000;
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';
const PATH = '/api/orders?page=2';

/** Process ids of the running workerd processes (Linux). */
function workerdPids() {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd';
    } catch {
      return false;
    }
  });
}

/** CPU time (user + system) a process has used so far, in microseconds. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;

/**
 * A Worker in workerd (Miniflare) with local KV. Every Worker gets the same runtime settings; its
 * stdout (sessiongate logs one JSON line per request) is read and dropped, as a log drain would.
 */
async function startWorker(script, bindings) {
  const before = new Set(workerdPids());
  const mf = new Miniflare({
    host: '127.0.0.1', port: 0, cf: false, modules: true, ...script,
    compatibilityDate: COMPATIBILITY_DATE, kvNamespaces: ['SESSIONS'], bindings, log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  // This Worker's own runtime process: its CPU time per request is the Worker's whole cost
  // (the runtime, the Worker, and local KV, which runs inside it).
  const pids = workerdPids().filter((pid) => !before.has(pid));
  return { url, pid: pids.length === 1 ? pids[0] : null, kv: () => mf.getKVNamespace('SESSIONS'), close: () => mf.dispose() };
}

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

/**
 * wrk's Lua script for a target: its requests (the one cookie of the command line, or a rotation of
 * cookies, one per request in turn) and, with `recordLatency`, each request's own latency.
 *
 * Why record latencies here instead of reading wrk's `--latency` percentiles: wrk corrects its
 * histogram for coordinated omission. Each response slower than twice the mean interval between
 * requests adds synthetic samples for the requests a fixed-rate client would have sent meanwhile.
 * With one connection and a mean interval of about a millisecond, one 50 ms pause in the runtime
 * becomes fifty slow samples: a bare workerd answering a constant in 0.13 ms showed a p99 of 65 ms
 * that way, against 0.29 ms measured request by request. The one-connection run is the measure of
 * what a request adds, so it takes each request's latency as it was (one connection per wrk
 * thread: the requests of a thread do not overlap, so a response belongs to the last request).
 */
function wrkScript({ cookies = null, recordLatency = false }) {
  const file = path.join(os.tmpdir(), `sessiongate-bench-${process.pid}-${scriptCount++}.lua`);
  const lines = [];
  if (cookies) {
    lines.push(`local cookies = {\n${cookies.map((c) => `"${c}"`).join(',\n')}\n}`, 'local n = 0');
    lines.push(`local function next_request()\n  n = n + 1\n  return wrk.format("GET", "${PATH}", { ["Cookie"] = cookies[(n % #cookies) + 1], ["User-Agent"] = "${UA}" })\nend`);
  } else {
    lines.push('local fixed = nil', 'local function next_request()\n  fixed = fixed or wrk.format()\n  return fixed\nend');
  }
  if (!recordLatency) {
    lines.push('request = next_request');
  } else {
    lines.push(`local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local clock = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end
local sent = 0
latencies = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  local text = next_request()
  sent = now_us()
  return text
end
response = function() latencies[#latencies + 1] = now_us() - sent end
done = function()
  local all = {}
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("latencies")) do all[#all + 1] = value end
  end
  table.sort(all)
  if #all == 0 then return end
  local function at(p) return all[math.max(1, math.ceil(p * #all))] / 1000 end
  io.write(string.format("PER-REQUEST n=%d p50=%.3f p99=%.3f p999=%.3f max=%.3f\\n", #all, at(0.5), at(0.99), at(0.999), all[#all] / 1000))
end`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
let scriptCount = 0;

/**
 * One wrk run. With one connection, p50/p99 are each request's own latency (see wrkScript); with
 * more, they are wrk's, corrected for coordinated omission (under saturation they mostly measure
 * queueing: connections / throughput).
 */
async function load(target, seconds, connections) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `User-Agent: ${UA}`];
  if (!target.cookies) args.push('-H', `Cookie: ${headers.cookie}`);
  const script = connections === 1 ? target.latencyScript : target.loadScript;
  if (script) args.push('-s', script);
  const cpuBefore = target.pid ? cpuMicros(target.pid) : null;
  const { stdout } = await run('wrk', [...args, target.url + PATH], { maxBuffer: 1 << 20 });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const cpuPerRequest = cpuBefore === null ? null : (cpuMicros(target.pid) - cpuBefore) / requests;
  const rps = Number.parseFloat(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const perRequest = /PER-REQUEST n=\d+ p50=([\d.]+) p99=([\d.]+) p999=([\d.]+) max=([\d.]+)/.exec(stdout);
  const p50 = perRequest ? Number(perRequest[1]) : ms(/\s50%\s+([\d.]+\w+)/.exec(stdout)?.[1] ?? 'NaN');
  const p99 = perRequest ? Number(perRequest[2]) : ms(/\s99%\s+([\d.]+\w+)/.exec(stdout)?.[1] ?? 'NaN');
  const p999 = perRequest ? Number(perRequest[3]) : null;
  const max = perRequest ? Number(perRequest[4]) : null;
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p50, p99, p999, max, errors, cpuPerRequest };
}

const median = (values) => [...values].sort((x, y) => x - y)[values.length >> 1];

const origin = await startOrigin();
const redis = await startRedis();
const sessiongate = (vars) => async () => {
  const gateway = await startWorker(sessiongateWorker, {
    ORIGIN_URL: origin.url, SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE, COOKIE_SECURE: 'false', ...vars,
  });
  await seedBenchSession(await gateway.kv(), ID);
  return gateway;
};
const targets = [
  ['(a) pass-through Worker', () => startWorker(scriptWorker('passthrough.js'), { ORIGIN_URL: origin.url })],
  ['(a2) pass-through + the bulk KV read of a session (reference, checks nothing)', async () => {
    const worker = await startWorker(scriptWorker('passthrough-kv.js'), { ORIGIN_URL: origin.url });
    await seedBenchSession(await worker.kv(), ID);
    return worker;
  }],
  ['(b) sessiongate Worker (Rust/Wasm), defaults', sessiongate({})],
  [`(b') sessiongate, SESSION_CACHE_TTL_MS=${CACHE_TTL_MS}`, sessiongate({ SESSION_CACHE_TTL_MS: CACHE_TTL_MS })],
  [`(b') sessiongate, SESSION_CACHE_TTL_MS=${CACHE_TTL_MS}, ${ROTATION.toLocaleString('en-US')} sessions in rotation`, async () => {
    const gateway = await sessiongate({ SESSION_CACHE_TTL_MS: CACHE_TTL_MS })();
    const kv = await gateway.kv();
    const ids = Array.from({ length: ROTATION }, (_, i) => `benchRotation${String(i).padStart(6, '0')}abcdefghijklmnopqrstuv`);
    for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => seedBenchSession(kv, id)));
    gateway.cookies = ids.map((id) => signedCookie(id));
    return gateway;
  }],
  ['(c) hand-written JS Worker (Web Crypto + KV)', async () => {
    const worker = await startWorker(scriptWorker('js-gate.js'), { ORIGIN_URL: origin.url, SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE });
    await seedBenchSession(await worker.kv(), ID);
    return worker;
  }],
  ['(d) Express + express-session + connect-redis + Redis', async () => {
    const stack = await startExpressStack({ redisUrl: redis.url, originUrl: origin.url, secret: SESSION_SECRET, cookieName: COOKIE });
    await stack.seed(ID, 'alice');
    return stack;
  }],
];

// Start every target (one at a time, timing each start), then measure them in interleaved rounds.
const started = [];
for (const [name, start] of targets) {
  const { target, firstMs } = await timed(start);
  target.latencyScript = wrkScript({ cookies: target.cookies, recordLatency: true });
  if (target.cookies) target.loadScript = wrkScript({ cookies: target.cookies });
  await load(target, 2, CONNECTIONS); // warm-up
  started.push({ name, target, firstMs, throughput: [], latency: [] });
}
for (let round = 1; round <= ROUNDS; round++) {
  for (const entry of started) {
    const measured = await load(entry.target, SECONDS, CONNECTIONS);
    const unloaded = await load(entry.target, LATENCY_SECONDS, 1);
    for (const m of [measured, unloaded]) {
      if (m.errors > 0) throw new Error(`${entry.name}: ${m.errors} non-2xx answers under load`);
    }
    entry.throughput.push(measured);
    entry.latency.push(unloaded);
    process.stderr.write(`[bench] round ${round} ${entry.name}: ${measured.rps.toFixed(0)} req/s (p99 ${measured.p99} ms); one connection: p50 ${unloaded.p50} ms, p99 ${unloaded.p99} ms, p99.9 ${unloaded.p999} ms, max ${unloaded.max} ms\n`);
  }
}
for (const { target } of started) {
  await target.close();
  for (const script of [target.loadScript, target.latencyScript]) if (script) rmSync(script, { force: true });
}
await origin.close();
redis.close();

const results = started.map((entry) => {
  const rps = median(entry.throughput.map((m) => m.rps));
  const run = entry.throughput.find((m) => m.rps === rps);
  return {
    // The rotation's start includes seeding its sessions: its start time is the gateway's above.
    name: entry.name, firstMs: entry.target.cookies ? null : entry.firstMs, rps, p50: run.p50, p99: run.p99,
    rpsRange: [Math.min(...entry.throughput.map((m) => m.rps)), Math.max(...entry.throughput.map((m) => m.rps))],
    quietP50: median(entry.latency.map((m) => m.p50)), quietP99: median(entry.latency.map((m) => m.p99)),
    quietP999: median(entry.latency.map((m) => m.p999)),
    cpu: entry.target.pid ? median(entry.throughput.map((m) => m.cpuPerRequest)) : null,
  };
});
const floor = results[0];
const jsWorker = results.find((r) => r.name.startsWith('(c)'));
const { stdout: workerdVersion } = await run(requireFromTests.resolve('workerd/bin/workerd'), ['--version']).catch(() => ({ stdout: 'unknown' }));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const signed = (value) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;
const int = (value) => Math.round(value).toLocaleString('en-US');
console.log(`Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; Node ${process.version}; ${workerdVersion.trim()}; load generator, runtimes and origin on the same machine, 127.0.0.1. ${new Date().toISOString().slice(0, 10)}.`);
console.log(`Throughput: \`wrk -t1 -c${CONNECTIONS} -d${SECONDS}s\`, median of ${ROUNDS} interleaved rounds (its range in brackets; p50/p99 of the median round, as wrk reports them: corrected for coordinated omission). Latency with nothing queued: \`wrk -t1 -c1 -d${LATENCY_SECONDS}s\`, each request's own latency (not corrected), median of the rounds. Runtime CPU: the workerd process's user + system time over the throughput run, per request (the Worker, the runtime and local KV; median of the rounds).`);
console.log('');
console.log('| target | req/s | vs (a) | vs (c) | p50 ms | p99 ms | one connection: p50 ms | p99 ms | p99.9 ms | p99 over (a) | runtime CPU µs/request | first request after start |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${int(r.rps)} [${int(r.rpsRange[0])}–${int(r.rpsRange[1])}] | ${(r.rps / floor.rps).toFixed(2)}x | ${(r.rps / jsWorker.rps).toFixed(2)}x | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.quietP50.toFixed(2)} | ${r.quietP99.toFixed(2)} | ${r.quietP999.toFixed(2)} | ${signed(r.quietP99 - floor.quietP99)} | ${r.cpu === null ? '—' : int(r.cpu)} | ${r.firstMs === null ? '—' : `${Math.round(r.firstMs)} ms`} |`);
}
