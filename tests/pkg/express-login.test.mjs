// `sessiongate/express`'s login() and logout(): the control headers an Express origin sends, checked
// as the gateway checks them, and acted on by the real Worker (in workerd) in front of a real Express
// app: a login route changes by one line, non-ASCII data (José, an emoji) survives the header as
// ASCII-only JSON and comes back in the assertion as the same strings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { ASSERTION_SECRET, UA, clearsCookie, errorCode, request, sessionCookie, startGateway } from '../e2e/helpers.mjs';
import { login, logout, sessiongate } from '../../pkg/src/express.js';

/** A stand-in for Node's ServerResponse: its headers, as setHeader/removeHeader leave them. */
function fakeResponse() {
  const headers = new Map();
  return {
    headers,
    setHeader(name, value) { headers.set(name.toLowerCase(), value); },
    removeHeader(name) { headers.delete(name.toLowerCase()); },
  };
}

test('login() writes {"user","data"} as ASCII-only JSON: \\uXXXX escapes, surrogate pairs for astral characters', () => {
  const res = fakeResponse();
  assert.equal(login(res, 'jose', { name: 'José', mood: '😀', plain: 'a"b\\c', n: 1.5, list: [true, null] }), res, 'returns res');
  const header = res.headers.get('sessiongate-login');
  assert.equal(
    header,
    '{"user":"jose","data":{"name":"Jos\\u00e9","mood":"\\ud83d\\ude00","plain":"a\\"b\\\\c","n":1.5,"list":[true,null]}}',
  );
  assert.match(header, /^[\x20-\x7e]+$/, 'printable ASCII only');
  assert.deepEqual(JSON.parse(header), {
    user: 'jose', data: { name: 'José', mood: '😀', plain: 'a"b\\c', n: 1.5, list: [true, null] },
  });
  // DEL, other controls, and a lone surrogate are escaped too (Node would refuse DEL in a header).
  login(res, 'x', { s: 'a\x7fb\x01\ud800' });
  assert.equal(res.headers.get('sessiongate-login'), '{"user":"x","data":{"s":"a\\u007fb\\u0001\\ud800"}}');
  // Without data (or with null) there is no data key.
  login(res, 'alice');
  assert.equal(res.headers.get('sessiongate-login'), '{"user":"alice"}');
  login(res, 'alice', null);
  assert.equal(res.headers.get('sessiongate-login'), '{"user":"alice"}');
  login(res, 'a "quoted" \\ user');
  assert.equal(JSON.parse(res.headers.get('sessiongate-login')).user, 'a "quoted" \\ user');
  // Object.create(null) is a plain object too.
  login(res, 'alice', Object.assign(Object.create(null), { k: 'v' }));
  assert.equal(res.headers.get('sessiongate-login'), '{"user":"alice","data":{"k":"v"}}');
});

test('login() refuses with a TypeError what the gateway would refuse (user, data, size), and nothing is set', () => {
  const refused = (user, data, message) => {
    const res = fakeResponse();
    assert.throws(() => login(res, user, data), (error) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    }, `${JSON.stringify(user)} ${String(data)}`);
    assert.equal(res.headers.size, 0, 'no header on a refusal');
  };
  const userRule = /user must be 1-256 printable ASCII characters/;
  for (const user of ['', 'x'.repeat(257), 'José', 'tab\there', 'new\nline', ' lead', 'trail ', 'del\x7f', '😀', 42, null, undefined, {}]) {
    refused(user, undefined, userRule);
  }
  for (const data of [[], ['a'], 'text', 7, true, new Date(0), new Map(), new (class Profile {})()]) {
    refused('alice', data, /data must be a plain object/);
  }
  refused('alice', { n: 10n }, /data is not serializable as JSON/);
  const cyclic = {};
  cyclic.self = cyclic;
  refused('alice', cyclic, /data is not serializable as JSON/);
  refused('alice', { toJSON: () => [1] }, /must serialize to a JSON object/);
  // 2048 bytes as sent is the gateway's limit; escapes count as sent.
  const exactly = { k: 'x'.repeat(2048 - '{"k":""}'.length) };
  login(fakeResponse(), 'alice', exactly);
  refused('alice', { k: 'x'.repeat(2049 - '{"k":""}'.length) }, /data is 2049 bytes as sent, more than the gateway's 2048/);
  refused('alice', { k: 'é'.repeat(400) }, /data is 2408 bytes/);
  // Not a response.
  assert.throws(() => login(undefined, 'alice'), { name: 'TypeError', message: /needs the response/ });
  assert.throws(() => login({}, 'alice'), TypeError);
  // Longest valid user, and printable punctuation.
  login(fakeResponse(), 'u'.repeat(256));
  login(fakeResponse(), 'a.b+c@example.com');
});

test('logout() writes session or all; login and logout replace each other (the gateway refuses both at once)', () => {
  const res = fakeResponse();
  assert.equal(logout(res), res);
  assert.equal(res.headers.get('sessiongate-logout'), 'session');
  logout(res, 'all');
  assert.equal(res.headers.get('sessiongate-logout'), 'all');
  login(res, 'alice');
  assert.equal(res.headers.has('sessiongate-logout'), false);
  assert.equal(res.headers.get('sessiongate-login'), '{"user":"alice"}');
  logout(res, 'session');
  assert.equal(res.headers.has('sessiongate-login'), false);
  for (const scope of ['everywhere', 'ALL', '', null, 1]) {
    assert.throws(() => logout(fakeResponse(), scope), { name: 'TypeError', message: /scope must be 'session' or 'all'/ });
  }
  assert.throws(() => logout(null), { name: 'TypeError', message: /needs the response/ });
});

// An Express app behind the real Worker: its routes call login() and logout() and nothing else of
// the protocol.
let server;
let appUrl;
let gateway;
before(async () => {
  const app = express();
  app.set('env', 'test'); // no stack trace printed for the 500 of an oversized login
  app.use(express.json());
  app.post('/login', (req, res) => {
    const { username, ...data } = req.body;
    login(res, username, data).json({ ok: true }); // the one line
  });
  app.post('/login-ascii-user-only', (req, res) => login(res, req.body.username).json({ ok: true }));
  app.post('/login-both', (req, res) => {
    logout(res, 'session');
    login(res, req.body.username);
    res.json({ ok: true });
  });
  const protectedRoutes = express.Router();
  protectedRoutes.use(sessiongate({ secret: ASSERTION_SECRET }));
  protectedRoutes.get('/me', (req, res) => res.json({ user: req.sessiongate.user, data: req.sessiongate.data }));
  protectedRoutes.post('/logout', (req, res) => logout(res, 'session').json({ ok: true }));
  protectedRoutes.post('/logout-everywhere', (req, res) => logout(res, 'all').json({ ok: true }));
  app.use(protectedRoutes);
  server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  appUrl = `http://127.0.0.1:${server.address().port}`;
  gateway = await startGateway({ originUrl: appUrl, vars: { PUBLIC_PATHS: '/login,/login-ascii-user-only,/login-both' } });
});
after(async () => {
  await gateway?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve());
});

async function loginThrough(path, body, ua = UA) {
  const res = await request(gateway.url, 'POST', path, {
    headers: { 'content-type': 'application/json', 'user-agent': ua },
    body: JSON.stringify(body),
  });
  return res;
}

test('behind the real Worker: José and an emoji go through the header and come back in the assertion unchanged', async () => {
  const data = { name: 'José', mood: '😀', city: 'Zürich', note: '日本' };
  const res = await loginThrough('/login', { username: 'jose', ...data });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json(), { ok: true });
  assert.equal(res.headers['sessiongate-login'], undefined, 'the control header never reaches the client');
  const cookie = sessionCookie(res);
  assert.ok(cookie, `a session cookie: ${res.headers['set-cookie']}`);
  const me = await request(gateway.url, 'GET', '/me', { headers: { cookie, 'user-agent': UA } });
  assert.equal(me.status, 200, me.body);
  assert.deepEqual(me.json(), { user: 'jose', data });
  // Without data, the session has none.
  const plain = sessionCookie(await loginThrough('/login-ascii-user-only', { username: 'a.b+c@example.com' }));
  const mePlain = await request(gateway.url, 'GET', '/me', { headers: { cookie: plain, 'user-agent': UA } });
  assert.deepEqual(mePlain.json(), { user: 'a.b+c@example.com', data: null });
});

test('behind the real Worker: the limits agree with the gateway\'s (256-character user, 2048-byte data as sent)', async () => {
  const user = 'u'.repeat(256);
  const data = { k: `é${'x'.repeat(2048 - '{"k":""}'.length - 6)}` }; // exactly 2048 bytes with its escape
  const res = await loginThrough('/login', { username: user, ...data });
  assert.equal(res.status, 200, res.body);
  const me = await request(gateway.url, 'GET', '/me', { headers: { cookie: sessionCookie(res), 'user-agent': UA } });
  assert.deepEqual(me.json(), { user, data });
  // One byte more: login() throws in the app (Express answers 500), the gateway creates nothing.
  const tooBig = await loginThrough('/login', { username: 'alice', k: `é${'x'.repeat(2049 - '{"k":""}'.length - 6)}` });
  assert.equal(tooBig.status, 500);
  assert.equal(sessionCookie(tooBig), undefined);
});

test('behind the real Worker: logout() ends the session (cookie cleared), logout(res, "all") every session of the user', async () => {
  const first = sessionCookie(await loginThrough('/login', { username: 'carol' }));
  const out = await request(gateway.url, 'POST', '/logout', { headers: { cookie: first, 'user-agent': UA } });
  assert.equal(out.status, 200, out.body);
  assert.ok(clearsCookie(out), `clearing Set-Cookie: ${out.headers['set-cookie']}`);
  const after = await request(gateway.url, 'GET', '/me', { headers: { cookie: first, 'user-agent': UA } });
  assert.equal(after.status, 401);

  const laptop = sessionCookie(await loginThrough('/login', { username: 'dave' }));
  const phone = sessionCookie(await loginThrough('/login', { username: 'dave' }, 'Mozilla/5.0 (Linux; Android 14) phone/1.0'));
  const everywhere = await request(gateway.url, 'POST', '/logout-everywhere', { headers: { cookie: laptop, 'user-agent': UA } });
  assert.equal(everywhere.status, 200, everywhere.body);
  assert.ok(clearsCookie(everywhere));
  const phoneAfter = await request(gateway.url, 'GET', '/me', {
    headers: { cookie: phone, 'user-agent': 'Mozilla/5.0 (Linux; Android 14) phone/1.0' },
  });
  assert.equal(phoneAfter.status, 401);
  assert.equal(errorCode(phoneAfter), 'unknown_session');

  // logout() then login() in one handler: only the login is sent, so the gateway logs in (no 502).
  const both = await loginThrough('/login-both', { username: 'erin' });
  assert.equal(both.status, 200, both.body);
  assert.ok(sessionCookie(both));
});
