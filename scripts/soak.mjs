#!/usr/bin/env node
// Bounded soak of the real Worker (build/, run in workerd by Miniflare with local KV) in front of
// the demo origin on 127.0.0.1. Virtual clients loop: log in, make a few requests, log out (through
// the origin or the built-in endpoint), replay the destroyed cookie (must be refused) and now and
// then a forged one (must be refused without a KV read). Every answer is checked; workerd's RSS is
// sampled from /proc. Not part of the test command: run it by hand after `scripts/build-worker.sh`.
//
//   node scripts/soak.mjs [--seconds=300] [--clients=16] [--sample-seconds=10]
//
// Exit code 1 when any answer was a 5xx or wrong. Needs Linux (/proc) for the memory figures.
// Reading them: workerd's RSS (all its isolates, Miniflare's own services and local KV included)
// climbs for several minutes under this load even for a trivial JavaScript Worker, then levels
// off; compare against such a baseline before calling a rise a leak. The gateway's own Wasm
// linear memory, read by instrumenting a copy of build/index.js, stayed at its start-up size
// (1.19 MiB) over 18,000 soak requests.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// helpers.mjs resolves miniflare from the root node_modules and cookie-signature from tests/node_modules.
const helpers = await import(pathToFileURL(path.join(ROOT, 'tests', 'e2e', 'helpers.mjs')).href);
const {
  ASSERTION_SECRET, COOKIE, errorCode, postLogin, request, sessionCookie, signedCookie, startDemoOrigin,
  startGateway,
} = helpers;

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const SECONDS = Number(args.seconds ?? 300);
const CLIENTS = Number(args.clients ?? 16);
const SAMPLE_SECONDS = Number(args['sample-seconds'] ?? 10);
const USERS = ['alice', 'bob'];

const statuses = new Map();
const wrong = [];
let requests = 0;
let sessions = 0;

function record(kind, res, expected) {
  requests += 1;
  const key = `${res.status}${res.status >= 400 ? ` ${errorCode(res)}` : ''}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const problem = expected(res);
  if (problem && wrong.length < 1000) wrong.push(`${kind}: ${problem} (got ${res.status} ${res.body.slice(0, 120)})`);
  else if (problem) wrong.push(null); // counted, not kept
}

const refusedAs = (code) => (res) => (res.status === 401 && errorCode(res) === code ? null : `expected 401 ${code}`);

/** One virtual client: sessions one after another until the deadline. */
async function client(gateway, n, deadline) {
  const ua = `soak-client/${n} (Linux x86_64)`;
  const user = USERS[n % USERS.length];
  let round = 0;
  while (Date.now() < deadline) {
    round += 1;
    const loggedIn = await postLogin(gateway.url, user, { ua });
    const cookie = sessionCookie(loggedIn);
    record('login', loggedIn, (res) => (res.status === 200 && cookie ? null : 'expected 200 and a session cookie'));
    if (!cookie) continue;
    sessions += 1;
    const headers = { cookie, 'user-agent': ua };
    const calls = 1 + ((n + round) % 5);
    for (let i = 0; i < calls; i += 1) {
      const res = await request(gateway.url, 'GET', '/whoami', { headers });
      record('whoami', res, (r) => {
        if (r.status !== 200) return 'expected 200';
        const body = r.json();
        return body.user === user && body.assertion?.sub === user && !body.assertionError
          ? null : `expected ${user} with a valid assertion`;
      });
    }
    const logout = round % 2 === 0
      ? await request(gateway.url, 'POST', '/logout', { headers })
      : await request(gateway.url, 'POST', '/.sessiongate/logout', { headers });
    record('logout', logout, (res) => {
      const cleared = (res.headers['set-cookie'] ?? []).some((c) => c.startsWith(`${COOKIE}=;`));
      return res.status === 200 && cleared ? null : 'expected 200 and a clearing cookie';
    });
    // Replay of the destroyed cookie: KV (one location, local) must refuse it.
    record('replay', await request(gateway.url, 'GET', '/whoami', { headers }), refusedAs('unknown_session'));
    if (round % 3 === 0) {
      const forged = signedCookie(`forged${n}x${round}`.padEnd(43, 'A'), 'not-the-secret-0123456789abcdefghij');
      record('forged', await request(gateway.url, 'GET', '/whoami', { headers: { cookie: forged, 'user-agent': ua } }),
        refusedAs('invalid_session_cookie'));
    }
  }
}

/** Pids of workerd processes below this one. */
function workerdPids() {
  const parentOf = new Map();
  const names = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      names.set(Number(entry), /^Name:\s+(.*)$/m.exec(status)?.[1]);
      parentOf.set(Number(entry), Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]));
    } catch { /* the process ended meanwhile */ }
  }
  const below = (pid) => {
    for (let p = parentOf.get(pid); p; p = parentOf.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === 'workerd' && below(pid)).map(([pid]) => pid);
}

function rssKb(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch { /* ended */ }
  }
  return total;
}

const origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
const gateway = await startGateway({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/health,/login' } });
const pids = workerdPids();
const started = Date.now();
const samples = [{ t: 0, rssKb: rssKb(pids), requests: 0 }];
const sampler = setInterval(() => {
  origin.requests.length = 0; // the demo origin's request log is for tests; keep the soak flat
  samples.push({ t: Math.round((Date.now() - started) / 1000), rssKb: rssKb(pids), requests });
  const last = samples.at(-1);
  console.log(`t=${last.t}s requests=${requests} rss=${(last.rssKb / 1024).toFixed(1)} MiB wrong=${wrong.length}`);
}, SAMPLE_SECONDS * 1000);

let failure;
try {
  const deadline = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(gateway, n, deadline)));
} catch (error) {
  failure = error;
} finally {
  clearInterval(sampler);
  samples.push({ t: Math.round((Date.now() - started) / 1000), rssKb: rssKb(pids), requests });
  await gateway.close();
  await origin.close();
}

const elapsed = (Date.now() - started) / 1000;
const fiveXx = [...statuses].filter(([k]) => k.startsWith('5')).reduce((sum, [, v]) => sum + v, 0);
const rss = samples.map((s) => s.rssKb);
const afterWarmup = samples.find((s) => s.t >= 30) ?? samples.at(-1);
const report = {
  seconds: Number(elapsed.toFixed(1)),
  clients: CLIENTS,
  workerdPids: pids,
  requests,
  requestsPerSecond: Number((requests / elapsed).toFixed(1)),
  sessions,
  statuses: Object.fromEntries([...statuses].sort()),
  fiveXx,
  wrongAnswers: wrong.length,
  firstWrong: wrong.filter(Boolean).slice(0, 10),
  rssMiB: {
    start: Number((rss[0] / 1024).toFixed(1)),
    at30s: Number((afterWarmup.rssKb / 1024).toFixed(1)),
    peak: Number((Math.max(...rss) / 1024).toFixed(1)),
    end: Number((rss.at(-1) / 1024).toFixed(1)),
  },
  rssTimelineMiB: samples.map((s) => `${s.t}s=${(s.rssKb / 1024).toFixed(1)}`).join(' '),
  error: failure ? String(failure.stack ?? failure) : undefined,
};
console.log(JSON.stringify(report, null, 2));
process.exit(failure || fiveXx > 0 || wrong.length > 0 || pids.length === 0 ? 1 : 0);
