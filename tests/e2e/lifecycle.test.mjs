// The whole life of a session over HTTP, through the real Wasm Worker in workerd with local KV.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jwtVerify } from 'jose';
import signature from 'cookie-signature';
import {
  ASSERTION_SECRET, COOKIE, SESSION_SECRET, UA, errorCode, login, postLogin, request, sessionCookie,
  sessionIdOf, signedCookie, startDemoOrigin, startGateway,
} from './helpers.mjs';

let origin;
let gateway;

before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  gateway = await startGateway({ originUrl: origin.url });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

const get = (path, cookie, extra = {}) =>
  request(gateway.url, 'GET', path, { headers: { 'user-agent': UA, ...(cookie ? { cookie } : {}), ...extra } });
const lastSeenByOrigin = () => origin.requests.at(-1);

describe('login', () => {
  test('the origin\'s login header creates a session; the client never sees the header', async () => {
    const res = await postLogin(gateway.url, 'alice');
    assert.equal(res.status, 200);
    assert.equal(res.headers['sessiongate-login'], undefined);
    const setCookie = res.headers['set-cookie'].find((c) => c.startsWith(`${COOKIE}=`));
    assert.match(setCookie, /^sessiongate=s%3A[A-Za-z0-9_-]{43}\.[A-Za-z0-9%]+; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    const id = sessionIdOf(sessionCookie(res));
    assert.ok(id, 'the cookie verifies with cookie-signature.unsign and the same secret');
    assert.equal(sessionIdOf(sessionCookie(res), 'some-other-secret-0123456789abcdef'), false);

    const kv = await gateway.kv();
    const record = JSON.parse(await kv.get(`sess:${id}`));
    assert.equal(record.v, 1);
    assert.equal(record.user, 'alice');
    assert.deepEqual(record.data, { role: 'admin' });
    assert.match(record.ua, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(record.created <= record.last_seen);
    assert.equal(record.idle_expires - record.created, 1800 * 1000);
    assert.equal(record.absolute_expires - record.created, 86400 * 1000);
    const index = await kv.list({ prefix: `user:${Buffer.from('alice').toString('base64url')}:` });
    assert.ok(index.keys.some((k) => k.name.endsWith(id)), 'per-user index entry written');
  });

  test('a wrong password creates no session', async () => {
    const res = await postLogin(gateway.url, 'alice', { ua: null, password: 'nope' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('logging in again issues a fresh id and ends the old session', async () => {
    const first = await login(gateway.url);
    const second = await login(gateway.url, 'alice', { cookie: first });
    assert.notEqual(sessionIdOf(first), sessionIdOf(second));
    assert.equal(errorCode(await get('/echo', first)), 'unknown_session');
    assert.equal((await get('/echo', second)).status, 200);
  });
});

describe('authenticated requests', () => {
  test('reach the origin with the user header and a verifiable assertion, request intact', async () => {
    const cookie = await login(gateway.url);
    const res = await request(gateway.url, 'POST', '/echo/orders?expand=items&q=a%2Fb', {
      headers: { cookie: `theme=dark; ${cookie}; lang=en`, 'user-agent': UA, 'content-type': 'text/plain' },
      body: 'order body',
    });
    assert.equal(res.status, 200);
    const seen = res.json();
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/echo/orders?expand=items&q=a%2Fb');
    assert.equal(seen.body, 'order body');
    assert.equal(seen.headers['x-sessiongate-user'], 'alice');
    assert.equal(seen.headers.cookie, 'theme=dark; lang=en', 'the session cookie stays at the gateway');
    const { payload, protectedHeader } = await jwtVerify(
      seen.headers['x-sessiongate-assertion'],
      new TextEncoder().encode(ASSERTION_SECRET),
      { issuer: 'sessiongate', algorithms: ['HS256'] },
    );
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.exp - payload.iat, 60);
    assert.deepEqual(payload.data, { role: 'admin' });
    assert.match(payload.sid, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(payload.sid, sessionIdOf(cookie));
  });

  test('the demo origin sees who is signed in', async () => {
    const cookie = await login(gateway.url, 'bob');
    const who = (await get('/whoami', cookie)).json();
    assert.equal(who.user, 'bob');
    assert.equal(who.assertion.sub, 'bob');
    assert.equal(who.assertionError, null);
  });

  test('a large body streams through unchanged', async () => {
    const cookie = await login(gateway.url);
    const big = 'x'.repeat(2 * 1024 * 1024);
    const res = await request(gateway.url, 'PUT', '/echo/upload', {
      headers: { cookie, 'user-agent': UA, 'content-type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(res.status, 200);
    assert.equal(res.json().body.length, big.length);
  });
});

describe('refusals', () => {
  test('no cookie: 401 missing_session, origin not called', async () => {
    const before = origin.requests.length;
    const res = await get('/echo');
    assert.equal(res.status, 401);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(errorCode(res), 'missing_session');
    assert.equal(origin.requests.length, before);
  });

  test('tampered cookies: 401 invalid_session_cookie and a clearing cookie', async () => {
    const cookie = await login(gateway.url);
    const id = sessionIdOf(cookie);
    const value = cookie.slice(COOKIE.length + 1);
    const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const variants = {
      'signature char changed': flip(value, value.length - 3),
      'id char changed': flip(value, 6),
      'signature truncated': value.slice(0, -1),
      'garbage appended': `${value}x`,
      'no s: prefix': encodeURIComponent(signature.sign(id, SESSION_SECRET)),
      'other secret': encodeURIComponent(`s:${signature.sign(id, 'another-secret-another-secret-0123')}`),
      'unsigned id': encodeURIComponent(`s:${id}`),
      'padded signature': `${value}%3D`,
      empty: '',
    };
    for (const [name, bad] of Object.entries(variants)) {
      const res = await get('/echo', `${COOKIE}=${bad}`);
      assert.equal(res.status, 401, name);
      assert.equal(errorCode(res), 'invalid_session_cookie', name);
      assert.ok(res.headers['set-cookie']?.some((c) => c.startsWith(`${COOKIE}=;`) && c.includes('Max-Age=0')), name);
    }
    assert.equal((await get('/echo', cookie)).status, 200, 'the genuine cookie still works');
  });

  test('a well-signed cookie for an unknown id: 401 unknown_session', async () => {
    const res = await get('/echo', signedCookie('A'.repeat(43)));
    assert.equal(errorCode(res), 'unknown_session');
  });

  test('a changed User-Agent destroys the session', async () => {
    const cookie = await login(gateway.url);
    const res = await get('/echo', cookie, { 'user-agent': 'curl/8.5.0' });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), 'user_agent_mismatch');
    assert.equal(errorCode(await get('/echo', cookie)), 'unknown_session', 'gone for the original UA too');
    const kv = await gateway.kv();
    assert.equal(await kv.get(`sess:${sessionIdOf(cookie)}`), null);
  });

  test('a missing User-Agent does not match one bound at login', async () => {
    const cookie = await login(gateway.url);
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie } });
    assert.equal(errorCode(res), 'user_agent_mismatch');
  });
});

describe('header hygiene', () => {
  const spoofed = [
    ['X-Sessiongate-User', 'mallory'],
    ['x_sessiongate_user', 'mallory'],
    ['X-SESSIONGATE-ASSERTION', 'forged.token.here'],
    ['X-User', 'mallory'],
    ['x_user', 'mallory'],
    ['X-Forwarded-User', 'mallory'],
    ['Remote-User', 'mallory'],
    ['X-Remote-User', 'mallory'],
    ['Sessiongate-Login', '{"user":"mallory"}'],
    ['Sessiongate_Logout', 'all'],
    ['X-Original-URL', '/admin'],
    ['X-HTTP-Method-Override', 'DELETE'],
  ];

  test('spoofed identity and control headers never reach the origin on a public path', async () => {
    const res = await request(gateway.url, 'GET', '/health', { headers: spoofed });
    assert.equal(res.status, 200);
    const seen = lastSeenByOrigin();
    for (const [name] of spoofed) {
      const folded = name.toLowerCase();
      assert.equal(seen.headers[folded], undefined, name);
    }
    assert.ok(!JSON.stringify(seen.headers).includes('mallory'));
  });

  test('on an authenticated path the origin sees the real user only', async () => {
    const cookie = await login(gateway.url, 'bob');
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: [['cookie', cookie], ['user-agent', UA], ...spoofed],
    });
    const seen = res.json();
    assert.equal(seen.headers['x-sessiongate-user'], 'bob');
    assert.notEqual(seen.headers['x-sessiongate-assertion'], 'forged.token.here');
    assert.ok(!JSON.stringify(seen.headers).includes('mallory'));
    assert.equal(seen.headers['x-original-url'], undefined);
  });

  test('headers named in Connection are dropped as hop-by-hop', async () => {
    const res = await request(gateway.url, 'GET', '/health', {
      headers: [['Connection', 'keep-alive, X-Hop-Secret'], ['X-Hop-Secret', '1'], ['X-Kept', '1']],
    });
    assert.equal(res.status, 200);
    const seen = lastSeenByOrigin();
    assert.equal(seen.headers['x-hop-secret'], undefined);
    assert.equal(seen.headers['x-kept'], '1');
  });

  test('the origin\'s control headers are stripped and its other cookies pass through', async () => {
    const cookie = await login(gateway.url);
    const res = await postLogin(gateway.url, 'bob', { cookie });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.headers).filter((h) => h.startsWith('sessiongate')), []);
  });
});

describe('public paths', () => {
  test('listed paths pass without a session, and nothing else does', async () => {
    assert.equal((await request(gateway.url, 'GET', '/health')).status, 200);
    assert.equal((await request(gateway.url, 'GET', '/health?x=1')).status, 200);
    for (const path of ['/HEALTH', '/health/', '/health;x', '//health', '/health/../echo',
      '/static/..%2Fecho', '/static/%2e%2e/echo', '/echo?next=/health', '/echo#/health', '/healthz']) {
      const res = await request(gateway.url, 'GET', path);
      assert.equal(res.status, 401, path);
    }
  });

  test('harmless percent-encoding of a public path is still public, forwarded as sent', async () => {
    const res = await request(gateway.url, 'GET', '/%68ealth');
    assert.notEqual(res.status, 401);
    assert.equal(lastSeenByOrigin().url, '/%68ealth');
  });

  test('CORS preflight is forwarded without a session', async () => {
    const res = await request(gateway.url, 'OPTIONS', '/echo', {
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.status, 200);
    assert.equal((await request(gateway.url, 'OPTIONS', '/echo')).status, 401);
  });
});

describe('logout', () => {
  test('the origin\'s logout header ends the session and clears the cookie', async () => {
    const cookie = await login(gateway.url);
    const res = await request(gateway.url, 'POST', '/logout', { headers: { cookie, 'user-agent': UA } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['sessiongate-logout'], undefined);
    assert.ok(res.headers['set-cookie'].some((c) => c.startsWith(`${COOKIE}=;`) && c.includes('Max-Age=0')));
    assert.equal(errorCode(await get('/echo', cookie)), 'unknown_session');
  });

  test('logout-all ends every session of the user and no one else\'s', async () => {
    const a1 = await login(gateway.url, 'alice');
    const a2 = await login(gateway.url, 'alice', { ua: 'second-device/1.0' });
    const b = await login(gateway.url, 'bob');
    const res = await request(gateway.url, 'POST', '/logout-all', { headers: { cookie: a1, 'user-agent': UA } });
    assert.equal(res.status, 200);
    assert.equal(errorCode(await get('/echo', a1)), 'unknown_session');
    assert.equal(errorCode(await get('/echo', a2, { 'user-agent': 'second-device/1.0' })), 'unknown_session');
    assert.equal((await get('/echo', b)).status, 200);
  });

  test('built-in logout endpoint, with its cross-site check', async () => {
    const cookie = await login(gateway.url);
    const cross = await request(gateway.url, 'POST', '/.sessiongate/logout', {
      headers: { cookie, 'user-agent': UA, origin: 'https://evil.example' },
    });
    assert.equal(cross.status, 403);
    assert.equal(errorCode(cross), 'cross_site_request');
    assert.equal((await get('/echo', cookie)).status, 200, 'a refused logout changes nothing');
    assert.equal((await get('/.sessiongate/logout', cookie)).status, 405);
    assert.equal((await get('/.sessiongate/unknown', cookie)).status, 404);

    const res = await request(gateway.url, 'POST', '/.sessiongate/logout', {
      headers: { cookie, 'user-agent': UA, origin: gateway.url },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { ok: true, destroyed: 1, remaining: 0 });
    assert.ok(res.headers['set-cookie'].some((c) => c.includes('Max-Age=0')));
    assert.equal(errorCode(await get('/echo', cookie)), 'unknown_session');
  });

  test('built-in logout with scope=all', async () => {
    const a1 = await login(gateway.url, 'alice');
    const a2 = await login(gateway.url, 'alice');
    const res = await request(gateway.url, 'POST', '/.sessiongate/logout?scope=all', {
      headers: { cookie: a1, 'user-agent': UA, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(res.status, 200);
    assert.ok(res.json().destroyed >= 2);
    assert.equal(res.json().remaining, 0, 'nothing left for a later call');
    assert.equal(errorCode(await get('/echo', a2)), 'unknown_session');
  });
});

describe('logs', () => {
  test('one JSON line per decision, without session ids or secrets', async () => {
    const cookie = await login(gateway.url);
    const id = sessionIdOf(cookie);
    await get('/echo?token=query-secret', cookie);
    await get('/echo', `${COOKIE}=s%3Ajunk.sig`);
    await gateway.settleLogs();
    const lines = gateway.logs.filter((l) => l.includes('"event"'));
    assert.ok(lines.some((l) => l.includes('"event":"login"')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('"code":"invalid_session_cookie"')));
    for (const line of gateway.logs) {
      assert.ok(!line.includes(id), `log line carries the session id: ${line}`);
      assert.ok(!line.includes(SESSION_SECRET) && !line.includes(ASSERTION_SECRET), line);
      assert.ok(!line.includes('query-secret'), line);
    }
  });
});
