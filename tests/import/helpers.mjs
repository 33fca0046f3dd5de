// Harness of the import tests: the real stores on 127.0.0.1 (started and stopped here), a real
// Express app with express-session minting the cookies, `sessiongate import` run as a process, the
// printed wrangler commands run as printed (the pinned wrangler, local KV), and the real gateway
// (build/) in workerd on that same local KV.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import session from 'express-session';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { COMPATIBILITY_DATE, ROOT, request, startTestOrigin } from '../e2e/helpers.mjs';

export { request, ROOT };
const run = promisify(execFile);
export const TESTS = path.join(ROOT, 'tests');
const WRANGLER = path.join(ROOT, 'node_modules/.bin/wrangler');
const CLI = path.join(ROOT, 'pkg/src/bin/sessiongate.js');
/** The app's express-session secret (≥ 32 bytes), which the gateway takes over as SESSION_SECRET. */
export const SECRET = 'import-app-session-secret-0123456789abcdef';
export const ASSERTION_SECRET = 'import-assertion-secret-0123456789abcdefgh';
export const NAMESPACE = 'import-test';
export const UA_A = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const UA_B = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/18.0 Safari/605.1.15';

export function tmpDir(label) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sessiongate-import-${label}-`));
}

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check, what, ms = 20_000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start: ${last?.message ?? 'timeout'}`);
}

/** Debian's redis-server on 127.0.0.1, no persistence. */
export async function startRedis() {
  const port = await freePort();
  const dir = tmpDir('redis');
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(() => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  }), 'redis-server');
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pgBin() {
  const base = '/usr/lib/postgresql';
  const version = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))[0];
  return path.join(base, version, 'bin');
}

/** Debian's PostgreSQL as the postgres user (it refuses root) on a temporary directory. */
export async function startPostgres() {
  const port = await freePort();
  const dir = tmpDir('pg');
  fs.chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const asPg = (cmd, args) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', path.join(pgBin(), cmd), ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  asPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  asPg('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      asPg('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** DynamoDB through dynalite, in memory. */
export async function startDynalite() {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * A real Express app with express-session and `store`:
 * - `POST /login?user=U[&numeric=1][&mfa=pending][&ttl=ms][&object=1]`: a (passport-style) login,
 *   `passport.user` set, `role`, `email`, `userAgent` and `mfaPending` stored in the session;
 * - `POST /visit`: an anonymous session (`views`);
 * - `POST /logout`: destroys the session (the old app's logout).
 */
export async function startApp(store) {
  const app = express();
  app.use(session({
    secret: SECRET,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 3_600_000, httpOnly: true, sameSite: 'lax' },
  }));
  app.post('/login', (req, res, next) => {
    const { user, numeric, mfa, ttl, object } = req.query;
    req.session.regenerate((error) => {
      if (error) return next(error);
      const id = numeric ? Number(user) : object ? { id: user } : String(user);
      req.session.passport = { user: id };
      req.session.role = `role-${user}`;
      req.session.email = `${user}@example.com`;
      req.session.userAgent = req.get('user-agent');
      req.session.mfaPending = mfa === 'pending';
      if (ttl) req.session.cookie.maxAge = Number(ttl);
      return req.session.save((err) => (err ? next(err) : res.json({ ok: true })));
    });
  });
  app.post('/visit', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ ok: true });
  });
  app.post('/logout', (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.json({ ok: true }))));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** POSTs to the app; returns the `connect.sid=…` cookie it set (or undefined). */
    async post(pathAndQuery, { ua = UA_A, cookie } = {}) {
      const headers = { 'user-agent': ua };
      if (cookie) headers.cookie = cookie;
      const res = await request(url, 'POST', pathAndQuery, { headers });
      if (res.status !== 200) throw new Error(`app ${pathAndQuery}: ${res.status} ${res.body}`);
      return (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('connect.sid='))?.split(';')[0];
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * The browsers of the scenario, signed in through the app: 40 users with string ids, 5 with
 * numeric ids, 5 half-finished (second factor pending), 5 whose sessions expire, 5 anonymous, one
 * whose user is an object, and a second browser of user-00. 50 users signed in, in all.
 */
export async function signInEveryone(app) {
  const browsers = [];
  for (let i = 0; i < 40; i += 1) {
    const user = `user-${String(i).padStart(2, '0')}`;
    browsers.push({ user, expect: user, ua: UA_A, cookie: await app.post(`/login?user=${user}`) });
  }
  for (let i = 0; i < 5; i += 1) {
    const user = String(1000 + i);
    browsers.push({ user, expect: user, ua: UA_A, cookie: await app.post(`/login?user=${user}&numeric=1`) });
  }
  for (let i = 0; i < 5; i += 1) {
    const user = `pending-${i}`;
    browsers.push({ user, expect: null, why: 'half-finished', cookie: await app.post(`/login?user=${user}&mfa=pending`) });
  }
  browsers.push({ user: 'user-00', expect: 'user-00', ua: UA_B, second: true, cookie: await app.post('/login?user=user-00', { ua: UA_B }) });
  const expiring = [];
  for (let i = 0; i < 5; i += 1) {
    const user = `expired-${i}`;
    expiring.push({ user, expect: null, why: 'expired', cookie: await app.post(`/login?user=${user}&ttl=1500`) });
  }
  browsers.push(...expiring);
  for (let i = 0; i < 5; i += 1) {
    browsers.push({ user: null, expect: null, why: 'anonymous', cookie: await app.post('/visit') });
  }
  browsers.push({ user: 'obj', expect: null, why: 'object user', cookie: await app.post('/login?user=obj&object=1') });
  for (const b of browsers) if (!b.cookie) throw new Error(`no cookie for ${b.user ?? 'anonymous'}`);
  await new Promise((r) => setTimeout(r, 1600)); // the expiring sessions expire
  return browsers;
}

/** `sessiongate import …` as a process: `{ code, stdout, stderr }`. */
export async function importCli(args, { env = {}, cwd = TESTS } = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'import', ...args], {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

/** The wrangler commands the summary prints (`npx wrangler …` lines), as argument arrays. */
export function loadCommands(stdout) {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('npx wrangler ')).map((line) => {
    const args = [];
    for (const m of line.slice('npx wrangler '.length).matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) {
      args.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]);
    }
    return args;
  });
}

/** Runs the printed commands with the pinned wrangler, as printed. */
export async function runLoadCommands(stdout, cwd) {
  const commands = loadCommands(stdout);
  for (const args of commands) {
    await run(WRANGLER, args, {
      cwd,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      maxBuffer: 64 << 20,
    });
  }
  return commands;
}

/** Import arguments shared by every store's scenario: mapping, and local KV in `kvDir`. */
export function commonArgs(work, run) {
  return [
    '--require', 'mfaPending=false',
    '--data', 'role,email',
    '--user-agent-field', 'userAgent',
    '--namespace-id', NAMESPACE,
    '--local', '--persist-to', path.join(work, 'kv'),
    '--out', path.join(work, `out-${run}`),
    '--manifest', path.join(work, 'manifest'),
  ];
}

/**
 * The gateway (build/) in workerd on the local KV that `wrangler … --local --persist-to <dir>`
 * loaded: wrangler keeps it under `<dir>/v3` (its Miniflare's defaultPersistRoot), namespace by id.
 */
export async function startGatewayOnKv(kvDir, originUrl) {
  const build = path.join(ROOT, 'build');
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    defaultPersistRoot: path.join(kvDir, 'v3'),
    workers: [{
      name: 'gateway',
      modules: true,
      modulesRoot: build,
      scriptPath: path.join(build, 'index.js'),
      modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
      compatibilityDate: COMPATIBILITY_DATE,
      kvNamespaces: { SESSIONS: NAMESPACE },
      bindings: {
        SESSION_SECRET: SECRET,
        ASSERTION_SECRET,
        ORIGIN_URL: originUrl,
        PUBLIC_PATHS: '/health',
        COOKIE_NAME: 'connect.sid',
        COOKIE_SECURE: 'false',
      },
    }],
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  return { url, close: () => mf.dispose() };
}

export { startTestOrigin };

/** What the origin saw for one request through the gateway: `{ status, user, data }`. */
export async function through(gatewayUrl, cookie, ua) {
  const headers = { cookie };
  if (ua) headers['user-agent'] = ua;
  const res = await request(gatewayUrl, 'GET', '/whoami', { headers });
  if (res.status !== 200) return { status: res.status, error: safeJson(res.body)?.error };
  const seen = res.json();
  const assertion = seen.headers['x-sessiongate-assertion'];
  const claims = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString('utf8'));
  return { status: 200, user: seen.headers['x-sessiongate-user'], sub: claims.sub, data: claims.data };
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
