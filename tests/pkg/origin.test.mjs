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

test('audience, jose → package: aud as a string or an array must name an expected audience', async () => {
  const iat = nowS();
  const claims = { iss: 'sessiongate', sub: 'alice', sid: 'h', iat, exp: iat + 60 };
  const expect = (audience) => createAssertionVerifier({ secret: ASSERTION_SECRET, audience });
  const one = await joseToken({ ...claims, aud: 'api.example.com' });
  const many = await joseToken({ ...claims, aud: ['web.example.com', 'api.example.com'] });
  const none = await joseToken(claims);
  for (const [token, audience, accepted] of [
    [one, 'api.example.com', true],
    [one, ['other', 'api.example.com'], true],
    [one, 'other', false],
    [many, 'api.example.com', true],
    [many, ['web.example.com'], true],
    [many, 'api', false],
    [none, 'api.example.com', false],
    [none, undefined, true],
    [one, undefined, true],
  ]) {
    // jose decides first; the package must agree.
    const joseAccepts = await jwtVerify(token, key, { issuer: 'sessiongate', algorithms: ['HS256'], audience })
      .then(() => true, () => false);
    assert.equal(joseAccepts, accepted, `jose: ${JSON.stringify(audience)}`);
    if (accepted) {
      assert.equal(expect(audience).verify(token).user, 'alice');
    } else {
      assert.equal(refusalCode(() => expect(audience).verify(token)), 'wrong_audience', JSON.stringify(audience));
    }
  }
  assert.deepEqual(expect('api.example.com').verify(many).claims.aud, ['web.example.com', 'api.example.com']);
  assert.equal(verifyAssertion(one, ASSERTION_SECRET, { audience: 'api.example.com' }).user, 'alice');
  assert.equal(refusalCode(() => verifyAssertion(one, ASSERTION_SECRET, { audience: 'x' })), 'wrong_audience');
  for (const bad of ['', [], [''], [1], {}]) {
    assert.throws(() => expect(bad), TypeError, JSON.stringify(bad));
  }
});

test('audience, package → jose: a minted aud verifies with jose\'s audience option, and only for it', async () => {
  for (const audience of ['api.example.com', ['web.example.com', 'api.example.com']]) {
    const token = mintAssertion({ user: 'carol', audience }, ASSERTION_SECRET);
    const { payload } = await jwtVerify(token, key, { issuer: 'sessiongate', algorithms: ['HS256'], audience: 'api.example.com' });
    assert.deepEqual(payload.aud, audience);
    await assert.rejects(
      jwtVerify(token, key, { issuer: 'sessiongate', algorithms: ['HS256'], audience: 'other.example.com' }),
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' },
    );
  }
  const without = mintAssertion({ user: 'carol' }, ASSERTION_SECRET);
  await assert.rejects(jwtVerify(without, key, { algorithms: ['HS256'], audience: 'api.example.com' }), { claim: 'aud' });
});

test('rotation: two or three secrets verify, the first mints; each at least 32 bytes, at most three', async () => {
  const next = 'the-next-assertion-secret-0123456789abcdef';
  const older = 'an-older-assertion-secret-0123456789abcde';
  const verifier = createAssertionVerifier({ secret: [next, ASSERTION_SECRET, older] });
  for (const secret of [next, ASSERTION_SECRET, older]) {
    assert.equal(verifier.verify(mintAssertion({ user: 'rot' }, secret)).user, 'rot');
  }
  // jose's tokens too, and the verifier mints with the first secret.
  const iat = nowS();
  const joseOld = await joseToken({ iss: 'sessiongate', sub: 'jo', sid: 'h', iat, exp: iat + 60 });
  assert.equal(createAssertionVerifier({ secret: [next, ASSERTION_SECRET] }).verify(joseOld).user, 'jo');
  const minted = verifier.mint({ iss: 'sessiongate', sub: 'm', sid: 'h', iat, exp: iat + 60 });
  assert.equal(verifyAssertion(minted, next).user, 'm');
  assert.equal(refusalCode(() => verifyAssertion(minted, ASSERTION_SECRET)), 'bad_signature');
  // A token no secret verifies, and other refusals, are not retried into another code.
  assert.equal(refusalCode(() => verifier.verify(mintAssertion({ user: 'x' }, 'z'.repeat(40)))), 'bad_signature');
  assert.equal(refusalCode(() => verifier.verify(mintAssertion({ user: 'x', ttlSeconds: -5 }, older))), 'expired');
  assert.throws(() => createAssertionVerifier({ secret: [next, ASSERTION_SECRET, older, 'd'.repeat(40)] }), /at most|1 to 3/);
  assert.throws(() => createAssertionVerifier({ secret: [] }), TypeError);
  assert.throws(() => createAssertionVerifier({ secret: [next, 'short'] }), { name: 'TypeError', message: /^secret\[1\]: .*at least 32 bytes/ });
});

test('errors read once: no "TypeError: TypeError: …"', () => {
  for (const secret of [42, { type: 'public' }, [ASSERTION_SECRET, 42]]) {
    assert.throws(() => createAssertionVerifier({ secret }), (error) => {
      assert.ok(error instanceof TypeError);
      assert.doesNotMatch(error.message, /TypeError/);
      assert.doesNotMatch(String(error), /TypeError: TypeError/);
      return true;
    });
  }
  assert.throws(() => createAssertionVerifier({ secret: 'short' }), (error) => !/TypeError/.test(error.message));
  assert.throws(() => sessiongate({ secret: 42 }), (error) => !String(error).includes('TypeError: TypeError'));
  assert.throws(() => sessiongate(), TypeError);
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

test('Express middleware, behind the real Worker: the identity in req.sessiongate, req.user only on request, direct requests refused', async () => {
  const app = express();
  // Public at the gateway: no assertion; the middleware is mounted on the protected routes only.
  app.get('/health', (req, res) => res.json({ ok: true, user: req.user ?? null, sessiongate: req.sessiongate ?? null }));
  app.get('/me', sessiongate({ secret: ASSERTION_SECRET }), (req, res) => {
    res.json({ user: req.sessiongate.user, reqUser: req.user ?? null, auth: req.auth ?? null, handle: req.sessiongate.sessionHandle });
  });
  app.get('/passport-style', sessiongate({ secret: ASSERTION_SECRET, setUser: true }), (req, res) => res.json({ reqUser: req.user }));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${server.address().port}`;
  const appGateway = await startGateway({ originUrl: appUrl, vars: { PUBLIC_PATHS: '/health' } });
  try {
    // A live session for bob in this gateway's KV, and its signed cookie.
    const id = 'expressMiddlewareSession0123456789abc';
    await seedSession(await appGateway.kv(), id, { user: 'bob', data: null });
    const headers = { cookie: signedCookie(id), 'user-agent': UA };
    const through = await request(appGateway.url, 'GET', '/me', { headers });
    assert.equal(through.status, 200, through.body);
    assert.deepEqual({ ...through.json(), handle: undefined }, { user: 'bob', reqUser: null, auth: null, handle: undefined });
    assert.match(through.json().handle, /^[A-Za-z0-9_-]{22}$/);
    const withUser = await request(appGateway.url, 'GET', '/passport-style', { headers });
    assert.equal(withUser.json().reqUser, 'bob');
    const publicPath = await request(appGateway.url, 'GET', '/health', { headers: { 'user-agent': UA } });
    assert.equal(publicPath.status, 200, 'a public path is not refused by the origin');

    const direct = await request(appUrl, 'GET', '/me', { headers: { 'x-sessiongate-user': 'bob' } });
    assert.equal(direct.status, 401);
    assert.equal(direct.json().error, 'assertion_missing');
    assert.match(direct.json().message, /public path/);
    assert.match(direct.json().message, /preflight/);
    assert.match(direct.json().message, /directly/);
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

test('Express middleware: the gateway\'s ASSERTION_AUDIENCE is checked with the audience option (and by jose)', async () => {
  const app = express();
  app.get('/api', sessiongate({ secret: ASSERTION_SECRET, audience: 'api.example.com' }), (req, res) => {
    res.json({ user: req.sessiongate.user, aud: req.sessiongate.claims.aud, token: req.headers['x-sessiongate-assertion'] });
  });
  app.get('/admin', sessiongate({ secret: ASSERTION_SECRET, audience: 'admin.example.com' }), (req, res) => res.json({}));
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${server.address().port}`;
  const appGateway = await startGateway({
    originUrl: appUrl,
    vars: { PUBLIC_PATHS: '/health', ASSERTION_AUDIENCE: '["web.example.com","api.example.com"]' },
  });
  try {
    const id = 'expressAudienceSession0123456789abcde';
    await seedSession(await appGateway.kv(), id, { user: 'dora', data: null });
    const headers = { cookie: signedCookie(id), 'user-agent': UA };
    const api = await request(appGateway.url, 'GET', '/api', { headers });
    assert.equal(api.status, 200, api.body);
    assert.equal(api.json().user, 'dora');
    assert.deepEqual(api.json().aud, ['web.example.com', 'api.example.com']);
    const { payload } = await jwtVerify(api.json().token, key, { issuer: 'sessiongate', algorithms: ['HS256'], audience: 'web.example.com' });
    assert.equal(payload.sub, 'dora');
    const admin = await request(appGateway.url, 'GET', '/admin', { headers });
    assert.equal(admin.status, 401);
    assert.equal(admin.json().error, 'assertion_wrong_audience');
  } finally {
    await appGateway.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('Express middleware: passErrors hands the AssertionError (status 401, code) to the error handler', async () => {
  const app = express();
  app.set('env', 'test'); // Express's final handler prints errors to the console otherwise
  app.get('/mine', sessiongate({ secret: ASSERTION_SECRET, passErrors: true }), (req, res) => res.json({ user: req.sessiongate.user }));
  app.get('/express-default', sessiongate({ secret: ASSERTION_SECRET, passErrors: true }), (req, res) => res.json({}));
  app.use('/mine', (err, req, res, next) => {
    res.status(err.status).json({ handledBy: 'app', name: err.name, code: err.code, isAssertionError: err instanceof AssertionError });
  });
  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${server.address().port}`;
  try {
    const mine = await request(appUrl, 'GET', '/mine', {});
    assert.equal(mine.status, 401);
    assert.deepEqual(mine.json(), { handledBy: 'app', name: 'AssertionError', code: 'missing', isAssertionError: true });
    const expired = await request(appUrl, 'GET', '/mine', {
      headers: { 'x-sessiongate-assertion': mintAssertion({ user: 'x', ttlSeconds: -1 }, ASSERTION_SECRET) },
    });
    assert.equal(expired.json().code, 'expired');
    // Express's own final handler answers with err.status.
    const fallback = await request(appUrl, 'GET', '/express-default', {});
    assert.equal(fallback.status, 401);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('Express middleware: an error thrown after it is not treated as an assertion refusal', () => {
  const middleware = sessiongate({ secret: ASSERTION_SECRET });
  const req = { headers: { 'x-sessiongate-assertion': mintAssertion({ user: 'eve' }, ASSERTION_SECRET) } };
  const res = { statusCode: 200, setHeader() {}, end() { assert.fail('no refusal'); } };
  const calls = [];
  assert.throws(() => middleware(req, res, (err) => {
    calls.push(err);
    throw new AssertionError('expired');
  }), { code: 'expired' });
  assert.deepEqual(calls, [undefined], 'next was called once, without an error');
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
  assert.equal(none.req.sessiongate, undefined);
  const good = run({ 'x-custom-assertion': mintAssertion({ user: 'erin' }, ASSERTION_SECRET) });
  assert.equal(good.nextCalled, true);
  assert.equal(good.req.sessiongate.user, 'erin');
  assert.equal('user' in good.req, false, 'req.user is not set without setUser');
  const bad = run({ 'x-custom-assertion': 'garbage' });
  assert.equal(bad.nextCalled, false);
  assert.equal(bad.res.statusCode, 401);
  assert.equal(JSON.parse(bad.res.body).error, 'assertion_malformed');
});
