// Adversarial catalogue, class "Set-Cookie": the attributes of the session cookie, when it is
// cleared and when it is not, who may set it, and fresh ids at every login — through the real Worker.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import http from 'node:http';
import {
  COOKIE, UA, clearsCookie, controlRequest, errorCode, loginViaControl, parseSetCookie, request, seedSession,
  sessionCookie, sessionIdOf, signedCookie, originAndGateway, startGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({
  countKv: true,
  vars: { PUBLIC_PATHS: '/health,/control' },
});
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const sessionLines = (res, name = COOKIE) => (res.headers['set-cookie'] ?? []).filter((l) => parseSetCookie(l).name === name);
const get = (cookie, path = '/echo') => request(gateway.url, 'GET', path, { headers: { cookie, 'user-agent': UA } });

describe('Set-Cookie: attributes', () => {
  test('Set-Cookie: login sets exactly one session cookie: HttpOnly, Path=/, SameSite=Lax, Max-Age, no Domain', async () => {
    const res = await controlRequest(gateway.url, '/control', { login: '{"user":"attr"}' });
    const lines = sessionLines(res);
    assert.equal(lines.length, 1, String(res.headers['set-cookie']));
    const { value, attrs } = parseSetCookie(lines[0]);
    assert.match(value, /^s%3A[A-Za-z0-9_-]{43}\.[A-Za-z0-9%]{43,}$/);
    assert.equal(attrs.httponly, true);
    assert.equal(attrs.path, '/');
    assert.equal(attrs.samesite, 'Lax');
    assert.equal(attrs['max-age'], '86400');
    assert.equal(attrs.domain, undefined);
    assert.equal(attrs.secure, undefined, 'COOKIE_SECURE=false in this test setup');
  });

  test('Set-Cookie: SameSite=None comes with Secure; Strict is honoured', async () => {
    for (const [samesite, secure] of [['None', 'true'], ['Strict', 'false']]) {
      const g = await startGateway({
        originUrl: origin.url,
        vars: { PUBLIC_PATHS: '/control', COOKIE_SAMESITE: samesite, COOKIE_SECURE: secure },
      });
      cleanups.push(() => g.close());
      const res = await controlRequest(g.url, '/control', { login: '{"user":"ss"}' });
      const { attrs } = parseSetCookie(sessionLines(res)[0]);
      assert.equal(attrs.samesite, samesite);
      assert.equal(attrs.secure, secure === 'true' ? true : undefined, samesite);
    }
  });
});

describe('Set-Cookie: clearing', () => {
  const assertClearing = (res, what) => {
    const lines = sessionLines(res);
    assert.equal(lines.length, 1, `${what}: ${res.headers['set-cookie']}`);
    const { value, attrs } = parseSetCookie(lines[0]);
    assert.equal(value, '', what);
    assert.equal(attrs['max-age'], '0', what);
    assert.equal(Date.parse(attrs.expires), 0, what);
    assert.equal(attrs.path, '/', `${what}: the same Path, or the browser keeps the cookie`);
    assert.equal(attrs.httponly, true, what);
    assert.equal(attrs.domain, undefined, what);
  };

  test('Set-Cookie: logout by the origin clears the cookie', async () => {
    const cookie = await loginViaControl(gateway.url, 'clr1');
    assertClearing(await controlRequest(gateway.url, '/private/control', { logout: 'session', cookie }), 'origin logout');
    assertClearing(await controlRequest(gateway.url, '/private/control', { logout: 'all', cookie: await loginViaControl(gateway.url, 'clr1') }), 'origin logout-all');
  });

  test('Set-Cookie: the built-in logout endpoints clear the cookie', async () => {
    for (const path of ['/.sessiongate/logout', '/.sessiongate/logout?scope=all']) {
      const cookie = await loginViaControl(gateway.url, 'clr2');
      const res = await request(gateway.url, 'POST', path, { headers: { cookie, 'user-agent': UA } });
      assert.equal(res.status, 200, res.body);
      assertClearing(res, path);
      assert.equal(errorCode(await get(cookie)), 'unknown_session', path);
    }
  });

  test('Set-Cookie: unknown_session, session_expired, user_agent_mismatch and invalid_session_cookie clear it', async () => {
    const unknown = await get(signedCookie('never-existed-000000000000000000000000000'));
    assert.equal(errorCode(unknown), 'unknown_session');
    assertClearing(unknown, 'unknown_session');

    const expiredId = 'expired-session-0000000000000000000000000';
    await seedSession(await gateway.kv(), expiredId, { overrides: { idle_expires: Date.now() - 1000 } });
    const expired = await get(signedCookie(expiredId));
    assert.equal(errorCode(expired), 'session_expired');
    assertClearing(expired, 'session_expired');
    assert.equal(await (await gateway.kv()).get(`sess:${expiredId}`), null, 'the expired record is deleted');

    const cookie = await loginViaControl(gateway.url, 'ivan');
    const mismatch = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': 'other/1.0' } });
    assert.equal(errorCode(mismatch), 'user_agent_mismatch');
    assertClearing(mismatch, 'user_agent_mismatch');

    const invalid = await get(`${COOKIE}=s%3Agarbage.sig`);
    assert.equal(errorCode(invalid), 'invalid_session_cookie');
    assertClearing(invalid, 'invalid_session_cookie');
  });

  test('Set-Cookie: no cookie is set or cleared without a session cookie (missing_session, public paths)', async () => {
    const missing = await request(gateway.url, 'GET', '/echo', { headers: { 'user-agent': UA } });
    assert.equal(errorCode(missing), 'missing_session');
    assert.equal(missing.headers['set-cookie'], undefined);
    assert.equal((await request(gateway.url, 'GET', '/health')).headers['set-cookie'], undefined);
  });

  test('Set-Cookie: a KV outage does not clear the cookie (the session is not over)', async () => {
    const cookie = await loginViaControl(gateway.url, 'kvdown');
    gateway.setKvMode('error');
    try {
      const res = await get(cookie);
      assert.equal(errorCode(res), 'store_unavailable');
      assert.equal(sessionLines(res).length, 0, String(res.headers['set-cookie']));
    } finally {
      gateway.setKvMode(null);
    }
    assert.equal((await get(cookie)).status, 200);
  });

  test('Set-Cookie: an authenticated request that passes sets no cookie (no refresh of the cookie itself)', async () => {
    const cookie = await loginViaControl(gateway.url, 'quiet');
    const res = await get(cookie);
    assert.equal(res.status, 200);
    assert.equal(sessionLines(res).length, 0);
  });
});

describe('Set-Cookie: only the gateway sets the session cookie', () => {
  test('Set-Cookie: an origin response cannot plant or overwrite the session cookie; its other cookies pass', async () => {
    const server = http.createServer((req, res) => {
      const headers = [
        ['set-cookie', `${COOKIE}=s%3Aplanted.sig; Path=/`], ['set-cookie', ` ${COOKIE} =x`],
        ['set-cookie', 'theme=dark; Path=/'], ['set-cookie', `${COOKIE}x=kept`],
      ];
      if (req.url === '/login') headers.push(['sessiongate-login', '{"user":"planted"}']);
      res.writeHead(200, headers.flat());
      res.end('ok');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    const g = await startGateway({ originUrl: `http://127.0.0.1:${server.address().port}`, vars: { PUBLIC_PATHS: '/health,/login' } });
    cleanups.push(() => g.close());

    const plain = await request(g.url, 'GET', '/health');
    assert.deepEqual(plain.headers['set-cookie'], ['theme=dark; Path=/', `${COOKIE}x=kept`]);
    const login = await request(g.url, 'POST', '/login', { headers: { 'user-agent': UA } });
    const lines = sessionLines(login);
    assert.equal(lines.length, 1, String(login.headers['set-cookie']));
    assert.ok(!lines[0].includes('planted'));
    assert.ok(sessionIdOf(lines[0].split(';')[0]), 'the one session cookie is the gateway\'s');
  });
});

describe('Set-Cookie: every login issues a fresh id', () => {
  const loginWith = (cookie, user = 'fresh') => controlRequest(gateway.url, '/control', { login: JSON.stringify({ user }), cookie });

  test('Set-Cookie: 20 logins give 20 different 256-bit ids', async () => {
    const ids = new Set();
    for (let i = 0; i < 20; i += 1) {
      const id = sessionIdOf(sessionCookie(await loginWith()));
      assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 20);
  });

  test('Set-Cookie: login over a live session: new id, the old session ended', async () => {
    const first = await loginViaControl(gateway.url, 'fix1');
    const second = sessionCookie(await loginWith(first, 'fix1'));
    assert.notEqual(sessionIdOf(second), sessionIdOf(first));
    assert.equal(errorCode(await get(first)), 'unknown_session');
    assert.equal((await get(second)).status, 200);
  });

  test('Set-Cookie: login with an attacker-planted cookie (fixation): new id, the planted session ended', async () => {
    // The attacker's own session, planted in the victim's browser before the victim logs in.
    const planted = await loginViaControl(gateway.url, 'mallory');
    const victim = sessionCookie(await loginWith(planted, 'victim'));
    assert.notEqual(sessionIdOf(victim), sessionIdOf(planted));
    const asAttacker = await get(planted);
    assert.equal(errorCode(asAttacker), 'unknown_session', 'the planted cookie does not follow the victim in');
    const asVictim = await get(victim);
    assert.equal(asVictim.json().headers['x-sessiongate-user'], 'victim');
  });

  test('Set-Cookie: login with a well-signed cookie for an id not in KV: the id is not adopted', async () => {
    const chosen = 'attacker-chosen-id-000000000000000000000000';
    const res = await loginWith(signedCookie(chosen));
    assert.equal(res.status, 200);
    assert.notEqual(sessionIdOf(sessionCookie(res)), chosen);
    assert.equal(await (await gateway.kv()).get(`sess:${chosen}`), null);
  });

  test('Set-Cookie: login with a forged or malformed cookie on a public route: new id', async () => {
    for (const bad of [`${COOKIE}=s%3Aforged.sig`, `${COOKIE}=garbage`, `${COOKIE}=`]) {
      const res = await loginWith(bad);
      assert.equal(res.status, 200, bad);
      assert.ok(sessionIdOf(sessionCookie(res)), bad);
    }
  });

  test('Set-Cookie: a login instruction on a protected route replaces the session it came with', async () => {
    const first = await loginViaControl(gateway.url, 'dave');
    const res = await controlRequest(gateway.url, '/private/control', { login: '{"user":"erin"}', cookie: first });
    assert.equal(res.status, 200);
    const second = sessionCookie(res);
    assert.ok(second && second !== first);
    assert.equal(errorCode(await get(first)), 'unknown_session');
    assert.equal((await get(second)).json().headers['x-sessiongate-user'], 'erin');
  });
});
