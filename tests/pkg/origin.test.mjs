// The origin side of the package: the assertion verifier and the Express middleware, against
// assertions minted by the real Worker (in workerd) and against `jose` in both directions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import express from 'express';
import { SignJWT, jwtVerify, UnsecuredJWT } from 'jose';
import {
  ASSERTION_SECRET, UA, loginViaControl, request, seedSession, signedCookie, startGateway, startTestOrigin,
} from '../e2e/helpers.mjs';
import { AssertionError, createAssertionVerifier, mintAssertion, verifyAssertion } from '../../pkg/src/origin-node.js';
import { sessiongate } from '../../pkg/src/express.js';

const key = new TextEncoder().encode(ASSERTION_SECRET);
const nowS = () => Math.floor(Date.now() / 1000);

function joseToken(claims, { alg = 'HS256', secret = key } = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(secret);
}

function refusalCode(f) {
  try {
    f();
  } catch (error) {
    assert.ok(error instanceof AssertionError, `expected AssertionError, got ${error}`);
    return error.code;
  }
  assert.fail('expected a refusal');
}

test('jose → package: a standard HS256 JWT with the gateway claims verifies', async () => {
  const iat = nowS();
  const token = await joseToken({ iss: 'sessiongate', sub: 'alice', sid: 'handle-1', iat, exp: iat + 60, data: { role: 'admin' } });
  const verified = verifyAssertion(token, ASSERTION_SECRET);
  assert.equal(verified.user, 'alice');
  assert.equal(verified.sessionHandle, 'handle-1');
  assert.deepEqual(verified.data, { role: 'admin' });
  // Header without typ, as many libraries write it.
  const bare = await new SignJWT({ iss: 'sessiongate', sub: 'bob', sid: 'h', iat, exp: iat + 60 })
    .setProtectedHeader({ alg: 'HS256' }).sign(key);
  assert.equal(verifyAssertion(bare, ASSERTION_SECRET).user, 'bob');
});

test('jose → package: every bad token is refused with its code', async () => {
  const iat = nowS();
  const claims = { iss: 'sessiongate', sub: 'alice', sid: 'h', iat, exp: iat + 60 };
  const verify = (token) => refusalCode(() => verifyAssertion(token, ASSERTION_SECRET));
  assert.equal(verify(await joseToken(claims, { secret: new TextEncoder().encode('x'.repeat(40)) })), 'bad_signature');
  assert.equal(verify(await joseToken({ ...claims, exp: iat - 1 })), 'expired');
  assert.equal(verify(await joseToken({ ...claims, iat: iat + 600, exp: iat + 900 })), 'not_yet_valid');
  assert.equal(verify(await joseToken({ ...claims, iss: 'someone-else' })), 'wrong_issuer');
  assert.equal(verify(await joseToken(claims, { alg: 'HS512' })), 'malformed');
  assert.equal(verify(new UnsecuredJWT(claims).encode()), 'malformed', 'alg none');
  const { sub, ...withoutSub } = claims;
  assert.equal(sub, 'alice');
  assert.equal(verify(await joseToken(withoutSub)), 'malformed');
  assert.equal(verify(''), 'missing');
  assert.equal(verify(undefined), 'missing');
  assert.equal(verify('not.a.jwt'), 'malformed');
});

test('package → jose: a minted assertion verifies with jose, claims intact', async () => {
  const token = mintAssertion({ user: 'carol', sessionHandle: 'h-9', data: { plan: 'pro' }, ttlSeconds: 120 }, ASSERTION_SECRET);
  const { payload, protectedHeader } = await jwtVerify(token, key, { issuer: 'sessiongate', algorithms: ['HS256'] });
  assert.deepEqual(protectedHeader, { alg: 'HS256', typ: 'JWT' });
  assert.equal(payload.sub, 'carol');
  assert.equal(payload.sid, 'h-9');
  assert.deepEqual(payload.data, { plan: 'pro' });
  assert.equal(payload.exp - payload.iat, 120);
  await assert.rejects(jwtVerify(token, new TextEncoder().encode('y'.repeat(40))));
});

test('verifier options: clock injection and skew, short secrets refused', () => {
  let now = 1_800_000_000_000;
  const verifier = createAssertionVerifier({ secret: ASSERTION_SECRET, clockSkewSeconds: 10, now: () => now });
  const token = verifier.mint({ iss: 'sessiongate', sub: 'dave', sid: 'h', iat: 1_800_000_005, exp: 1_800_000_060 });
  assert.equal(verifier.verify(token).user, 'dave', 'iat 5 s ahead is within the 10 s skew');
  now = 1_800_000_060_000;
  assert.equal(refusalCode(() => verifier.verify(token)), 'expired');
  assert.throws(() => createAssertionVerifier({ secret: 'short' }), TypeError);
  assert.throws(() => createAssertionVerifier({}), TypeError);
});

// The real Worker in front of an origin that records what it receives.
let origin;
let gateway;
before(async () => {
  origin = await startTestOrigin();
  gateway = await startGateway({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/health,/control' } });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

test('Worker-minted assertions verify with the package and with jose', async () => {
  const cookie = await loginViaControl(gateway.url, 'alice', { role: 'admin' });
  const res = await request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': UA } });
  assert.equal(res.status, 200);
  const token = res.json().headers['x-sessiongate-assertion'];
  assert.ok(token, 'the Worker sent an assertion');
  const verified = verifyAssertion(token, ASSERTION_SECRET);
  assert.equal(verified.user, 'alice');
  assert.deepEqual(verified.data, { role: 'admin' });
  assert.match(verified.sessionHandle, /^[A-Za-z0-9_-]{22}$/);
  assert.ok(!cookie.includes(verified.sessionHandle), 'the handle is not the session id');
  const { payload } = await jwtVerify(token, key, { issuer: 'sessiongate', algorithms: ['HS256'] });
  assert.equal(payload.sub, 'alice');
  // One flipped character anywhere in the signature is refused.
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  const tampered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
  assert.equal(refusalCode(() => verifyAssertion(tampered, ASSERTION_SECRET)), 'bad_signature');
});

test('Express middleware: requests through the gateway get req.user; direct requests are refused', async () => {
  const app = express();
  app.use(sessiongate({ secret: ASSERTION_SECRET }));
  app.get('/me', (req, res) => res.json({ user: req.user, handle: req.sessiongate.sessionHandle }));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${server.address().port}`;
  const appGateway = await startGateway({ originUrl: appUrl, vars: { PUBLIC_PATHS: '/health' } });
  try {
    // A live session for bob in this gateway's KV, and its signed cookie.
    const id = 'expressMiddlewareSession0123456789abc';
    await seedSession(await appGateway.kv(), id, { user: 'bob', data: null });
    const through = await request(appGateway.url, 'GET', '/me', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
    assert.equal(through.status, 200, through.body);
    assert.equal(through.json().user, 'bob');
    assert.match(through.json().handle, /^[A-Za-z0-9_-]{22}$/);

    const direct = await request(appUrl, 'GET', '/me', { headers: { 'x-sessiongate-user': 'bob' } });
    assert.equal(direct.status, 401);
    assert.equal(direct.json().error, 'assertion_missing');
    const forged = mintAssertion({ user: 'bob' }, 'another-secret-that-is-long-enough-0123');
    const wrongKey = await request(appUrl, 'GET', '/me', { headers: { 'x-sessiongate-assertion': forged } });
    assert.equal(wrongKey.status, 401);
    assert.equal(wrongKey.json().error, 'assertion_bad_signature');
    assert.equal(wrongKey.headers['cache-control'], 'no-store');
  } finally {
    await appGateway.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('Express middleware: optional mode lets requests without an assertion through, never bad ones', () => {
  const middleware = sessiongate({ secret: ASSERTION_SECRET, optional: true, header: 'X-Custom-Assertion' });
  const run = (headers) => {
    const req = { headers };
    const res = { statusCode: 200, headers: {}, setHeader(n, v) { this.headers[n] = v; }, end(body) { this.body = body; } };
    let nextCalled = false;
    middleware(req, res, () => { nextCalled = true; });
    return { req, res, nextCalled };
  };
  const none = run({});
  assert.equal(none.nextCalled, true);
  assert.equal(none.req.user, undefined);
  const good = run({ 'x-custom-assertion': mintAssertion({ user: 'erin' }, ASSERTION_SECRET) });
  assert.equal(good.nextCalled, true);
  assert.equal(good.req.user, 'erin');
  const bad = run({ 'x-custom-assertion': 'garbage' });
  assert.equal(bad.nextCalled, false);
  assert.equal(bad.res.statusCode, 401);
  assert.equal(JSON.parse(bad.res.body).error, 'assertion_malformed');
});
