// WebSocket relay benchmark (a benchmark, not a test): messages per second and runtime CPU per
// message for sockets
//   (direct) opened straight to a `ws` echo origin on 127.0.0.1 (the floor),
//   (js)     through a minimal JavaScript Worker that relays with a WebSocketPair and checks nothing
//            (what any Worker relay costs; benches/workers/ws-relay.js),
//   (gate)   through sessiongate's Worker with a valid session (defaults: the session re-checked
//            every 60 s, so none during a run),
// all in front of the same origin. Every socket keeps WINDOW messages in flight; a message counts
// when its echo is back (two relayed messages: one each way). Targets are measured in interleaved
// rounds and the median round counts, as in e2e.mjs. CPU is the Worker runtime's own (workerd's
// user + system time from /proc, which includes the relay both ways), divided by echoed messages.
// Usage: node benches/websocket.mjs [seconds per run, default 5] [sockets, default 16]
//                                   [rounds, default 3] [message bytes, default 64]
import { execFile } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { COMPATIBILITY_DATE, COOKIE, ASSERTION_SECRET, SESSION_SECRET, UA, signedCookie } from '../tests/e2e/helpers.mjs';
import { scriptWorker, seedBenchSession, sessiongateWorker } from './setup.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireFromTests = createRequire(path.join(HERE, '../tests/package.json'));
const { Miniflare, Log, LogLevel } = await import(pathToFileURL(requireFromTests.resolve('miniflare')).href);
const { default: WebSocket } = await import(pathToFileURL(requireFromTests.resolve('ws')).href);
const { WebSocketServer } = WebSocket;
const run = promisify(execFile);

const SECONDS = Number(process.argv[2] ?? 5);
const SOCKETS = Number(process.argv[3] ?? 16);
const ROUNDS = Number(process.argv[4] ?? 3);
const BYTES = Number(process.argv[5] ?? 64);
const WINDOW = 16;
const ID = 'benchSessionId0123456789abcdefghijklmnopqrst';

function workerdPids() {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd';
    } catch {
      return false;
    }
  });
}
const CLOCK_TICKS = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}

/** The echo origin: every message back as it came. */
function startEchoOrigin() {
  const server = http.createServer((req, res) => res.end('ok'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.close(done);
    }),
  })));
}

/**
 * The workerd process listening on `port` (other workerd processes may start and stop meanwhile on
 * a shared machine): the listening socket's inode from /proc/net/tcp, then the process holding it.
 */
function workerdListeningOn(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set(readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A')
    .map((f) => f[9]));
  return workerdPids().find((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }) ?? null;
}

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
  return { url, pid: workerdListeningOn(Number(new URL(url).port)), kv: () => mf.getKVNamespace('SESSIONS'), close: () => mf.dispose() };
}

/** Opens SOCKETS sockets to `url`; resolves them once all are open. */
function openSockets(url, headers) {
  return Promise.all(Array.from({ length: SOCKETS }, () => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/live`, { headers });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
    ws.on('error', reject);
  })));
}

/** Echoes for SECONDS on every socket with WINDOW messages in flight; messages echoed and CPU. */
async function measure(target) {
  const sockets = await openSockets(target.url, target.headers);
  const payload = Buffer.alloc(BYTES, 'x');
  let echoed = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      echoed += 1;
      if (running) ws.send(payload);
    });
  }
  // Warm up, then count.
  for (const ws of sockets) for (let i = 0; i < WINDOW; i += 1) ws.send(payload);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const start = process.hrtime.bigint();
  const startEchoed = echoed;
  const cpuBefore = target.pid ? cpuMicros(target.pid) : null;
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const cpuAfter = target.pid ? cpuMicros(target.pid) : null;
  const count = echoed - startEchoed;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  running = false;
  await Promise.all(sockets.map((ws) => new Promise((resolve) => {
    ws.on('close', resolve);
    ws.close();
    setTimeout(() => { ws.terminate(); resolve(); }, 2000);
  })));
  return { rate: count / seconds, cpu: cpuBefore === null ? null : (cpuAfter - cpuBefore) / count };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const int = (n) => Math.round(n).toLocaleString('en-US');

const origin = await startEchoOrigin();
const jsRelay = await startWorker(scriptWorker('ws-relay.js'), { ORIGIN_URL: origin.url });
const gate = await startWorker(sessiongateWorker, {
  SESSION_SECRET, ASSERTION_SECRET, ORIGIN_URL: origin.url, COOKIE_NAME: COOKIE, COOKIE_SECURE: 'false',
});
await seedBenchSession(await gate.kv(), ID);
const targets = [
  { name: '(direct) straight to the origin', url: origin.url, headers: {} },
  { name: '(js) minimal JavaScript relay Worker', url: jsRelay.url, pid: jsRelay.pid, headers: {} },
  {
    name: '(gate) sessiongate, a valid session',
    url: gate.url,
    pid: gate.pid,
    headers: { cookie: signedCookie(ID), 'user-agent': UA, origin: gate.url },
  },
];
const results = new Map(targets.map((t) => [t, []]));
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const target of targets) results.get(target).push(await measure(target));
  }
} finally {
  await gate.close();
  await jsRelay.close();
  await origin.close();
}

const workerdVersion = (await run(requireFromTests.resolve('workerd/bin/workerd'), ['--version']).catch(() => ({ stdout: 'workerd ?' }))).stdout;
console.log(`${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Linux ${os.release()}; Node ${process.version}; ${workerdVersion.trim()}; ${new Date().toISOString().slice(0, 10)}.`);
console.log(`${SOCKETS} sockets, ${WINDOW} messages of ${BYTES} bytes in flight on each, ${SECONDS} s per run, median of ${ROUNDS} interleaved rounds [range].`);
console.log();
console.log('| target | echoes/s | vs direct | runtime CPU µs per echo (2 relayed messages) |');
console.log('| --- | ---: | ---: | ---: |');
const direct = median(results.get(targets[0]).map((r) => r.rate));
for (const target of targets) {
  const rates = results.get(target).map((r) => r.rate);
  const cpu = target.pid ? median(results.get(target).map((r) => r.cpu)) : null;
  console.log(`| ${target.name} | ${int(median(rates))} [${int(Math.min(...rates))}–${int(Math.max(...rates))}] | ${(median(rates) / direct).toFixed(2)}x | ${cpu === null ? '—' : cpu.toFixed(1)} |`);
}
