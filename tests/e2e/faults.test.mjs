// Failures around the gateway: it fails closed, answers clearly, and recovers.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ASSERTION_SECRET, SESSION_SECRET, UA, closedPort, errorCode, login, postLogin, request, seedSession, sessionIdOf,
  signedCookie, startDemoOrigin, startGateway, startTestOrigin,
} from './helpers.mjs';

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
async function gatewayWith(options) {
  const gateway = await startGateway(options);
  cleanups.push(() => gateway.close());
  return gateway;
}
async function testOrigin() {
  const origin = await startTestOrigin();
  cleanups.push(() => origin.close());
  return origin;
}
async function demoOrigin() {
  const origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  cleanups.push(() => origin.close());
  return origin;
}
const validCookie = signedCookie('Z'.repeat(43));

test('KV errors: 503 store_unavailable and nothing forwarded', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, kvFault: 'error' });
  const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: validCookie, 'user-agent': UA } });
  assert.equal(res.status, 503);
  assert.equal(errorCode(res), 'store_unavailable');
  assert.equal(origin.requests.length, 0);
  await gateway.settleLogs();
  assert.ok(gateway.logs.some((l) => l.includes('store_unavailable') && l.includes('injected KV outage')), gateway.logs.join('\n'));
  // Public paths need no store.
  assert.equal((await request(gateway.url, 'GET', '/health')).status, 200);
});

test('a flood of bad cookies causes no KV reads (answered 401 even while KV is down)', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, kvFault: 'error' });
  for (let i = 0; i < 50; i += 1) {
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: `sessiongate=s%3Aforged${i}.bad` } });
    assert.equal(errorCode(res), 'invalid_session_cookie');
  }
});

test('KV that hangs past KV_TIMEOUT_MS: 503', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, kvFault: 'hang', vars: { KV_TIMEOUT_MS: '300' } });
  const started = Date.now();
  const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: validCookie, 'user-agent': UA } });
  assert.equal(res.status, 503);
  assert.equal(errorCode(res), 'store_unavailable');
  await gateway.settleLogs();
  assert.ok(gateway.logs.some((l) => l.includes('timed out')), gateway.logs.join('\n'));
  assert.ok(Date.now() - started < 10_000);
});

test('login while KV is down: 503 and no cookie', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, kvFault: 'error' });
  const res = await postLogin(gateway.url, 'alice', { ua: null });
  assert.equal(res.status, 503);
  assert.equal(res.headers['set-cookie'], undefined);
});

test('origin down: 502 origin_unreachable', async () => {
  const port = await closedPort();
  const gateway = await gatewayWith({ originUrl: `http://127.0.0.1:${port}` });
  const res = await request(gateway.url, 'GET', '/health');
  assert.equal(res.status, 502);
  assert.equal(errorCode(res), 'origin_unreachable');
});

test('origin that hangs past ORIGIN_TIMEOUT_MS: 504, and the next request is served', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({
    originUrl: origin.url,
    vars: { ORIGIN_TIMEOUT_MS: '500', PUBLIC_PATHS: '/hang,/ok' },
  });
  const res = await request(gateway.url, 'GET', '/hang');
  assert.equal(res.status, 504);
  assert.equal(errorCode(res), 'origin_timeout');
  const next = await request(gateway.url, 'GET', '/ok');
  assert.equal(next.status, 200);
  assert.equal(next.json().url, '/ok');
});

test('ORIGIN_TIMEOUT_MS limits the wait for the response headers, not the body: a stream that outlasts it arrives whole', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({
    originUrl: origin.url,
    vars: { ORIGIN_TIMEOUT_MS: '1000', PUBLIC_PATHS: '/stream' },
  });
  const response = request(gateway.url, 'GET', '/stream');
  // The origin answers its headers and a first chunk at once; the rest only when released, counted
  // from when the origin had the request (the gateway's limit started before that).
  for (let waited = 0; origin.requests.length === 0 && waited < 10_000; waited += 10) await sleep(10);
  assert.equal(origin.requests.length, 1, 'the request reached the origin');
  await sleep(1_500);
  origin.release();
  const res = await response;
  assert.equal(res.status, 200);
  assert.equal(res.body, 'first\nsecond\n');
});

test('origin that resets the connection: 502', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/reset' } });
  const res = await request(gateway.url, 'GET', '/reset');
  assert.equal(res.status, 502);
  assert.equal(errorCode(res), 'origin_unreachable');
});

test('a malformed login instruction from the origin: 502 origin_protocol_error, no cookie', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/control' } });
  const instruction = Buffer.from('{"user":"alice","role":"admin"}').toString('base64url');
  const res = await request(gateway.url, 'POST', '/control', { headers: { 'x-test-login': instruction } });
  assert.equal(res.status, 502);
  assert.equal(errorCode(res), 'origin_protocol_error');
  assert.equal(res.headers['set-cookie'], undefined);
});

test('origin cookies and redirects pass through untouched next to the session cookie', async () => {
  const server = http.createServer((req, res) => {
    res.writeHead(302, {
      location: '/next',
      'set-cookie': ['theme=dark; Path=/', 'lang=en; Path=/'],
      'Sessiongate-Login': '{"user":"carol"}',
    });
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  const gateway = await gatewayWith({ originUrl: `http://127.0.0.1:${server.address().port}` });
  const res = await request(gateway.url, 'POST', '/login', { headers: { 'user-agent': UA } });
  assert.equal(res.status, 302, 'redirects are passed back, not followed');
  assert.equal(res.headers.location, '/next');
  const cookies = res.headers['set-cookie'];
  assert.ok(cookies.includes('theme=dark; Path=/'), cookies.join(' | '));
  assert.ok(cookies.includes('lang=en; Path=/'));
  assert.ok(cookies.some((c) => c.startsWith('sessiongate=s%3A')));
});

test('KV outage then recovery: 503 while it lasts, the same cookie passes once KV is back', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, countKv: true, vars: { KV_TIMEOUT_MS: '300' } });
  const cookie = await login(gateway.url);
  for (const fault of ['error', 'hang']) {
    gateway.setKvMode(fault);
    const during = await request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
    assert.equal(during.status, 503, fault);
    assert.equal(errorCode(during), 'store_unavailable', fault);
    gateway.setKvMode(null);
    gateway.kvOps.length = 0;
    const after = await request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
    assert.equal(after.status, 200, `${fault}: ${after.body}`);
    assert.equal(after.json().user, 'alice');
    assert.deepEqual(gateway.kvOps, ['get-bulk:2'], `${fault}: an outage is not taken for a binding without bulk reads`);
  }
}, { timeout: 30_000 });

for (const [mode, what] of [
  ['key-by-key', 'a runtime from before bulk reads takes the array for one key name'],
  ['keys-are-strings', 'a stand-in store refuses the array with a TypeError'],
]) {
  test(`a KV binding without bulk reads (${what}): the gateway reads key by key from then on`, async () => {
    const origin = await demoOrigin();
    const gateway = await gatewayWith({ originUrl: origin.url, countKv: true });
    const cookie = await login(gateway.url);
    const get = () => request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
    gateway.kvOps.length = 0;
    assert.equal((await get()).status, 200);
    assert.deepEqual(gateway.kvOps, ['get-bulk:2'], 'one bulk read where the binding has it');

    gateway.setKvMode(mode);
    gateway.kvOps.length = 0;
    const first = await get();
    assert.equal(first.status, 200, first.body);
    assert.equal(first.json().user, 'alice');
    assert.deepEqual(gateway.kvOps, ['get-bulk:2', 'get', 'get'], 'the bulk read gave no Map: read again, key by key');
    gateway.kvOps.length = 0;
    assert.equal((await get()).status, 200);
    assert.deepEqual(gateway.kvOps, ['get', 'get'], 'remembered: no second bulk attempt');

    // Read key by key, a logout is still seen at once.
    const out = await request(gateway.url, 'POST', '/.sessiongate/logout', { headers: { cookie, 'user-agent': UA } });
    assert.equal(out.status, 200, out.body);
    assert.equal(errorCode(await get()), 'unknown_session');
  });
}

describe('KV eventual consistency (a location serving what it last read)', () => {
  test('stale read: a logged-out session is still accepted while the location serves its cached copy', async () => {
    const origin = await demoOrigin();
    const gateway = await gatewayWith({ originUrl: origin.url, countKv: true });
    const cookie = await login(gateway.url);
    const get = () => request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
    assert.equal((await get()).status, 200); // this location has now read the record
    gateway.setKvMode('cached');
    const out = await request(gateway.url, 'POST', '/.sessiongate/logout', { headers: { cookie, 'user-agent': UA } });
    assert.equal(out.status, 200, out.body);
    assert.equal(await (await gateway.kv()).get(`sess:${sessionIdOf(cookie)}`), null, 'deleted in KV');
    // The documented revocation window (SECURITY.md): the stale copy still authenticates.
    assert.equal((await get()).status, 200, 'stale copy inside the window');
    gateway.setKvMode(null); // the cache entry expires
    assert.equal(errorCode(await get()), 'unknown_session');
  });

  test('stale read of an expired record: the gateway\'s own timestamps still refuse it', async () => {
    const origin = await demoOrigin();
    const gateway = await gatewayWith({ originUrl: origin.url, countKv: true });
    const id = 'stale-expired-000000000000000000000000000';
    const kv = await gateway.kv();
    await seedSession(kv, id, { overrides: { idle_expires: Date.now() + 1500 } });
    const get = () => request(gateway.url, 'GET', '/whoami', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
    assert.equal((await get()).status, 200);
    gateway.setKvMode('cached');
    await new Promise((resolve) => { setTimeout(resolve, 1600); });
    assert.equal(errorCode(await get()), 'session_expired', 'the cached record is past its idle expiry');
  });

  test('cached miss: a session written after this location read "not found" is unknown until the cache clears', async () => {
    const origin = await demoOrigin();
    const gateway = await gatewayWith({ originUrl: origin.url, countKv: true });
    const id = 'cached-miss-00000000000000000000000000000';
    const get = () => request(gateway.url, 'GET', '/whoami', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
    gateway.setKvMode('cached');
    assert.equal(errorCode(await get()), 'unknown_session');
    await seedSession(await gateway.kv(), id);
    const cached = await get();
    assert.equal(cached.status, 401, 'fails closed while the miss is cached');
    assert.equal(errorCode(cached), 'unknown_session');
    gateway.setKvMode(null);
    assert.equal((await get()).status, 200, 'recovers when the cache clears');
  });
});

test('origin down, then back on the same address: 502, then served', async () => {
  const port = await closedPort();
  const gateway = await gatewayWith({ originUrl: `http://127.0.0.1:${port}` });
  const down = await request(gateway.url, 'GET', '/health');
  assert.equal(down.status, 502);
  assert.equal(errorCode(down), 'origin_unreachable');
  const server = http.createServer((req, res) => res.end('up'));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  const up = await request(gateway.url, 'GET', '/health');
  assert.equal(up.status, 200);
  assert.equal(up.body, 'up');
});

test('origin that resets, then a normal request: 502, then served', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/reset,/ok' } });
  assert.equal(errorCode(await request(gateway.url, 'GET', '/reset')), 'origin_unreachable');
  const next = await request(gateway.url, 'GET', '/ok');
  assert.equal(next.status, 200);
  assert.equal(next.json().url, '/ok');
});

test('an authenticated request to a hanging origin: 504, the session survives, the next request passes', async () => {
  const origin = await testOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, vars: { ORIGIN_TIMEOUT_MS: '400', PUBLIC_PATHS: '/control' } });
  const res = await request(gateway.url, 'POST', '/control', {
    headers: { 'user-agent': UA, 'x-test-login': Buffer.from('{"user":"hank"}').toString('base64url') },
  });
  const cookie = res.headers['set-cookie'].find((c) => c.startsWith('sessiongate=')).split(';')[0];
  const hung = await request(gateway.url, 'GET', '/hang', { headers: { cookie, 'user-agent': UA } });
  assert.equal(hung.status, 504);
  assert.equal(errorCode(hung), 'origin_timeout');
  assert.equal(hung.headers['set-cookie'], undefined, 'a timeout does not clear the session cookie');
  const next = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
  assert.equal(next.status, 200);
  assert.equal(next.json().headers['x-sessiongate-user'], 'hank');
});

test('logs during faults and refusals name no session id, cookie or secret (KV error texts are scrubbed)', async () => {
  const origin = await demoOrigin();
  const gateway = await gatewayWith({ originUrl: origin.url, countKv: true });
  const cookie = await login(gateway.url);
  const id = sessionIdOf(cookie);
  const get = (c, ua = UA) => request(gateway.url, 'GET', '/whoami', { headers: { cookie: c, 'user-agent': ua } });
  gateway.setKvMode('error');
  assert.equal(errorCode(await get(cookie)), 'store_unavailable');
  gateway.setKvMode(null);
  assert.equal((await get(cookie)).status, 200);
  assert.equal(errorCode(await get(`${cookie}x`)), 'invalid_session_cookie');
  assert.equal(errorCode(await get(cookie, 'other/1.0')), 'user_agent_mismatch');
  await gateway.settleLogs(); // let the last lines arrive
  const logs = gateway.logs.join('\n');
  assert.ok(logs.includes('store_unavailable') && logs.includes('<key>'), logs);
  const value = decodeURIComponent(cookie.split('=')[1]);
  for (const secret of [id, value, value.split('.').pop(), SESSION_SECRET, ASSERTION_SECRET]) {
    assert.ok(!logs.includes(secret), `a log line contains ${secret.slice(0, 8)}…`);
  }
});
