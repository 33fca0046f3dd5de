// Adversarial catalogue, class "ids and KV": unknown and expired sessions, hostile key shapes,
// malformed and oversized records, the record and index keys, and floods of bad cookies — through
// the real Worker with a KV wrapper that counts every operation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import signature from 'cookie-signature';
import {
  COOKIE, SESSION_SECRET, UA, clearsCookie, controlRequest, errorCode, flipChar, loginViaControl, request,
  seedSession, sessionIdOf, signedCookie, originAndGateway,
} from './helpers.mjs';

// `/control` is public (like a login route); `/private/control` needs a session.
const { origin, gateway } = await originAndGateway({
  countKv: true,
  vars: { PUBLIC_PATHS: '/health,/login,/static/*,/control' },
});

const get = (cookie, ua = UA) => request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': ua } });
const kv = () => gateway.kv();

describe('ids and KV: unknown and expired sessions', () => {
  test('ids and KV: a well-signed unknown id: one bulk KV read of the record and its activity, 401 unknown_session, cookie cleared', async () => {
    gateway.kvOps.length = 0;
    const res = await get(signedCookie('never-existed-000000000000000000000000000'));
    assert.equal(errorCode(res), 'unknown_session');
    assert.ok(clearsCookie(res));
    assert.deepEqual(gateway.kvOps, ['get-bulk:2']);
  });

  for (const [name, overrides] of Object.entries({
    'idle expiry passed': { idle_expires: Date.now() - 1000 },
    'absolute expiry passed': { absolute_expires: Date.now() - 1000 },
    'idle expiry exactly now or earlier by 1 ms': { idle_expires: Date.now() - 1 },
  })) {
    test(`ids and KV: ${name}: 401 session_expired, record and index deleted`, async () => {
      const id = `expired-${name.replaceAll(' ', '-')}`.slice(0, 30).padEnd(43, '0');
      await seedSession(await kv(), id, { user: 'exp', overrides });
      const res = await get(signedCookie(id));
      assert.equal(errorCode(res), 'session_expired');
      assert.ok(clearsCookie(res));
      assert.equal(await (await kv()).get(`sess:${id}`), null);
      assert.equal(await (await kv()).get(`user:${Buffer.from('exp').toString('base64url')}:${id}`), null);
    });
  }
});

describe('ids and KV: hostile key shapes', () => {
  // Correctly signed with the real secret: only the id shape stops them before KV.
  const hostile = {
    'path traversal': '../../sess/AAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'another key namespace': 'user:YWxpY2U:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'a colon': 'AAAAAAAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAA',
    'a slash': 'AAAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAA',
    'a percent escape': 'AAAAAAAAAAAAAAAAAAAAA%2FAAAAAAAAAAAAAAAAAAA',
    'a space': 'AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA',
    'a plus and equals (base64, not base64url)': 'AAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAA=',
    'an asterisk (list wildcard)': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*',
    'non-ASCII letters': 'ÄAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'a NUL byte': 'AAAAAAAAAAAAAAAAAAAAA\u0000AAAAAAAAAAAAAAAAAAAAA',
    'a newline': 'AAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAA',
    '21 characters': 'A'.repeat(21),
    '65 characters': 'A'.repeat(65),
    '600 characters (past KV\'s 512-byte key limit)': 'A'.repeat(600),
  };
  test('ids and KV: hostile key shapes are refused before KV (invalid_session_cookie, no KV operation)', async () => {
    const store = await kv();
    for (const id of Object.values(hostile)) {
      if (Buffer.byteLength(`sess:${id}`) <= 512) await store.put(`sess:${id}`, '{}');
    }
    gateway.kvOps.length = 0;
    for (const [name, id] of Object.entries(hostile)) {
      const res = await get(`${COOKIE}=${encodeURIComponent(`s:${signature.sign(id, SESSION_SECRET)}`)}`);
      assert.equal(res.status, 401, name);
      assert.equal(errorCode(res), 'invalid_session_cookie', name);
    }
    assert.deepEqual(gateway.kvOps, []);
  });

  test('ids and KV: ids of 22 and 64 characters are well-shaped; 21 and 65 are not', async () => {
    for (const id of ['a'.repeat(22), 'Z_-9'.repeat(16)]) {
      await seedSession(await kv(), id, { user: 'edge' });
      const res = await get(signedCookie(id));
      assert.equal(res.status, 200, `${id.length}: ${res.body}`);
    }
    for (const id of ['a'.repeat(21), 'a'.repeat(65)]) {
      await seedSession(await kv(), id, { user: 'edge' });
      assert.equal(errorCode(await get(signedCookie(id))), 'invalid_session_cookie', `${id.length}`);
    }
  });
});

describe('ids and KV: malformed and oversized records', () => {
  const now = Date.now();
  const good = {
    v: 1, user: 'alice', data: null, ua: null, created: now, last_seen: now,
    idle_expires: now + 600_000, absolute_expires: now + 3_600_000,
  };
  const json = (o) => JSON.stringify(o);
  const records = {
    'not JSON': 'alice',
    'empty text': '',
    'JSON null': 'null',
    'JSON array in field order': json(Object.values(good)),
    'a JSON string': json(json(good)),
    'empty object': '{}',
    'user missing': json({ ...good, user: undefined }),
    'user a number': json({ ...good, user: 7 }),
    'user empty': json({ ...good, user: '' }),
    'schema version 2': json({ ...good, v: 2 }),
    'schema version as text': json({ ...good, v: '1' }),
    'an unknown field': json({ ...good, admin: true }),
    'a duplicate user key': json(good).replace('"user":"alice"', '"user":"alice","user":"root"'),
    'timestamps as text': json({ ...good, idle_expires: String(good.idle_expires) }),
    'a negative timestamp': json({ ...good, created: -1 }),
    'a timestamp past 2^64': json(good).replace(`"absolute_expires":${good.absolute_expires}`, '"absolute_expires":1e400'),
    'ua a number': json({ ...good, ua: 5 }),
    'data an array': json({ ...good, data: [1] }),
    'trailing text': `${json(good)} x`,
    'deeply nested data': json(good).replace('"data":null', `"data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`),
    'an oversized record (1 MiB of data)': json({ ...good, data: { blob: 'x'.repeat(1024 * 1024) } }),
  };
  test('ids and KV: the well-formed control record is accepted', async () => {
    const id = 'record-control-0000000000000000000000000000';
    await (await kv()).put(`sess:${id}`, json(good));
    assert.equal((await get(signedCookie(id), '')).status, 200);
  });
  for (const [name, value] of Object.entries(records)) {
    test(`ids and KV: record ${name}: 401 unknown_session, nothing forwarded, record deleted`, async () => {
      const id = `record-${name.replace(/[^A-Za-z0-9]/g, '-')}`.slice(0, 40).padEnd(43, '0');
      await (await kv()).put(`sess:${id}`, value);
      const calls = origin.requests.length;
      const res = await get(signedCookie(id), '');
      assert.equal(res.status, 401, `${res.status} ${res.body}`);
      assert.equal(errorCode(res), 'unknown_session');
      assert.equal(origin.requests.length, calls);
      assert.equal(await (await kv()).get(`sess:${id}`), null, 'an unusable record is removed');
    });
  }
});

describe('ids and KV: floods of bad cookies', () => {
  test('ids and KV: a flood of 300 tampered, foreign and malformed cookies causes zero KV operations', async () => {
    const cookie = await loginViaControl(gateway.url, 'flood');
    const value = cookie.slice(COOKIE.length + 1);
    const id = sessionIdOf(cookie);
    const kinds = [
      (i) => flipChar(value, 6 + (i % 40)),
      (i) => value.slice(0, -1 - (i % 30)),
      (i) => `${value}${'A'.repeat(1 + (i % 4))}`,
      () => encodeURIComponent(signature.sign(id, SESSION_SECRET)),
      (i) => encodeURIComponent(`s:${signature.sign(id, `some-other-secret-0123456789abcdef${i}`)}`),
      (i) => encodeURIComponent(`s:${signature.sign(`short${i}`, SESSION_SECRET)}`),
      (i) => encodeURIComponent(`s:${signature.sign(`bad.id+with/chars=${i}`.padEnd(43, '0'), SESSION_SECRET)}`),
      (i) => encodeURIComponent(`s:${signature.sign('x'.repeat(65 + i), SESSION_SECRET)}`),
      () => 's%3A',
      () => '%E0%A4%A',
    ];
    gateway.kvOps.length = 0;
    const calls = origin.requests.length;
    for (let i = 0; i < 300; i += 1) {
      const bad = kinds[i % kinds.length](i);
      const res = await get(`${COOKIE}=${bad}`);
      assert.equal(errorCode(res), 'invalid_session_cookie', bad);
    }
    const none = await get('other=1');
    assert.equal(errorCode(none), 'missing_session');
    assert.equal((await request(gateway.url, 'GET', '/health', { headers: { cookie } })).status, 200);
    assert.deepEqual(gateway.kvOps, [], 'no KV operation for any of these requests');
    assert.equal(origin.requests.length, calls + 1, 'only the public request reached the origin');

    // The counter works: the genuine cookie is looked up.
    assert.equal((await get(cookie)).status, 200);
    assert.ok(gateway.kvOps.includes('get-bulk:2'), String(gateway.kvOps));
  });
});

describe('ids and KV: records and their index keys', () => {
  const indexPrefix = (user) => `user:${Buffer.from(user).toString('base64url')}:`;

  test('ids and KV: TTLs: the record expires by its absolute expiry; the index key lives as long as the session can', async () => {
    const cookie = await loginViaControl(gateway.url, 'judy');
    const id = sessionIdOf(cookie);
    const store = await kv();
    const record = JSON.parse(await store.get(`sess:${id}`));
    const [sess] = (await store.list({ prefix: `sess:${id}` })).keys;
    const [index] = (await store.list({ prefix: indexPrefix('judy') })).keys;
    assert.equal(index.name, `${indexPrefix('judy')}${id}`);
    const nowSeconds = Date.now() / 1000;
    assert.ok(sess.expiration >= nowSeconds + 59, `record TTL at least KV's minimum: ${sess.expiration - nowSeconds}`);
    assert.ok(sess.expiration <= Math.ceil(record.absolute_expires / 1000) + 1, 'record TTL within the absolute lifetime');
    // "log out everywhere" must find every live session: the index key may not vanish first.
    assert.ok(index.expiration >= sess.expiration, `index ${index.expiration} < record ${sess.expiration}`);
    assert.ok(index.expiration <= Math.ceil(record.absolute_expires / 1000) + 1);
  });

  test('ids and KV: logout removes the record and its index key; logout-all removes all of the user\'s', async () => {
    const store = await kv();
    const one = await loginViaControl(gateway.url, 'mallet');
    const res = await controlRequest(gateway.url, '/private/control', { logout: 'session', cookie: one });
    assert.equal(res.status, 200, res.body);
    assert.ok(clearsCookie(res));
    assert.equal(await store.get(`sess:${sessionIdOf(one)}`), null);
    assert.deepEqual((await store.list({ prefix: indexPrefix('mallet') })).keys, []);

    const a = await loginViaControl(gateway.url, 'niaj');
    const b = await loginViaControl(gateway.url, 'niaj');
    const other = await loginViaControl(gateway.url, 'olivia');
    const all = await controlRequest(gateway.url, '/private/control', { logout: 'all', cookie: a });
    assert.equal(all.status, 200, all.body);
    for (const c of [a, b]) assert.equal(await store.get(`sess:${sessionIdOf(c)}`), null);
    assert.deepEqual((await store.list({ prefix: indexPrefix('niaj') })).keys, []);
    assert.notEqual(await store.get(`sess:${sessionIdOf(other)}`), null, 'another user\'s session survives');
  });

  test('ids and KV: a user name that is a prefix of another\'s is a different index (logout-all of "ann" spares "anna")', async () => {
    const ann = await loginViaControl(gateway.url, 'ann');
    const anna = await loginViaControl(gateway.url, 'anna');
    const res = await controlRequest(gateway.url, '/private/control', { logout: 'all', cookie: ann });
    assert.equal(res.status, 200, res.body);
    assert.equal(errorCode(await get(ann)), 'unknown_session');
    assert.equal((await get(anna)).status, 200, 'anna keeps her session');
  });
});
