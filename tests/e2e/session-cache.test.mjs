// SESSION_CACHE_TTL_MS in workerd: off by default (KV read on every authenticated request); when
// set, repeat requests within the TTL read no KV, a session ended through this gateway is refused
// at once, and one ended behind its back (another isolate, another location) is refused once this
// isolate's read of it is older than the TTL.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ASSERTION_SECRET, UA, errorCode, login, originAndGateway, request, seedSession, sessionIdOf, signedCookie,
  startDemoOrigin, startGateway,
} from './helpers.mjs';

const TTL_MS = 2000;
const get = (gateway, cookie) => request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
// Keys read: a `get` reads one, a bulk read (`get-bulk:<n>`) n.
const reads = (gateway) => gateway.kvOps.reduce((keys, op) => keys + (op === 'get' ? 1 : Number(/^get-bulk:(\d+)$/.exec(op)?.[1] ?? 0)), 0);

test('off by default: every authenticated request reads the record and its activity', async () => {
  const { gateway } = await originAndGateway({ countKv: true });
  const id = 'cache-off-session-000000000000000000000000';
  await seedSession(await gateway.kv(), id);
  for (let i = 0; i < 3; i += 1) {
    const before = reads(gateway);
    assert.equal((await get(gateway, signedCookie(id))).status, 200);
    assert.equal(reads(gateway) - before, 2);
  }
  // Deleted behind the gateway's back: refused on the very next request.
  await (await gateway.kv()).delete(`sess:${id}`);
  assert.equal(errorCode(await get(gateway, signedCookie(id))), 'unknown_session');
});

test('on: repeat requests read no KV; a session deleted elsewhere is refused once the TTL has passed', async () => {
  const { origin, gateway } = await originAndGateway({ countKv: true, vars: { SESSION_CACHE_TTL_MS: String(TTL_MS) } });
  const id = 'cache-on-session-0000000000000000000000000';
  const cookie = signedCookie(id);
  await seedSession(await gateway.kv(), id, { user: 'alice' });
  const readAt = Date.now();
  assert.equal((await get(gateway, cookie)).status, 200);
  const before = reads(gateway);
  for (let i = 0; i < 5; i += 1) assert.equal((await get(gateway, cookie)).status, 200);
  assert.equal(reads(gateway), before, 'answered from the cache');
  assert.equal(origin.requests.at(-1).headers['x-sessiongate-user'], 'alice');

  const kv = await gateway.kv();
  await kv.delete(`sess:${id}`);
  await kv.delete(`seen:${id}`);
  if (Date.now() - readAt < TTL_MS - 500) {
    // Still inside the documented bound (skipped if this machine was too slow to tell).
    assert.equal((await get(gateway, cookie)).status, 200);
  }
  await sleep(Math.max(0, readAt + TTL_MS + 100 - Date.now()));
  assert.equal(errorCode(await get(gateway, cookie)), 'unknown_session');
});

test('on: a logout through the gateway ends the cached session at once', async () => {
  // The demo origin logs in and out with the control headers.
  const origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  const gateway = await startGateway({ originUrl: origin.url, vars: { SESSION_CACHE_TTL_MS: '30000' } });
  after(async () => {
    await gateway.close();
    await origin.close();
  });
  const cookie = await login(gateway.url, 'alice');
  assert.equal((await get(gateway, cookie)).status, 200);
  const out = await request(gateway.url, 'POST', '/logout', { headers: { cookie, 'user-agent': UA } });
  assert.equal(out.status, 200, out.body);
  assert.equal(errorCode(await get(gateway, cookie)), 'unknown_session');
  assert.equal(await (await gateway.kv()).get(`sess:${sessionIdOf(cookie)}`), null);
});

test('on: a bad signature is refused without touching KV or the cache', async () => {
  const { gateway } = await originAndGateway({ countKv: true, vars: { SESSION_CACHE_TTL_MS: '30000' } });
  const before = gateway.kvOps.length;
  const res = await get(gateway, 'sessiongate=s%3Acache-on-forged-00000000000000000000000.bad');
  assert.equal(errorCode(res), 'invalid_session_cookie');
  assert.equal(gateway.kvOps.length, before);
});
