// The embeddable gate, as a JavaScript Worker user gets it: the packed package installed into a
// fresh project, a Hono app importing `sessiongate/gate`, bundled by wrangler (which picks the
// package's `workerd` entries) and run in workerd with local KV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Log, LogLevel, Miniflare } from 'miniflare';
import WebSocket from 'ws';
import signature from 'cookie-signature';
import {
  ASSERTION_SECRET, COMPATIBILITY_DATE, OLD_SECRET, ROOT, SESSION_SECRET, UA, request, sessionCookie, clearsCookie,
  errorCode, signedCookie,
} from '../e2e/helpers.mjs';
import { TUTORIAL_SECRET, importSessions, utcDate } from '../e2e/fixtures/express-app.mjs';
import { verifyAssertion } from '../../pkg/src/origin-node.js';
import { TESTS, freshProject } from './pack.mjs';

const COOKIE = 'app_session';
let project;
let mf;
let url;
let dist;
const kvReads = () => mf.getKVNamespace('SESSIONS');

before(async () => {
  project = freshProject({ link: ['hono'] });
  fs.mkdirSync(path.join(project.dir, 'src'));
  fs.copyFileSync(path.join(TESTS, 'pkg/fixtures/hono-worker.js'), path.join(project.dir, 'src/index.js'));
  fs.writeFileSync(path.join(project.dir, 'wrangler.toml'), [
    'name = "hono-with-sessiongate"',
    'main = "src/index.js"',
    `compatibility_date = "${COMPATIBILITY_DATE}"`,
    '[[kv_namespaces]]',
    'binding = "SESSIONS"',
    'id = "local"',
  ].join('\n'));
  execFileSync(path.join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', 'dist'], {
    cwd: project.dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dist = path.join(project.dir, 'dist');
  mf = startBundle({ PUBLIC_PATHS: '/health,/login,/__probe/*', WEBSOCKET_RECHECK_SECONDS: '1' });
  url = (await mf.ready).toString().replace(/\/$/, '');
});

/** The bundled app in workerd with local KV; `vars` add to the gate's settings. */
function startBundle(vars) {
  return new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    modules: true,
    modulesRoot: dist,
    scriptPath: path.join(dist, 'index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ['SESSIONS'],
    bindings: { SESSION_SECRET, ASSERTION_SECRET, COOKIE_NAME: COOKIE, COOKIE_SECURE: 'false', ...vars },
    log: new Log(LogLevel.WARN),
  });
}

after(async () => {
  await mf?.dispose();
  project?.remove();
});

async function loginAs(user) {
  const res = await request(url, 'POST', '/login', {
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ username: user }),
  });
  assert.equal(res.status, 200, res.body);
  const cookie = sessionCookie(res, COOKIE);
  assert.ok(cookie, `login set ${COOKIE}: ${res.headers['set-cookie']}`);
  return cookie;
}

test('bundled with wrangler: the Wasm modules of the gate and the primitives are in the bundle', () => {
  const wasmFiles = fs.readdirSync(path.join(project.dir, 'dist')).filter((f) => f.endsWith('.wasm'));
  assert.equal(wasmFiles.length, 2, wasmFiles.join(', '));
});

test('public routes reach the app without a session; protected ones are refused', async () => {
  const health = await request(url, 'GET', '/health', { headers: { 'x-sessiongate-user': 'mallory' } });
  assert.equal(health.status, 200);
  assert.equal(health.body, 'ok');
  const me = await request(url, 'GET', '/me', { headers: { 'user-agent': UA } });
  assert.equal(me.status, 401);
  assert.equal(me.json().error, 'missing_session');
});

test('login through the app: a signed cookie, a KV record, and the app sees the user with a valid assertion', async () => {
  const cookie = await loginAs('alice');
  const id = signature.unsign(decodeURIComponent(cookie.split('=')[1]).slice(2), SESSION_SECRET);
  assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  const record = JSON.parse(await (await kvReads()).get(`sess:${id}`));
  assert.equal(record.user, 'alice');
  assert.deepEqual(record.data, { via: 'hono' });

  const me = await request(url, 'GET', '/me?x=1', { headers: { cookie: `${cookie}; theme=dark`, 'user-agent': UA } });
  assert.equal(me.status, 200, me.body);
  const body = me.json();
  assert.equal(body.user, 'alice');
  assert.equal(new URL(body.url).pathname + new URL(body.url).search, '/me?x=1', 'the app gets the request at its own URL');
  assert.deepEqual(body.cookies, ['theme'], 'the session cookie is not passed to the app');
  const verified = verifyAssertion(body.assertion, ASSERTION_SECRET);
  assert.equal(verified.user, 'alice');
  assert.deepEqual(verified.data, { via: 'hono' });
});

test('same checks as the standalone Worker: spoofed identity, bad signature, user-agent binding', async () => {
  const cookie = await loginAs('bob');
  const spoofed = await request(url, 'GET', '/me', { headers: { cookie, 'user-agent': UA, 'X-Sessiongate-User': 'admin' } });
  assert.equal(spoofed.json().user, 'bob');
  const [name, value] = cookie.split('=');
  const flipped = `${name}=${value.slice(0, -1)}${value.at(-1) === 'A' ? 'B' : 'A'}`;
  const bad = await request(url, 'GET', '/me', { headers: { cookie: flipped, 'user-agent': UA } });
  assert.equal(bad.status, 401);
  const otherAgent = await request(url, 'GET', '/me', { headers: { cookie, 'user-agent': 'curl/8.0' } });
  assert.equal(otherAgent.status, 401);
});

test('logout through the app clears the cookie and destroys the session', async () => {
  const cookie = await loginAs('carol');
  const out = await request(url, 'POST', '/logout', { headers: { cookie, 'user-agent': UA } });
  assert.equal(out.status, 200);
  assert.ok(clearsCookie(out, COOKIE), `clearing Set-Cookie: ${out.headers['set-cookie']}`);
  const after = await request(url, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
  assert.equal(after.status, 401);
});

test('the gateway endpoint (logout) works embedded too, with its CSRF check', async () => {
  const cookie = await loginAs('dave');
  const crossSite = await request(url, 'POST', '/.sessiongate/logout', {
    headers: { cookie, 'user-agent': UA, origin: 'https://evil.example' },
  });
  assert.equal(crossSite.status, 403);
  const sameOrigin = await request(url, 'POST', '/.sessiongate/logout', {
    headers: { cookie, 'user-agent': UA, origin: url },
  });
  assert.equal(sameOrigin.status, 200, sameOrigin.body);
  const after = await request(url, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
  assert.equal(after.status, 401);
});

test('the primitives entry works in the same Worker (workerd condition)', async () => {
  const signed = signature.sign('value-1', SESSION_SECRET);
  const res = await request(url, 'GET', `/__probe/unsign?signed=${encodeURIComponent(signed)}`);
  assert.deepEqual(res.json(), { value: 'value-1' });
  const bad = await request(url, 'GET', `/__probe/unsign?signed=${encodeURIComponent(`${signed}x`)}`);
  assert.deepEqual(bad.json(), { value: false });
});

test('createGate refuses bad options with every problem named, never a secret value', async () => {
  const res = await request(url, 'GET', '/__probe/bad-config');
  assert.equal(res.status, 500);
  assert.match(res.body, /SESSION_SECRET is too short/);
  assert.match(res.body, /ASSERTION_SECRET is missing/);
  assert.ok(!res.body.includes('too short"') && !res.body.includes("'too short'"), res.body);
  const noHandler = await request(url, 'GET', '/__probe/no-handler');
  assert.equal(noHandler.status, 500);
  assert.match(noHandler.body, /needs a handler when ORIGIN_URL is not set/);
});

test('SESSION_CACHE_TTL_MS: the gate object keeps the cache across requests; a logout through it ends the session at once', async () => {
  const cached = startBundle({ PUBLIC_PATHS: '/health,/login', SESSION_CACHE_TTL_MS: '30000' });
  try {
    const base = (await cached.ready).toString().replace(/\/$/, '');
    const login = await request(base, 'POST', '/login', {
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: JSON.stringify({ username: 'erin' }),
    });
    const cookie = sessionCookie(login, COOKIE);
    assert.ok(cookie, `login set ${COOKIE}`);
    const me = () => request(base, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
    assert.equal((await me()).json().user, 'erin');
    // Deleted behind the gate's back (another isolate): this isolate still has its read.
    const id = signature.unsign(decodeURIComponent(cookie.split('=')[1]).slice(2), SESSION_SECRET);
    await (await cached.getKVNamespace('SESSIONS')).delete(`sess:${id}`);
    assert.equal((await me()).json().user, 'erin', 'answered from the cache');
    const out = await request(base, 'POST', '/logout', { headers: { cookie, 'user-agent': UA } });
    assert.equal(out.status, 200);
    const after = await me();
    assert.equal(after.status, 401);
    assert.equal(after.json().error, 'unknown_session');
  } finally {
    await cached.dispose();
  }
});

test('cookie takeover embedded: a previous-secret cookie is accepted and re-issued; a weak-secret cookie only for an imported session', async () => {
  const takeover = startBundle({
    PUBLIC_PATHS: '/health,/login',
    SESSION_SECRETS_PREVIOUS: JSON.stringify([OLD_SECRET, TUTORIAL_SECRET]),
    ALLOW_WEAK_PREVIOUS_SECRETS: utcDate(7),
  });
  try {
    const base = (await takeover.ready).toString().replace(/\/$/, '');
    const me = (cookie) => request(base, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
    const reissuedCookie = (res) => sessionCookie(res, COOKIE);

    // A session the gate created, presented under the (strong) previous secret: served, re-issued.
    const login = await request(base, 'POST', '/login', {
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: JSON.stringify({ username: 'frank' }),
    });
    const current = sessionCookie(login, COOKIE);
    const id = signature.unsign(decodeURIComponent(current.split('=')[1]).slice(2), SESSION_SECRET);
    const viaPrevious = await me(signedCookie(id, OLD_SECRET, COOKIE));
    assert.equal(viaPrevious.status, 200, viaPrevious.body);
    assert.equal(viaPrevious.json().user, 'frank');
    assert.equal(reissuedCookie(viaPrevious), current, 'same id, the current secret');
    assert.equal((await me(current)).headers['set-cookie'], undefined, 'a current cookie is left alone');

    // The same session under the weak secret: refused (anyone can sign under a public secret), and it survives.
    const forged = await me(signedCookie(id, TUTORIAL_SECRET, COOKIE));
    assert.equal(forged.status, 401);
    assert.equal(errorCode(forged), 'invalid_session_cookie');
    assert.equal((await me(current)).status, 200);

    // An imported express-session session under the weak secret: served and re-issued.
    const oldId = 'EmbeddedImportedSession0123456789abc';
    await importSessions(await takeover.getKVNamespace('SESSIONS'), {
      [oldId]: { user: 'grace', role: 'member', userAgent: UA, cookie: { expires: new Date(Date.now() + 3600e3).toISOString() } },
    });
    const weak = await me(signedCookie(oldId, TUTORIAL_SECRET, COOKIE));
    assert.equal(weak.status, 200, weak.body);
    assert.equal(weak.json().user, 'grace');
    const reissued = reissuedCookie(weak);
    assert.equal(reissued, signedCookie(oldId, SESSION_SECRET, COOKIE));
    const seconds = Number(/Max-Age=(\d+)/.exec(weak.headers['set-cookie'].find((c) => c.startsWith(`${COOKIE}=`)))[1]);
    assert.ok(seconds > 3500 && seconds <= 3600, `the remaining lifetime: ${seconds}`);
    assert.equal((await me(reissued)).status, 200);
  } finally {
    await takeover.dispose();
  }
});

test('the browser flow embedded: sign-in redirect, optional paths, cross-site protection, no cacheable session responses', async () => {
  const browserFlow = startBundle({
    PUBLIC_PATHS: '/health,/login', OPTIONAL_PATHS: '/home', LOGIN_URL: '/login', CSRF_PROTECTION: 'true',
  });
  try {
    const base = (await browserFlow.ready).toString().replace(/\/$/, '');
    const send = (method, path, headers = {}, body) =>
      request(base, method, path, { headers: { 'user-agent': UA, ...headers }, body });

    const nav = await send('GET', '/me?x=1', { 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302);
    assert.equal(nav.headers.location, '/login?return_to=/me%3Fx%3D1');
    assert.equal(nav.headers['cache-control'], 'no-store');
    const api = await send('GET', '/me');
    assert.equal(api.status, 401);
    assert.match(api.headers['www-authenticate'], /^Session realm="/);

    const forged = await send('POST', '/login', { origin: 'https://evil.example', 'content-type': 'application/json' },
      JSON.stringify({ username: 'mallory' }));
    assert.equal(forged.status, 403);
    assert.equal(forged.json().error, 'cross_site_request');
    const login = await send('POST', '/login', { origin: base, 'content-type': 'application/json' },
      JSON.stringify({ username: 'frank' }));
    assert.equal(login.status, 200, login.body);
    assert.equal(login.headers['cache-control'], 'no-store');
    const cookie = sessionCookie(login, COOKIE);

    const anonymous = await send('GET', '/home');
    assert.deepEqual(anonymous.json(), { user: null });
    assert.equal(anonymous.headers['cache-control'], 'public, max-age=3600');
    const known = await send('GET', '/home', { cookie });
    assert.deepEqual(known.json(), { user: 'frank' });
    assert.equal(known.headers['cache-control'], 'private, max-age=3600');
    const crossSite = await send('POST', '/transfer', { cookie, 'sec-fetch-site': 'cross-site' });
    assert.equal(crossSite.status, 403);
    const sameOrigin = await send('POST', '/transfer', { cookie, 'sec-fetch-site': 'same-origin' });
    assert.deepEqual(sameOrigin.json(), { user: 'frank' });
    const otherAgent = await send('GET', '/home', { cookie, 'user-agent': 'curl/8.0' });
    assert.deepEqual(otherAgent.json(), { user: null });
    assert.ok(clearsCookie(otherAgent, COOKIE));
    assert.equal(otherAgent.headers['cache-control'], 'no-store');
  } finally {
    await browserFlow.dispose();
  }
});

/** A WebSocket to the bundled app: `{ ws, next(), closed }` once open, `{ status }` if refused. */
function openSocket(cookie, origin = url) {
  const headers = { 'user-agent': UA, origin };
  if (cookie) headers.cookie = cookie;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers });
  const queue = [];
  const waiting = [];
  ws.on('message', (data) => (waiting.length ? waiting.shift()(data.toString()) : queue.push(data.toString())));
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, next, closed }));
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      resolve({ status: res.statusCode });
    });
    ws.on('error', reject);
  });
}

test('WebSockets: the handler gets the upgrade with the user and returns its 101; a logout closes the socket with 4401', async () => {
  const cookie = await loginAs('frank');
  assert.equal((await openSocket(cookie, 'https://evil.example')).status, 403);
  assert.equal((await openSocket(undefined)).status, 401);
  const { ws, next, closed } = await openSocket(cookie);
  ws.send('hi');
  assert.equal(await next(), 'frank: hi');
  const out = await request(url, 'POST', '/logout', { headers: { cookie, 'user-agent': UA } });
  assert.equal(out.status, 200);
  const endedAt = Date.now();
  const { code, reason } = await closed;
  assert.deepEqual({ code, reason }, { code: 4401, reason: 'unknown_session' });
  assert.ok(Date.now() - endedAt <= 2500, `closed ${Date.now() - endedAt} ms after the logout`);
});

test('operations embedded: health, the admin API (ADMIN_TOKENS passed as an object) and MAX_SESSIONS_PER_USER', async () => {
  const token = 'embedded-operator-token-0123456789abcdef';
  const ops = startBundle({ PUBLIC_PATHS: '/health,/login', ADMIN_TOKENS: { embedded: token }, MAX_SESSIONS_PER_USER: '1' });
  try {
    const base = (await ops.ready).toString().replace(/\/$/, '');
    const health = await request(base, 'GET', '/.sessiongate/health');
    assert.equal(health.status, 200, health.body);
    assert.deepEqual(health.json(), { status: 'ok', config: 'ok' });
    const loginGina = async () => sessionCookie(await request(base, 'POST', '/login', {
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: JSON.stringify({ username: 'gina' }),
    }), COOKIE);
    const first = await loginGina();
    const second = await loginGina();
    const me = (cookie) => request(base, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
    assert.equal((await me(first)).status, 401, 'the cap of 1 ended the older session');
    assert.equal((await me(second)).json().user, 'gina');
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await request(base, 'GET', '/.sessiongate/admin/sessions?user=gina')).status, 401);
    const list = await request(base, 'GET', '/.sessiongate/admin/sessions?user=gina', { headers: auth });
    assert.equal(list.status, 200, list.body);
    assert.equal(list.json().total, 1);
    const all = await request(base, 'POST', '/.sessiongate/admin/sessions/end-all?user=gina', { headers: auth });
    assert.deepEqual(all.json(), { ok: true, ended: 1, remaining: 0 });
    assert.equal((await me(second)).status, 401);
  } finally {
    await ops.dispose();
  }
  // Without ADMIN_TOKENS, the ordinary 404.
  const res = await request(url, 'GET', '/.sessiongate/admin/sessions?user=gina', { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404);
});
