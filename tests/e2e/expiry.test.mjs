// Idle and absolute expiry through the real Worker: the gateway enforces the record's timestamps
// itself, whatever KV's TTL does (KV's minimum TTL is 60 s, far longer than these timeouts).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ASSERTION_SECRET, UA, errorCode, login, request, sessionIdOf, startDemoOrigin, startGateway,
} from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let origin;
let gateway;

before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  gateway = await startGateway({
    originUrl: origin.url,
    vars: { IDLE_TIMEOUT: '3', TOUCH_INTERVAL: '1', ABSOLUTE_TIMEOUT: '3600' },
  });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

const get = (cookie) => request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });

test('activity slides the idle timeout; the refresh is written after the response', async () => {
  const cookie = await login(gateway.url);
  const key = `sess:${sessionIdOf(cookie)}`;
  const kv = await gateway.kv();
  const created = JSON.parse(await kv.get(key));
  // Three requests 1.5 s apart span 4.5 s, more than the 3 s idle timeout.
  for (let i = 0; i < 3; i += 1) {
    await sleep(1500);
    assert.equal((await get(cookie)).status, 200, `request ${i}`);
  }
  await sleep(300);
  // Refreshes go to the activity key; the record itself is never rewritten (a rewrite could undo
  // a logout seen late at this location).
  const touched = JSON.parse(await kv.get(`seen:${sessionIdOf(cookie)}`));
  assert.ok(touched.last_seen > created.last_seen, 'last_seen moved forward');
  assert.ok(touched.idle_expires > created.idle_expires, 'idle expiry moved forward');
  assert.ok(touched.idle_expires <= created.absolute_expires, 'never past the absolute expiry');
  assert.deepEqual(JSON.parse(await kv.get(key)), created, 'the record is unchanged');
});

test('an idle session expires: 401 session_expired, and the record is deleted', async () => {
  const cookie = await login(gateway.url);
  await sleep(3300);
  const res = await get(cookie);
  assert.equal(res.status, 401);
  assert.equal(errorCode(res), 'session_expired');
  const kv = await gateway.kv();
  assert.equal(await kv.get(`sess:${sessionIdOf(cookie)}`), null);
});

test('absolute expiry is enforced even while KV still returns the record', async () => {
  const cookie = await login(gateway.url);
  const key = `sess:${sessionIdOf(cookie)}`;
  const kv = await gateway.kv();
  const record = JSON.parse(await kv.get(key));
  record.absolute_expires = Date.now() - 1000;
  await kv.put(key, JSON.stringify(record), { expirationTtl: 3600 });
  const res = await get(cookie);
  assert.equal(errorCode(res), 'session_expired');
});

test('a record with a foreign schema version or extra fields is refused', async () => {
  const cookie = await login(gateway.url);
  const key = `sess:${sessionIdOf(cookie)}`;
  const kv = await gateway.kv();
  const record = JSON.parse(await kv.get(key));
  await kv.put(key, JSON.stringify({ ...record, v: 2 }), { expirationTtl: 3600 });
  assert.equal(errorCode(await get(cookie)), 'unknown_session');
});
