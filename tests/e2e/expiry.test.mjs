// Idle and absolute expiry through the real Worker: the gateway enforces the record's timestamps
// itself, whatever KV's TTL does (KV's minimum TTL is 60 s, far longer than these timeouts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ASSERTION_SECRET, UA, errorCode, login, request, sessionIdOf, startDemoOrigin, startGateway,
} from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let origin;
let gateway;
// Counts KV operations, for the refresh writes. Its touch interval is long enough that a loaded
// machine (CI runs test files side by side on two cores) finishes each step within it.
let counted;
const COUNTED_TOUCH_MS = 3000;

before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  gateway = await startGateway({
    originUrl: origin.url,
    vars: { IDLE_TIMEOUT: '3', TOUCH_INTERVAL: '1', ABSOLUTE_TIMEOUT: '3600' },
  });
  counted = await startGateway({
    originUrl: origin.url,
    vars: { IDLE_TIMEOUT: '3600', TOUCH_INTERVAL: String(COUNTED_TOUCH_MS / 1000) },
    countKv: true,
  });
});
after(async () => {
  await gateway?.close();
  await counted?.close();
  await origin?.close();
});

const get = (cookie, target = gateway) => request(target.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });

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

describe('activity refreshes are written once per refresh interval (TOUCH_INTERVAL), however many requests see them due', () => {
  const getCounted = (cookie) => get(cookie, counted);
  const putsSince = (index) => counted.kvOps.slice(index).filter((op) => op === 'put').length;

  test('a burst of requests, each reading a stale activity, writes it once; once more an interval later', async () => {
    const cookie = await login(counted.url);
    // Reads answer what this location read before, as KV's edge cache does for up to 60 s: without
    // the isolate's memory of its own refresh, every request below would find it due and write.
    counted.setKvMode('cached');
    try {
      assert.equal((await getCounted(cookie)).status, 200);
      await sleep(COUNTED_TOUCH_MS + 100);
      const mark = counted.kvOps.length;
      const burst = await Promise.all(Array.from({ length: 8 }, () => getCounted(cookie)));
      for (let i = 0; i < 4; i += 1) burst.push(await getCounted(cookie));
      assert.deepEqual(burst.map((r) => r.status), Array(12).fill(200));
      await sleep(300);
      assert.equal(putsSince(mark), 1, `KV operations: ${counted.kvOps.slice(mark)}`);

      await sleep(COUNTED_TOUCH_MS + 100);
      const again = counted.kvOps.length;
      for (let i = 0; i < 3; i += 1) assert.equal((await getCounted(cookie)).status, 200);
      await sleep(300);
      assert.equal(putsSince(again), 1, 'due again an interval later');
    } finally {
      counted.setKvMode(null);
    }
  });

  test('a refresh that failed is tried again by the next request', async () => {
    const cookie = await login(counted.url, 'bob');
    await sleep(COUNTED_TOUCH_MS + 100);
    counted.setKvMode('put-error');
    let mark = counted.kvOps.length;
    try {
      assert.equal((await getCounted(cookie)).status, 200, 'a failed refresh does not fail the request');
      await sleep(300);
      assert.equal(putsSince(mark), 1);
      await counted.settleLogs();
      assert.ok(counted.logs.some((line) => line.includes('"refresh_failed"')), 'the failure is logged');
      mark = counted.kvOps.length;
      assert.equal((await getCounted(cookie)).status, 200);
      await sleep(300);
      assert.equal(putsSince(mark), 1, 'retried');
    } finally {
      counted.setKvMode(null);
    }
    mark = counted.kvOps.length;
    assert.equal((await getCounted(cookie)).status, 200);
    await sleep(300);
    assert.equal(putsSince(mark), 1, 'retried, and written');
    const activity = JSON.parse(await (await counted.kv()).get(`seen:${sessionIdOf(cookie)}`));
    assert.ok(activity.last_seen > Date.now() - 2000);
    mark = counted.kvOps.length;
    assert.equal((await getCounted(cookie)).status, 200);
    await sleep(300);
    assert.equal(putsSince(mark), 0, 'written: not due again within the interval');
  });
});
