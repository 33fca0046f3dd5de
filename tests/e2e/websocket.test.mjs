// WebSockets through the gateway (docs/websockets.md), against a real WebSocket origin (the `ws`
// package) in workerd: a handshake is checked like any request and must come from the gateway's
// own origin; the gateway relays both ways and closes the socket with 4401 once the session is
// gone (re-checked every WEBSOCKET_RECHECK_SECONDS); every other upgrade stays stripped.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import {
  UA, controlRequest, request, seedSession, signedCookie, startGateway, startTestOrigin,
} from './helpers.mjs';
import { attachWebSocketOrigin } from './fixtures/ws-origin.mjs';

const origin = await startTestOrigin();
const sockets = attachWebSocketOrigin(origin.server);
const gateway = await startGateway({
  originUrl: origin.url,
  vars: { WEBSOCKET_RECHECK_SECONDS: '1', PUBLIC_PATHS: '/health,/login,/public/*' },
});
after(async () => {
  await gateway.close();
  await sockets.close();
  await origin.close();
});
const wsUrl = (path) => `${gateway.url.replace(/^http/, 'ws')}${path}`;

let seeded = 0;
/** A live session seeded in KV; its signed cookie. */
async function session(user = 'alice') {
  seeded += 1;
  const id = `websocket-session-${String(seeded).padStart(4, '0')}-000000000000000000`;
  await seedSession(await gateway.kv(), id, { user });
  return signedCookie(id);
}

/**
 * Opens a WebSocket through the gateway. Resolves `{ ws, messages, closed }` once open (`closed`
 * resolves `{ code, reason, at }`), or `{ status, body }` when the handshake is answered with HTTP.
 */
function open(path, { cookie, origin: from = gateway.url, protocols = [], ua = UA } = {}) {
  const headers = { 'user-agent': ua };
  if (cookie) headers.cookie = cookie;
  if (from !== null) headers.origin = from;
  const ws = new WebSocket(wsUrl(path), protocols, { headers, maxPayload: 64 * 1024 * 1024 });
  const messages = [];
  const waiting = [];
  ws.on('message', (data, isBinary) => {
    const message = { data, isBinary };
    const next = waiting.shift();
    if (next) next(message);
    else messages.push(message);
  });
  const closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() }));
  });
  const next = () => (messages.length > 0
    ? Promise.resolve(messages.shift())
    : new Promise((resolve) => waiting.push(resolve)));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ ws, next, closed }));
    ws.on('unexpected-response', (_req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        ws.terminate();
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    ws.on('error', reject);
  });
}

const refusal = (answer) => ({ status: answer.status, error: JSON.parse(answer.body).error });

test('an authenticated echo round trip; the origin sees the user and the assertion, not the session cookie', async () => {
  const cookie = await session('alice');
  const before = sockets.handshakes.length;
  const { ws, next, closed } = await open('/chat?room=1', {
    cookie: `${cookie}; theme=dark`,
    protocols: ['chat.v1', 'chat.v2'],
  });
  assert.equal(ws.protocol, 'chat.v1', 'the subprotocol the origin chose');
  ws.send('hello');
  const echoed = await next();
  assert.equal(echoed.data.toString(), 'hello');
  assert.equal(echoed.isBinary, false);

  assert.equal(sockets.handshakes.length, before + 1);
  const { url, headers } = sockets.handshakes.at(-1);
  assert.equal(url, '/chat?room=1');
  assert.equal(headers['x-sessiongate-user'], 'alice');
  const claims = decodeJwt(headers['x-sessiongate-assertion']);
  assert.equal(claims.sub, 'alice');
  assert.deepEqual(claims.data, { role: 'admin' });
  assert.equal(headers.cookie, 'theme=dark', 'the session cookie stays with the gateway');
  assert.equal(headers.upgrade, 'websocket');
  assert.equal(headers['sec-websocket-protocol'], 'chat.v1,chat.v2');

  ws.close(4100, 'client done');
  assert.equal((await closed).code, 4100);
  await waitFor(() => sockets.closes.some((c) => c.code === 4100 && c.reason === 'client done'));
});

test('refused with ordinary HTTP answers: no session, a bad signature, another Origin, no Origin', async () => {
  const before = sockets.handshakes.length;
  assert.deepEqual(refusal(await open('/chat')), { status: 401, error: 'missing_session' });
  const cookie = await session();
  const forged = `${cookie.slice(0, -3)}abc`;
  assert.deepEqual(refusal(await open('/chat', { cookie: forged })), { status: 401, error: 'invalid_session_cookie' });
  assert.deepEqual(
    refusal(await open('/chat', { cookie, origin: 'https://evil.example' })),
    { status: 403, error: 'cross_site_request' },
  );
  assert.deepEqual(refusal(await open('/chat', { cookie, origin: null })), { status: 403, error: 'cross_site_request' });
  // A foreign Origin is refused on a public path too (the origin's own cookies are forwarded).
  assert.deepEqual(
    refusal(await open('/public/feed', { origin: 'https://evil.example' })),
    { status: 403, error: 'cross_site_request' },
  );
  assert.equal(sockets.handshakes.length, before, 'the origin saw none of them');
});

test('a public path relays without a session', async () => {
  const { ws, next } = await open('/public/feed');
  ws.send('ping');
  assert.equal((await next()).data.toString(), 'ping');
  const { headers } = sockets.handshakes.at(-1);
  assert.equal(headers['x-sessiongate-user'], undefined);
  ws.close();
});

test('any other upgrade (h2c) is forwarded as an ordinary request with Upgrade stripped', async () => {
  const cookie = await session();
  const res = await request(gateway.url, 'GET', '/h2c', {
    headers: { cookie, 'user-agent': UA, connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' },
  });
  assert.equal(res.status, 200, res.body);
  const seen = origin.requests.at(-1);
  assert.equal(seen.url, '/h2c');
  assert.equal(seen.headers.upgrade, undefined);
  assert.equal(seen.headers['http2-settings'], undefined);
  assert.equal(seen.headers['x-sessiongate-user'], 'alice');
});

test('large and binary messages are relayed intact', async () => {
  const { ws, next } = await open('/chat', { cookie: await session() });
  // 1 MiB each, the largest message Cloudflare documents a Worker receiving.
  const text = 'é'.repeat(512 * 1024);
  const binary = randomBytes(1024 * 1024);
  const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  ws.send(text);
  ws.send(binary);
  ws.send(everyByte);
  ws.send(Buffer.alloc(0), { binary: true });
  const first = await next();
  assert.equal(first.isBinary, false);
  assert.equal(first.data.toString('utf8'), text);
  const second = await next();
  assert.equal(second.isBinary, true);
  assert.ok(second.data.equals(binary));
  const third = await next();
  assert.equal(third.isBinary, true);
  assert.ok(third.data.equals(everyByte));
  const fourth = await next();
  assert.equal(fourth.isBinary, true);
  assert.equal(fourth.data.length, 0);
  ws.close();
});

test('the origin closing first closes the client side with its code and reason', async () => {
  const { ws, closed } = await open('/chat', { cookie: await session() });
  ws.send('close-me');
  assert.deepEqual(
    await withTimeout(closed, 3000).then(({ code, reason }) => ({ code, reason })),
    { code: 4000, reason: 'origin closes' },
  );
});

test('a session ended through the same isolate closes the socket with 4401 within 2 s', async () => {
  const cookie = await session('bob');
  const { ws, next, closed } = await open('/chat', { cookie });
  ws.send('still here');
  assert.equal((await next()).data.toString(), 'still here');
  // Open across several re-checks while the session lives.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(ws.readyState, WebSocket.OPEN);

  const out = await controlRequest(gateway.url, '/api/control', { logout: 'session', cookie });
  assert.equal(out.status, 200, out.body);
  const endedAt = Date.now();
  const { code, reason, at } = await withTimeout(closed, 4000);
  assert.equal(code, 4401);
  assert.equal(reason, 'unknown_session');
  assert.ok(at - endedAt <= 2000, `closed ${at - endedAt} ms after the logout`);
  await waitFor(() => sockets.closes.some((c) => c.code === 4401));
  await gateway.settleLogs(); // lines arrive through the Tail Worker
  const close = gateway.logEntries.map((e) => e.message?.[0]).find((l) => l?.event === 'websocket_close' && l.user === 'bob');
  assert.ok(close, gateway.logs.join('\n'));
  assert.deepEqual([close.level, close.status, close.code, close.path], ['info', 401, 'unknown_session', '/chat']);
  assert.ok(close.sid, 'the session handle');
});

async function waitFor(check, ms = 3000) {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no close within ${ms} ms`)), ms); }),
  ]);
}
