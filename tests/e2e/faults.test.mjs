// Failures around the gateway: it fails closed, answers clearly, and recovers.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import {
  ASSERTION_SECRET, UA, closedPort, errorCode, postLogin, request, signedCookie, startDemoOrigin,
  startGateway, startTestOrigin,
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
