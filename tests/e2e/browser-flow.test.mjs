// The browser flow through the real Worker in workerd: the sign-in redirect and the session
// challenge, optional paths, app-wide cross-site protection and the Cache-Control of session
// responses, against an origin that asks for public caching everywhere.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  UA, clearsCookie, errorCode, flipChar, request, sessionCookie, startGateway,
} from './helpers.mjs';

/** An origin whose every answer says `Cache-Control: public, max-age=3600`; POST /login logs in. */
async function startCachingOrigin() {
  const requests = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      const headers = {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=3600',
        'cdn-cache-control': 'max-age=600',
      };
      if (req.url.startsWith('/login') && req.method === 'POST') {
        headers['sessiongate-login'] = JSON.stringify({ user: 'alice' });
      }
      if (req.url.startsWith('/logout') && req.method === 'POST') headers['sessiongate-logout'] = 'session';
      res.writeHead(200, headers);
      res.end(JSON.stringify({ user: req.headers['x-sessiongate-user'] ?? null }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let origin;
let gateway;

before(async () => {
  origin = await startCachingOrigin();
  gateway = await startGateway({
    originUrl: origin.url,
    vars: {
      PUBLIC_PATHS: '/health,/login,/static/*',
      OPTIONAL_PATHS: '/,/home/*',
      LOGIN_URL: '/login',
      CSRF_PROTECTION: 'true',
      CSRF_ALLOWED_ORIGINS: 'https://admin.example',
    },
  });
});
after(async () => {
  await gateway?.close();
  await origin?.close();
});

const send = (method, path, headers = {}) =>
  request(gateway.url, method, path, { headers: { 'user-agent': UA, ...headers } });

async function signIn() {
  const res = await send('POST', '/login', { origin: gateway.url });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store', 'a response that sets the cookie is never cached');
  assert.equal(res.headers['cdn-cache-control'], undefined);
  return sessionCookie(res);
}

describe('sign-in redirect', () => {
  test('a navigation without a session is redirected with its path; a fetch gets the JSON 401 and a challenge', async () => {
    const nav = await send('GET', '/orders/7?tab=a%20b', { 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302);
    assert.equal(nav.headers.location, '/login?return_to=/orders/7%3Ftab%3Da%2520b');
    assert.equal(nav.headers['cache-control'], 'no-store');
    const post = await send('POST', '/orders', { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin' });
    assert.equal(post.status, 303);
    const api = await send('GET', '/orders', { 'sec-fetch-mode': 'cors' });
    assert.equal(api.status, 401);
    assert.equal(errorCode(api), 'missing_session');
    assert.equal(api.headers['www-authenticate'], `Session realm="${new URL(gateway.url).host}"`);
  });

  test('a bad cookie on a navigation is cleared on the way to the sign-in page', async () => {
    const cookie = await signIn();
    const res = await send('GET', '/orders', { cookie: flipChar(cookie, cookie.length - 2), 'sec-fetch-mode': 'navigate' });
    assert.equal(res.status, 302);
    assert.ok(clearsCookie(res), res.headers['set-cookie']);
  });
});

describe('optional paths and caching', () => {
  test('signed out: forwarded without identity, the origin\'s caching untouched', async () => {
    const res = await send('GET', '/home/feed', { 'sec-fetch-mode': 'navigate' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { user: null });
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    assert.equal(res.headers['cdn-cache-control'], 'max-age=600');
    assert.equal(origin.requests.at(-1).headers['cache-control'], undefined, 'an anonymous fetch may be cached');
  });

  test('signed in: the identity reaches the origin and the answer is private', async () => {
    const cookie = await signIn();
    for (const path of ['/', '/orders']) {
      const res = await send('GET', path, { cookie });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { user: 'alice' }, path);
      assert.equal(res.headers['cache-control'], 'private, max-age=3600', path);
      assert.equal(res.headers['cdn-cache-control'], undefined, path);
      // fetch(…, { cache: 'no-store' }): workerd sends it on as no-cache, and no cache answers it.
      assert.equal(origin.requests.at(-1).headers['cache-control'], 'no-cache', path);
    }
  });

  test('a refused session on an optional path: cookie cleared (no-store), forwarded without identity', async () => {
    const cookie = await signIn();
    const res = await send('GET', '/', { cookie, 'user-agent': 'curl/8.0' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { user: null });
    assert.ok(clearsCookie(res), res.headers['set-cookie']);
    assert.equal(res.headers['cache-control'], 'no-store');
    // The mismatch ended the session, as on a protected path.
    assert.equal(errorCode(await send('GET', '/orders', { cookie })), 'unknown_session');
  });

  test('logout: the clearing response is no-store', async () => {
    const cookie = await signIn();
    const res = await send('POST', '/logout', { cookie, 'sec-fetch-site': 'same-origin' });
    assert.ok(clearsCookie(res));
    assert.equal(res.headers['cache-control'], 'no-store');
  });
});

describe('cross-site protection', () => {
  test('unsafe requests from other origins are refused before the origin, with or without a cookie', async () => {
    const cookie = await signIn();
    const seen = origin.requests.length;
    for (const headers of [
      { origin: 'https://evil.example' },
      { origin: 'https://evil.example', cookie },
      { 'sec-fetch-site': 'same-site', cookie },
      { 'sec-fetch-site': 'cross-site' },
    ]) {
      const res = await send('POST', '/login', headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(errorCode(res), 'cross_site_request');
    }
    assert.equal(origin.requests.length, seen, 'nothing reached the origin');
    const allowed = await send('PUT', '/orders', { origin: 'https://admin.example', cookie });
    assert.equal(allowed.status, 200);
    const get = await send('GET', '/orders', { origin: 'https://evil.example', cookie });
    assert.equal(get.status, 200);
  });
});
