// Taking over express-session's cookies, end to end: a real Express app with express-session (the
// tutorial's `keyboard cat`, `connect.sid`) logs users in; its sessions are imported into the
// gateway's KV with the package's ImportBuilder; the real Worker in workerd, with a strong
// SESSION_SECRET and the weak one only as a fenced previous secret, serves those cookies and
// re-issues them under the strong secret, refuses forgeries under the public secret, moves the
// cookie to a new name, keeps COOKIE_DOMAIN / COOKIE_PATH on set and clear, and, restarted
// without the old secret, still accepts every re-issued cookie.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import signature from 'cookie-signature';
import {
  SESSION_SECRET, UA, errorCode, parseSetCookie, request, sessionIdOf, signedCookie, startGateway,
} from './helpers.mjs';
import { CONNECT_SID, TUTORIAL_SECRET, importSessions, startExpressApp, utcDate } from './fixtures/express-app.mjs';

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function expressApp(options) {
  const app = await startExpressApp(options);
  cleanups.push(app.close);
  return app;
}

async function gatewayFor(app, vars, options = {}) {
  const gateway = await startGateway({ originUrl: app.url, vars: { PUBLIC_PATHS: '/login', ...vars }, ...options });
  cleanups.push(gateway.close);
  return gateway;
}

function persistDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-takeover-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Logs `user` in through express-session itself (the app before the gateway); its cookie. */
async function legacyLogin(app, user, role = 'member', { ua = UA, prefix = '' } = {}) {
  const res = await request(app.url, 'POST', `${prefix}/legacy/login`, {
    headers: { 'content-type': 'application/json', 'user-agent': ua },
    body: JSON.stringify({ username: user, role }),
  });
  assert.equal(res.status, 200, res.body);
  const cookie = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${CONNECT_SID}=`))?.split(';')[0];
  assert.ok(cookie, `express-session set ${CONNECT_SID}: ${res.headers['set-cookie']}`);
  const me = await request(app.url, 'GET', `${prefix}/legacy/me`, { headers: { cookie, 'user-agent': ua } });
  assert.equal(me.json().user, user, 'express-session reads its own cookie');
  return cookie;
}

/** The express-session id inside a cookie signed with the tutorial secret. */
const legacyId = (cookie) => sessionIdOf(cookie, TUTORIAL_SECRET);

/** The Set-Cookie lines of a response, parsed, by cookie name. */
function setCookies(res) {
  return (res.headers['set-cookie'] ?? []).map(parseSetCookie);
}

/** The first Worker log line matching `pattern`, parsed; waits for it (workerd's stdout arrives late). */
async function logLine(gateway, pattern) {
  for (let i = 0; i < 100; i++) {
    const line = gateway.logs.find((l) => pattern.test(l));
    if (line) return JSON.parse(line.slice(line.indexOf('{')));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`no log line matching ${pattern}:\n${gateway.logs.join('\n')}`);
}

const WEAK = {
  SESSION_SECRETS_PREVIOUS: JSON.stringify([TUTORIAL_SECRET]),
  ALLOW_WEAK_PREVIOUS_SECRETS: utcDate(7),
};

test('an express-session cookie (keyboard cat) is served and re-issued under the strong secret, same id; forgeries are refused; a restart without the old secret logs nobody out', async () => {
  const app = await expressApp();
  const alice = await legacyLogin(app, 'alice', 'admin');
  const aliceId = legacyId(alice);
  assert.match(aliceId, /^[A-Za-z0-9_-]{32}$/, 'an express-session (uid-safe) id');
  const kvDir = persistDir();
  const gateway = await gatewayFor(app, { ...WEAK, COOKIE_NAME: CONNECT_SID }, { kvPersist: kvDir });
  const imported = await importSessions(await gateway.kv(), await app.sessions());
  assert.deepEqual(imported, [aliceId]);
  const index = await (await gateway.kv()).list({ prefix: 'user:' });
  assert.equal(index.keys.length, 1);
  assert.equal(typeof index.keys[0].metadata?.c, 'number', 'the index entry carries the creation time (MAX_SESSIONS_PER_USER)');

  // The old cookie is served: the app sees alice through the assertion, not the cookie.
  const first = await request(gateway.url, 'GET', '/me', { headers: { cookie: `${alice}; theme=dark`, 'user-agent': UA } });
  assert.equal(first.status, 200, first.body);
  assert.deepEqual(first.json(), { user: 'alice', data: { role: 'admin' }, cookie: 'theme=dark' });
  // Re-issued: same id, the strong secret, the same name and scope, the remaining lifetime.
  const [reissued, ...others] = setCookies(first);
  assert.equal(others.length, 0, first.headers['set-cookie'].join('\n'));
  assert.equal(reissued.name, CONNECT_SID);
  const current = `${CONNECT_SID}=${reissued.value}`;
  assert.equal(current, signedCookie(aliceId, SESSION_SECRET, CONNECT_SID));
  assert.equal(signature.unsign(decodeURIComponent(reissued.value).slice(2), TUTORIAL_SECRET), false, 'not signed with the weak secret');
  const maxAge = Number(reissued.attrs['max-age']);
  assert.ok(maxAge > 3500 && maxAge <= 3600, `the express-session cookie's remaining hour, not a new day: ${maxAge}`);
  assert.equal(reissued.attrs.path, '/');
  assert.equal(reissued.attrs.domain, undefined, 'host-only, as the app\'s was');
  assert.equal(reissued.attrs.httponly, true);
  const weakLine = await logLine(gateway, /"secret":"weak-previous\[0\]"/);
  assert.equal(weakLine.status, 200);

  // The re-issued cookie is current: left alone, logged as such.
  const second = await request(gateway.url, 'GET', '/me', { headers: { cookie: current, 'user-agent': UA } });
  assert.equal(second.status, 200, second.body);
  assert.equal(second.headers['set-cookie'], undefined);
  await logLine(gateway, /"secret":"current"/);

  // A session the gateway created: a cookie forged under the public secret for its id is refused
  // before it can do anything, and the session survives.
  const login = await request(gateway.url, 'POST', '/login', {
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ username: 'bob', role: 'admin' }),
  });
  assert.equal(login.status, 200, login.body);
  const bob = `${CONNECT_SID}=${setCookies(login).find((c) => c.name === CONNECT_SID).value}`;
  const bobId = sessionIdOf(bob);
  assert.ok(bobId, 'the gateway signs with the strong secret');
  const forged = signedCookie(bobId, TUTORIAL_SECRET, CONNECT_SID);
  const forgery = await request(gateway.url, 'GET', '/me', { headers: { cookie: forged, 'user-agent': UA } });
  assert.equal(forgery.status, 401);
  assert.equal(errorCode(forgery), 'invalid_session_cookie');
  await logLine(gateway, /weak previous secret/);
  assert.ok(await (await gateway.kv()).get(`sess:${bobId}`), 'the forgery did not end bob\'s session');
  const bobAfter = await request(gateway.url, 'GET', '/me', { headers: { cookie: bob, 'user-agent': UA } });
  assert.equal(bobAfter.status, 200);
  assert.equal(bobAfter.json().user, 'bob');
  // A forgery for an id nobody has is refused too.
  const invented = await request(gateway.url, 'GET', '/me', {
    headers: { cookie: signedCookie('InventedSessionId0123456789abcdef', TUTORIAL_SECRET, CONNECT_SID), 'user-agent': UA },
  });
  assert.equal(invented.status, 401);

  // Restarted on the same KV without the old secret (and without the date): nobody is logged out.
  await gateway.close();
  cleanups.splice(cleanups.indexOf(gateway.close), 1);
  const restarted = await gatewayFor(app, { COOKIE_NAME: CONNECT_SID }, { kvPersist: kvDir });
  for (const [cookie, user] of [[current, 'alice'], [bob, 'bob']]) {
    const res = await request(restarted.url, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
    assert.equal(res.status, 200, `${user}: ${res.body}`);
    assert.equal(res.json().user, user);
    assert.equal(res.headers['set-cookie'], undefined);
  }
  // Only a cookie never presented during the takeover is refused now.
  const stale = await request(restarted.url, 'GET', '/me', { headers: { cookie: alice, 'user-agent': UA } });
  assert.equal(stale.status, 401);
  assert.equal(errorCode(stale), 'invalid_session_cookie');
});

test('COOKIE_NAME_PREVIOUS=connect.sid: a request with only the old cookie is served, re-issued under the new name, the old one cleared', async () => {
  const app = await expressApp();
  const carol = await legacyLogin(app, 'carol');
  const carolId = legacyId(carol);
  // Over plain http in the test: a non-prefixed name (a deployment would use __Host-sid with COOKIE_SECURE=true).
  const gateway = await gatewayFor(app, { ...WEAK, COOKIE_NAME: 'sid', COOKIE_NAME_PREVIOUS: CONNECT_SID, COOKIE_SECURE: 'false' });
  await importSessions(await gateway.kv(), await app.sessions());

  const res = await request(gateway.url, 'GET', '/me', { headers: { cookie: `theme=dark; ${carol}`, 'user-agent': UA } });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json(), { user: 'carol', data: { role: 'member' }, cookie: 'theme=dark' }, 'neither name reaches the app');
  const set = setCookies(res);
  assert.equal(set.length, 2, res.headers['set-cookie'].join('\n'));
  const moved = set.find((c) => c.name === 'sid');
  assert.equal(`sid=${moved.value}`, signedCookie(carolId, SESSION_SECRET, 'sid'));
  const cleared = set.find((c) => c.name === CONNECT_SID);
  assert.equal(cleared.value, '');
  assert.equal(cleared.attrs['max-age'], '0');
  assert.equal(cleared.attrs.path, '/');
  assert.equal(cleared.attrs.domain, undefined);
  await logLine(gateway, /"secret":"weak-previous\[0\]"/);

  const next = await request(gateway.url, 'GET', '/me', { headers: { cookie: `sid=${moved.value}`, 'user-agent': UA } });
  assert.equal(next.status, 200, next.body);
  assert.equal(next.json().user, 'carol');
  assert.equal(next.headers['set-cookie'], undefined);
});

test('COOKIE_DOMAIN and COOKIE_PATH (and the previous name\'s) are on the re-issued cookie, the cleared one, the login and the logout', async () => {
  const app = await expressApp({ cookie: { domain: 'sessiongate.test', path: '/app' } });
  const dave = await legacyLogin(app, 'dave', 'member', { prefix: '/app' });
  const gateway = await gatewayFor(app, {
    ...WEAK,
    COOKIE_SECURE: 'true',
    COOKIE_NAME: 'sid',
    COOKIE_DOMAIN: 'sessiongate.test',
    COOKIE_PATH: '/app',
    COOKIE_NAME_PREVIOUS: CONNECT_SID,
    COOKIE_DOMAIN_PREVIOUS: 'sessiongate.test',
    COOKIE_PATH_PREVIOUS: '/app',
  });
  await importSessions(await gateway.kv(), await app.sessions());

  const res = await request(gateway.url, 'GET', '/me', { headers: { cookie: dave, 'user-agent': UA } });
  assert.equal(res.status, 200, res.body);
  const set = setCookies(res);
  const scope = (c) => [c.name, c.value === '' ? 'cleared' : 'set', c.attrs.domain ?? 'host-only', c.attrs.path];
  // The new cookie with its Domain and Path; the old name cleared with its own; and, for each name
  // with a Domain, a host-only cookie of that name cleared too (a browser may hold one beside it).
  assert.deepEqual(set.map(scope).sort(), [
    [CONNECT_SID, 'cleared', 'host-only', '/app'],
    [CONNECT_SID, 'cleared', 'sessiongate.test', '/app'],
    ['sid', 'cleared', 'host-only', '/app'],
    ['sid', 'set', 'sessiongate.test', '/app'],
  ], res.headers['set-cookie'].join('\n'));
  const reissued = set.find((c) => c.name === 'sid' && c.value !== '');
  assert.equal(`sid=${reissued.value}`, signedCookie(legacyId(dave), SESSION_SECRET, 'sid'));
  assert.equal(reissued.attrs.secure, true);
  assert.ok(set.filter((c) => c.value === '').every((c) => c.attrs['max-age'] === '0'));

  // A login through the gateway, and a logout: the same Domain and Path.
  const login = await request(gateway.url, 'POST', '/login', {
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ username: 'erin' }),
  });
  const issued = setCookies(login).find((c) => c.name === 'sid' && c.value !== '');
  assert.deepEqual([issued.attrs.domain, issued.attrs.path], ['sessiongate.test', '/app']);
  const out = await request(gateway.url, 'POST', '/logout', { headers: { cookie: `sid=${issued.value}`, 'user-agent': UA } });
  assert.equal(out.status, 200, out.body);
  const gone = setCookies(out).find((c) => c.name === 'sid');
  assert.deepEqual([gone.value, gone.attrs['max-age'], gone.attrs.domain, gone.attrs.path], ['', '0', 'sessiongate.test', '/app']);
});
