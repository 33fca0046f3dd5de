// Hardening details through the real Worker: which requests touch KV at all (observed with a
// counting KV wrapper), malformed control headers from the origin, fail-closed public-path
// matching, the cross-site check of the built-in endpoints, and cookie clearing on refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import http from 'node:http';
import signature from 'cookie-signature';
import {
  COOKIE, SESSION_SECRET, UA, b64url, errorCode, parseSetCookie, request, seedSession,
  sessionCookie, sessionIdOf, signedCookie, startGateway, startTestOrigin,
} from './helpers.mjs';

let origin;
let gateway;
before(async () => {
  origin = await startTestOrigin();
  // `/control` is public (like a login route); `/private/control` needs a session.
  gateway = await startGateway({
    originUrl: origin.url,
    countKv: true,
    vars: { PUBLIC_PATHS: '/health,/login,/static/*,/control' },
  });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

/** Asks the test origin to answer with these control headers (through the gateway). */
function control(path, { login = [], logout = [], cookie, method = 'POST', ua = UA } = {}) {
  const headers = [['user-agent', ua]];
  if (cookie) headers.push(['cookie', cookie]);
  for (const v of [login].flat()) headers.push(['x-test-login', b64url(v)]);
  for (const v of [logout].flat()) headers.push(['x-test-logout', b64url(v)]);
  return request(gateway.url, method, path, { headers });
}

/** Logs `user` in through the test origin's control route; returns the session cookie. */
async function loginAs(user, data) {
  const res = await control('/control', { login: JSON.stringify(data === undefined ? { user } : { user, data }) });
  assert.equal(res.status, 200, res.body);
  const cookie = sessionCookie(res);
  assert.ok(cookie, `no cookie set: ${res.headers['set-cookie']}`);
  return cookie;
}

async function sessionKeys() {
  const kv = await gateway.kv();
  return (await kv.list({ prefix: 'sess:' })).keys.map((k) => k.name);
}

const clears = (res, name = COOKIE) => (res.headers['set-cookie'] ?? []).some((line) => {
  const { name: n, value, attrs } = parseSetCookie(line);
  return n === name && value === '' && (attrs['max-age'] === '0' || Date.parse(attrs.expires) < Date.now());
});

describe('KV is only touched for well-signed cookies', () => {
  test('tampered, foreign and missing cookies and public paths cause no KV operation at all', async () => {
    const cookie = await loginAs('alice');
    const id = sessionIdOf(cookie);
    const value = cookie.slice(COOKIE.length + 1);
    const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad = [
      flip(value, value.length - 2),
      value.slice(0, -2),
      `${value}AAAA`,
      encodeURIComponent(signature.sign(id, SESSION_SECRET)),
      encodeURIComponent(`s:${signature.sign(id, 'some-other-secret-0123456789abcdef')}`),
      encodeURIComponent(`s:${signature.sign('short', SESSION_SECRET)}`),
      encodeURIComponent(`s:${signature.sign('bad.id+with/chars=0000000000000', SESSION_SECRET)}`),
      encodeURIComponent(`s:${signature.sign('x'.repeat(65), SESSION_SECRET)}`),
      's%3A',
      '%E0%A4%A',
    ];
    gateway.kvOps.length = 0;
    for (const v of bad) {
      const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: `${COOKIE}=${v}`, 'user-agent': UA } });
      assert.equal(res.status, 401, v);
      assert.equal(errorCode(res), 'invalid_session_cookie', v);
    }
    const none = await request(gateway.url, 'GET', '/echo', { headers: { cookie: 'other=1', 'user-agent': UA } });
    assert.equal(errorCode(none), 'missing_session');
    assert.equal((await request(gateway.url, 'GET', '/health', { headers: { cookie } })).status, 200);
    assert.deepEqual(gateway.kvOps, [], 'no KV operation for any of these requests');

    // The counter works: the genuine cookie is looked up.
    assert.equal((await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 200);
    assert.ok(gateway.kvOps.includes('get'), String(gateway.kvOps));
  });

  test('ids of 22 and 64 characters are well-shaped; 21 and 65 are not', async () => {
    const kv = await gateway.kv();
    for (const id of ['a'.repeat(22), 'Z_-9'.repeat(16)]) {
      await seedSession(kv, id, { user: 'edge' });
      const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
      assert.equal(res.status, 200, `${id.length}: ${res.body}`);
    }
    for (const id of ['a'.repeat(21), 'a'.repeat(65)]) {
      await seedSession(kv, id, { user: 'edge' });
      const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
      assert.equal(errorCode(res), 'invalid_session_cookie', `${id.length}`);
    }
  });

  test('the first of two session cookies is the one that counts (jshttp/cookie rule)', async () => {
    const alice = await loginAs('alice');
    const bob = await loginAs('bob');
    const res = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie: `${alice}; ${bob}`, 'user-agent': UA },
    });
    assert.equal(res.json().headers['x-sessiongate-user'], 'alice');
    assert.ok(!(res.json().headers.cookie ?? '').includes(`${COOKIE}=`), 'neither session cookie is forwarded');
  });
});

describe('control headers from the origin', () => {
  const malformedLogins = {
    'not JSON': 'alice',
    'a JSON array': '["alice"]',
    'user missing': '{"data":{}}',
    'user empty': '{"user":""}',
    'user not a string': '{"user":42}',
    'user with a leading space': '{"user":" alice"}',
    'user with a trailing space': '{"user":"alice "}',
    'user with a control character': '{"user":"al\\u0001ice"}',
    'user with a newline': '{"user":"alice\\nadmin"}',
    'user not ASCII': '{"user":"alic\\u00e9"}',
    'user of 257 characters': JSON.stringify({ user: 'u'.repeat(257) }),
    'data an array': '{"user":"alice","data":[1]}',
    'data a string': '{"user":"alice","data":"admin"}',
    'data over 2048 bytes': JSON.stringify({ user: 'alice', data: { blob: 'x'.repeat(2100) } }),
    'unknown field': '{"user":"alice","role":"admin"}',
    'two login headers': ['{"user":"alice"}', '{"user":"mallory"}'],
  };
  for (const [name, value] of Object.entries(malformedLogins)) {
    test(`Sessiongate-Login ${name}: 502 origin_protocol_error, no session, no cookie`, async () => {
      const before = (await sessionKeys()).length;
      const res = await control('/control', { login: value });
      assert.equal(res.status, 502, res.body);
      assert.equal(errorCode(res), 'origin_protocol_error');
      assert.equal(sessionCookie(res), undefined);
      assert.equal(res.headers['sessiongate-login'], undefined);
      assert.equal((await sessionKeys()).length, before, 'no record written');
    });
  }

  test('a login header at the limits (256-character user, data of 2000 bytes) is accepted', async () => {
    const user = `${'u'.repeat(250)} !~x#`;
    assert.equal(user.length, 255);
    const data = { blob: 'y'.repeat(1980) };
    const cookie = await loginAs(`${user}z`, data);
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(res.json().headers['x-sessiongate-user'], `${user}z`);
  });

  test('a malformed Sessiongate-Logout: 502 origin_protocol_error and the session is kept', async () => {
    const cookie = await loginAs('carol');
    for (const value of ['everything', 'sessions', 'none', 'all, session']) {
      const res = await control('/private/control', { logout: value, cookie });
      assert.equal(res.status, 502, `${value}: ${res.body}`);
      assert.equal(errorCode(res), 'origin_protocol_error', value);
      assert.equal(res.headers['sessiongate-logout'], undefined);
    }
    const still = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(still.status, 200, 'a protocol error destroys nothing');
  });

  test('a login header on a protected route replaces the session it came with', async () => {
    const first = await loginAs('dave');
    const res = await control('/private/control', { login: '{"user":"erin"}', cookie: first });
    assert.equal(res.status, 200);
    const second = sessionCookie(res);
    assert.ok(second && second !== first);
    assert.equal(errorCode(await request(gateway.url, 'GET', '/echo', { headers: { cookie: first, 'user-agent': UA } })), 'unknown_session');
    const who = await request(gateway.url, 'GET', '/echo', { headers: { cookie: second, 'user-agent': UA } });
    assert.equal(who.json().headers['x-sessiongate-user'], 'erin');
  });
});

describe('public paths fail closed', () => {
  // PUBLIC_PATHS is '/health,/login,/static/*,/control'.
  const notPublic = [
    '/health%2F', '/health%2f..%2fecho', '/static%2Fapp.js', '/static/%2E%2E/echo', '/static/%2e%2e%2fecho',
    '/static/a%5C..%5Cecho', '/static\\..\\echo', '/%2568ealth', '/health%00', '/health%3Bx', '/health;',
    '/health/.', '/static', '/Static/app.js', '/static//app.js', '//static/app.js',
    '/login/../echo', '/echo?/health', '/health/x',
  ];
  test('encoded separators and dots, empty segments, dot segments and case changes are never public', async () => {
    const before = origin.requests.length;
    for (const path of notPublic) {
      const res = await request(gateway.url, 'GET', path);
      assert.equal(res.status, 401, `${path}: ${res.status} ${res.body}`);
      assert.equal(errorCode(res), 'missing_session', path);
    }
    assert.equal(origin.requests.length, before, 'none of them reached the origin');
  });

  test('prefix patterns cover everything below them', async () => {
    for (const path of ['/static/app.js', '/static/css/site.css?v=3', '/static/%61pp.js']) {
      const res = await request(gateway.url, 'GET', path);
      assert.equal(res.status, 200, path);
    }
  });

  test('a public path with a session cookie forwards no identity and ignores a bad cookie', async () => {
    const res = await request(gateway.url, 'GET', '/static/x', { headers: { cookie: `${COOKIE}=s%3Abad.sig; a=1` } });
    assert.equal(res.status, 200);
    assert.equal(res.json().headers['x-sessiongate-user'], undefined);
    assert.equal(res.json().headers['x-sessiongate-assertion'], undefined);
  });
});

describe('built-in endpoints', () => {
  const post = (path, cookie, headers = {}) => request(gateway.url, 'POST', path, {
    headers: { cookie, 'user-agent': UA, ...headers },
  });

  test('the cross-site check: foreign Origin, "null" Origin, other port, cross-site Sec-Fetch-Site', async () => {
    const cookie = await loginAs('frank');
    const { port } = new URL(gateway.url);
    const refused = [
      { origin: 'null' },
      { origin: `http://127.0.0.1:${Number(port) + 1}` },
      { origin: `https://127.0.0.1:${port}` },
      { origin: 'http://127.0.0.1.evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
    ];
    for (const headers of refused) {
      for (const path of ['/.sessiongate/logout', '/.sessiongate/logout?scope=all']) {
        const res = await post(path, cookie, headers);
        assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(errorCode(res), 'cross_site_request');
      }
    }
    assert.equal((await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 200);
    const ok = await post('/.sessiongate/logout', cookie, { 'sec-fetch-site': 'none' });
    assert.equal(ok.status, 200, ok.body);
    assert.ok(clears(ok));
  });

  test('a same-origin logout without Origin or Sec-Fetch-Site (non-browser client) works', async () => {
    const cookie = await loginAs('grace');
    const res = await post('/.sessiongate/logout', cookie);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().ok, true);
    assert.equal(errorCode(await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })), 'unknown_session');
  });

  test('gateway endpoints are never forwarded to the origin', async () => {
    const cookie = await loginAs('heidi');
    const before = origin.requests.length;
    assert.equal((await request(gateway.url, 'GET', '/.sessiongate/logout', { headers: { cookie, 'user-agent': UA } })).status, 405);
    const unknown = await request(gateway.url, 'GET', '/.sessiongate/whatever', { headers: { cookie, 'user-agent': UA } });
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'not_found');
    assert.equal(origin.requests.length, before);
  });
});

describe('forwarding', () => {
  test('the origin\'s response streams back: the first chunk arrives before the origin has finished', async () => {
    const cookie = await loginAs('peggy');
    const target = new URL(gateway.url);
    const firstChunk = await new Promise((resolve, reject) => {
      const req = http.request({
        host: target.hostname, port: target.port, path: '/stream', agent: false,
        headers: { cookie, 'user-agent': UA },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
          if (text === 'first\n') {
            resolve(text);
            origin.release(); // only now may the origin finish
          }
        });
        res.on('end', () => (text === 'first\nsecond\n' ? undefined : reject(new Error(`got ${JSON.stringify(text)}`))));
      });
      req.on('error', reject);
      // If the gateway buffered the whole response, nothing would arrive until release(): fail
      // after a generous bound instead of hanging.
      setTimeout(() => reject(new Error('the first chunk was held back')), 10_000).unref();
      req.end();
    });
    assert.equal(firstChunk, 'first\n');
  });

  test('a response carrying both a login and a logout instruction is refused as a protocol error', async () => {
    const res = await control('/control', { login: '{"user":"trent"}', logout: 'session' });
    assert.equal(res.status, 502, res.body);
    assert.equal(errorCode(res), 'origin_protocol_error');
    assert.equal(sessionCookie(res), undefined);
  });
});

describe('KV records and their index keys', () => {
  const indexPrefix = (user) => `user:${Buffer.from(user).toString('base64url')}:`;

  test('TTLs: the record expires by its absolute expiry; the index key lives as long as the session can', async () => {
    const cookie = await loginAs('judy');
    const id = sessionIdOf(cookie);
    const kv = await gateway.kv();
    const record = JSON.parse(await kv.get(`sess:${id}`));
    const [sess] = (await kv.list({ prefix: `sess:${id}` })).keys;
    const [index] = (await kv.list({ prefix: indexPrefix('judy') })).keys;
    assert.equal(index.name, `${indexPrefix('judy')}${id}`);
    const now = Date.now() / 1000;
    assert.ok(sess.expiration >= now + 59, `record TTL at least KV's minimum: ${sess.expiration - now}`);
    assert.ok(sess.expiration <= Math.ceil(record.absolute_expires / 1000) + 1, 'record TTL within the absolute lifetime');
    // "log out everywhere" must find every live session: the index key may not vanish first.
    assert.ok(index.expiration >= sess.expiration, `index ${index.expiration} < record ${sess.expiration}`);
    assert.ok(index.expiration <= Math.ceil(record.absolute_expires / 1000) + 1);
  });

  test('logout removes the record and its index key; logout-all removes all of the user\'s', async () => {
    const kv = await gateway.kv();
    const one = await loginAs('mallet');
    const res = await control('/private/control', { logout: 'session', cookie: one });
    assert.equal(res.status, 200, res.body);
    assert.ok(clears(res));
    assert.equal(await kv.get(`sess:${sessionIdOf(one)}`), null);
    assert.deepEqual((await kv.list({ prefix: indexPrefix('mallet') })).keys, []);

    const a = await loginAs('niaj');
    const b = await loginAs('niaj');
    const other = await loginAs('olivia');
    const all = await control('/private/control', { logout: 'all', cookie: a });
    assert.equal(all.status, 200, all.body);
    for (const c of [a, b]) assert.equal(await kv.get(`sess:${sessionIdOf(c)}`), null);
    assert.deepEqual((await kv.list({ prefix: indexPrefix('niaj') })).keys, []);
    assert.notEqual(await kv.get(`sess:${sessionIdOf(other)}`), null, 'another user\'s session survives');
  });
});

describe('refusals about a session clear the cookie', () => {
  test('unknown_session, session_expired and user_agent_mismatch each send a clearing cookie', async () => {
    const unknown = await request(gateway.url, 'GET', '/echo', {
      headers: { cookie: signedCookie('never-existed-000000000000000000000000000'), 'user-agent': UA },
    });
    assert.equal(errorCode(unknown), 'unknown_session');
    assert.ok(clears(unknown), 'unknown_session');

    const expiredId = 'expired-session-0000000000000000000000000';
    await seedSession(await gateway.kv(), expiredId, { overrides: { idle_expires: Date.now() - 1000 } });
    const expired = await request(gateway.url, 'GET', '/echo', { headers: { cookie: signedCookie(expiredId), 'user-agent': UA } });
    assert.equal(errorCode(expired), 'session_expired');
    assert.ok(clears(expired), 'session_expired');
    assert.equal(await (await gateway.kv()).get(`sess:${expiredId}`), null, 'the expired record is deleted');

    const cookie = await loginAs('ivan');
    const mismatch = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': 'other/1.0' } });
    assert.equal(errorCode(mismatch), 'user_agent_mismatch');
    assert.ok(clears(mismatch), 'user_agent_mismatch');

    const missing = await request(gateway.url, 'GET', '/echo', { headers: { 'user-agent': UA } });
    assert.equal(errorCode(missing), 'missing_session');
  });
});
