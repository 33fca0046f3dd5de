// Cookie compatibility with express-session (both directions), secret rotation, and the default
// production cookie (`__Host-sessiongate`, Secure), through the real Worker in workerd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import session from 'express-session';
import { jwtVerify } from 'jose';
import {
  ASSERTION_SECRET, OLD_SECRET, SESSION_SECRET, UA, errorCode, login, parseSetCookie, postLogin, request,
  seedSession, sessionIdOf, signedCookie, startDemoOrigin, startGateway, uaHash,
} from './helpers.mjs';

let origin;
const cleanups = [];
before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await origin?.close();
});
async function gatewayWith(vars, options = {}) {
  const gateway = await startGateway({ originUrl: origin.url, vars, ...options });
  cleanups.push(() => gateway.close());
  return gateway;
}

/** A real Express app with express-session, configured as a team migrating to sessiongate would. */
async function startExpressApp() {
  const store = new session.MemoryStore();
  const app = express();
  app.use(session({
    secret: SESSION_SECRET,
    name: 'connect.sid',
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, secure: false, sameSite: 'lax' },
  }));
  app.post('/login', (req, res) => {
    req.session.user = 'alice';
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => res.json({ id: req.sessionID, user: req.session.user ?? null }));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${server.address().port}`, store };
}

describe('express-session compatibility', () => {
  let app;
  let gateway;
  before(async () => {
    app = await startExpressApp();
    gateway = await gatewayWith({ COOKIE_NAME: 'connect.sid', COOKIE_SECURE: 'false' });
  });

  test('a connect.sid cookie minted by express-session is accepted by the gateway', async () => {
    const res = await request(app.url, 'POST', '/login');
    assert.equal(res.status, 200);
    const cookie = res.headers['set-cookie'].find((c) => c.startsWith('connect.sid=')).split(';')[0];
    assert.match(cookie, /^connect\.sid=s%3A[A-Za-z0-9_-]{32}\./, 'express-session\'s own format');
    const id = sessionIdOf(cookie);
    assert.ok(id, 'express-session signs like cookie-signature');

    // Migrate the session: the gateway's record for the same id.
    await seedSession(await gateway.kv(), id, { user: 'alice', data: { role: 'admin' } });

    const who = await request(gateway.url, 'GET', '/whoami', {
      headers: { cookie: `theme=dark; ${cookie}`, 'user-agent': UA },
    });
    assert.equal(who.status, 200, who.body);
    assert.equal(who.json().user, 'alice');
    assert.equal(who.json().assertion?.sub, 'alice');
    const seen = origin.requests.at(-1);
    assert.equal(seen.headers.cookie, 'theme=dark', 'connect.sid stays at the gateway');
  });

  test('a cookie minted by the gateway is accepted by express-session', async () => {
    const cookie = await login(gateway.url, 'bob', { name: 'connect.sid' });
    assert.match(cookie, /^connect\.sid=s%3A/);
    const id = sessionIdOf(cookie);
    assert.ok(id);
    // express-session looks the id up in its own store: give it one with that id.
    await new Promise((resolve, reject) => {
      app.store.set(id, { cookie: { originalMaxAge: null, httpOnly: true, path: '/' }, user: 'bob' },
        (err) => (err ? reject(err) : resolve()));
    });
    const me = await request(app.url, 'GET', '/me', { headers: { cookie } });
    assert.deepEqual(me.json(), { id, user: 'bob' });
  });
});

describe('secret rotation', () => {
  const NEW_SECRET = 'e2e-rotated-secret-0123456789abcdefghij';
  const STRANGER = 'e2e-unrelated-secret-0123456789abcdefgh';

  test('SESSION_SECRETS_PREVIOUS (JSON array) verifies old cookies; new cookies use the new secret', async () => {
    const gateway = await gatewayWith({
      SESSION_SECRET: NEW_SECRET,
      SESSION_SECRETS_PREVIOUS: JSON.stringify([OLD_SECRET, SESSION_SECRET]),
    });
    const kv = await gateway.kv();
    const oldId = 'rotation-old-secret-0000000000000000000000';
    const midId = 'rotation-mid-secret-0000000000000000000000';
    const strangerId = 'rotation-stranger-000000000000000000000000';
    for (const id of [oldId, midId, strangerId]) await seedSession(kv, id);
    const get = (cookie) => request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });

    assert.equal((await get(signedCookie(oldId, OLD_SECRET))).status, 200, 'first previous secret');
    assert.equal((await get(signedCookie(midId, SESSION_SECRET))).status, 200, 'second previous secret');
    const stranger = await get(signedCookie(strangerId, STRANGER));
    assert.equal(stranger.status, 401);
    assert.equal(errorCode(stranger), 'invalid_session_cookie');

    const fresh = await login(gateway.url);
    assert.ok(sessionIdOf(fresh, NEW_SECRET), 'a new cookie is signed with SESSION_SECRET');
    assert.equal(sessionIdOf(fresh, OLD_SECRET), false);
    assert.equal((await get(fresh)).status, 200);
  });

  test('SESSION_SECRETS_PREVIOUS as one plain string', async () => {
    const gateway = await gatewayWith({ SESSION_SECRET: NEW_SECRET, SESSION_SECRETS_PREVIOUS: OLD_SECRET });
    const id = 'rotation-plain-string-00000000000000000000';
    await seedSession(await gateway.kv(), id);
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie: signedCookie(id, OLD_SECRET), 'user-agent': UA },
    });
    assert.equal(res.status, 200, res.body);
  });

  test('without the previous secret configured, old cookies are refused', async () => {
    const gateway = await gatewayWith({ SESSION_SECRET: NEW_SECRET });
    const id = 'rotation-not-configured-000000000000000000';
    await seedSession(await gateway.kv(), id);
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie: signedCookie(id, OLD_SECRET), 'user-agent': UA },
    });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), 'invalid_session_cookie');
  });
});

describe('production cookie defaults', () => {
  let gateway;
  before(async () => {
    // COOKIE_NAME and COOKIE_SECURE unset: `__Host-sessiongate`, Secure.
    gateway = await gatewayWith({ COOKIE_NAME: undefined, COOKIE_SECURE: undefined });
  });
  const NAME = '__Host-sessiongate';

  test('login sets __Host-sessiongate with Secure, HttpOnly, Path=/, SameSite=Lax, Max-Age, no Domain', async () => {
    const res = await postLogin(gateway.url, 'alice');
    assert.equal(res.status, 200);
    const lines = (res.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${NAME}=`));
    assert.equal(lines.length, 1, String(res.headers['set-cookie']));
    const { value, attrs } = parseSetCookie(lines[0]);
    assert.match(value, /^s%3A[A-Za-z0-9_-]{43}\.[A-Za-z0-9%]+$/);
    assert.equal(attrs.secure, true);
    assert.equal(attrs.httponly, true);
    assert.equal(attrs.path, '/');
    assert.equal(attrs.samesite, 'Lax');
    assert.equal(attrs['max-age'], '86400');
    assert.equal(attrs.domain, undefined, '__Host- cookies must not have a Domain');
    assert.ok(sessionIdOf(`${NAME}=${value}`), 'verifies with cookie-signature');

    const cookie = `${NAME}=${value}`;
    const who = await request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
    assert.equal(who.status, 200);
    assert.equal(who.json().user, 'alice');
  });

  test('the clearing cookie keeps Secure and Path=/ (browsers ignore a __Host- cookie without them)', async () => {
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie: `${NAME}=s%3Agarbage.sig`, 'user-agent': UA },
    });
    assert.equal(errorCode(res), 'invalid_session_cookie');
    const line = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${NAME}=`));
    assert.ok(line, 'a clearing cookie is sent');
    const { value, attrs } = parseSetCookie(line);
    assert.equal(value, '');
    assert.ok(attrs['max-age'] === '0' || Date.parse(attrs.expires) < Date.now(), line);
    assert.equal(attrs.secure, true, line);
    assert.equal(attrs.path, '/', line);
    assert.equal(attrs.domain, undefined, line);
  });

  test('a cookie under the non-default name "sessiongate" is not the session cookie', async () => {
    const cookie = await login(gateway.url, 'alice', { name: NAME }).then((c) => `sessiongate=${c.split('=')[1]}`);
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), 'missing_session');
  });
});

describe('cookie settings and the assertion', () => {
  test('COOKIE_SAMESITE=Strict, custom USER_HEADER / ASSERTION_HEADER, ASSERTION_TTL', async () => {
    const gateway = await gatewayWith({
      COOKIE_SAMESITE: 'Strict',
      USER_HEADER: 'X-Auth-User',
      ASSERTION_HEADER: 'X-Auth-Assertion',
      ASSERTION_TTL: '120',
    });
    const res = await request(gateway.url, 'POST', '/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': UA },
      body: 'username=bob&password=sessiongate-demo',
    });
    assert.equal(res.status, 303, 'a plain form post is redirected to the app page');
    assert.equal(res.headers.location, '/app');
    const line = res.headers['set-cookie'].find((c) => c.startsWith('sessiongate='));
    assert.equal(parseSetCookie(line).attrs.samesite, 'Strict');
    const cookie = line.split(';')[0];

    const echo = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie, 'user-agent': UA, 'x-auth-user': 'mallory', 'x-sessiongate-user': 'mallory' },
    });
    const seen = echo.json().headers;
    assert.equal(seen['x-auth-user'], 'bob', 'the configured user header carries the real user');
    assert.equal(seen['x-sessiongate-user'], undefined, 'the default name is still stripped');
    const { payload } = await jwtVerify(seen['x-auth-assertion'], new TextEncoder().encode(ASSERTION_SECRET), {
      issuer: 'sessiongate',
      subject: 'bob',
      algorithms: ['HS256'],
    });
    assert.equal(payload.exp - payload.iat, 120);
    assert.ok(payload.sid && payload.sid !== sessionIdOf(cookie));
    assert.ok(!seen['x-auth-assertion'].includes(sessionIdOf(cookie)));
  });

  test('the assertion is not accepted with another key, and its sid is stable per session', async () => {
    const gateway = await gatewayWith({});
    const cookie = await login(gateway.url);
    const token = async () => (await request(gateway.url, 'GET', '/echo', {
      headers: { cookie, 'user-agent': UA },
    })).json().headers['x-sessiongate-assertion'];
    const first = await token();
    const second = await token();
    const key = (s) => new TextEncoder().encode(s);
    const a = (await jwtVerify(first, key(ASSERTION_SECRET))).payload;
    const b = (await jwtVerify(second, key(ASSERTION_SECRET))).payload;
    assert.equal(a.sid, b.sid);
    await assert.rejects(jwtVerify(first, key(SESSION_SECRET)), 'not signed with the session secret');
    const other = (await jwtVerify(
      await (async () => (await request(gateway.url, 'GET', '/echo', {
        headers: { cookie: await login(gateway.url), 'user-agent': UA },
      })).json().headers['x-sessiongate-assertion'])(),
      key(ASSERTION_SECRET),
    )).payload;
    assert.notEqual(other.sid, a.sid, 'another session has another sid');
  });
});

describe('user-agent binding variants', () => {
  test('a session created without a User-Agent is refused (and destroyed) when one appears', async () => {
    const gateway = await gatewayWith({});
    const res = await postLogin(gateway.url, 'alice', { ua: null });
    const cookie = res.headers['set-cookie'].find((c) => c.startsWith('sessiongate=')).split(';')[0];
    const record = JSON.parse(await (await gateway.kv()).get(`sess:${sessionIdOf(cookie)}`));
    assert.equal(record.ua, uaHash(''), 'bound to the empty User-Agent');
    const empty = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': '' } });
    assert.equal(empty.status, 200, 'an empty User-Agent equals an absent one');
    const withUa = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(errorCode(withUa), 'user_agent_mismatch');
    const again = await request(gateway.url, 'GET', '/echo', { headers: { cookie } });
    assert.equal(errorCode(again), 'unknown_session');
  });

  test('the record stores the base64url SHA-256 of the User-Agent', async () => {
    const gateway = await gatewayWith({});
    const cookie = await login(gateway.url);
    const record = JSON.parse(await (await gateway.kv()).get(`sess:${sessionIdOf(cookie)}`));
    assert.equal(record.ua, uaHash(UA));
  });

  test('UA_BINDING=false accepts a changed User-Agent', async () => {
    const gateway = await gatewayWith({ UA_BINDING: 'false' });
    const cookie = await login(gateway.url);
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': 'curl/8.5.0' } });
    assert.equal(res.status, 200);
    assert.equal(res.json().headers['x-sessiongate-user'], 'alice');
  });
});
