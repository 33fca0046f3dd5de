// Adversarial catalogue, class "gateway endpoints": the built-in endpoints under GATEWAY_PATH,
// through the real Worker: the cross-site check, methods, unknown paths, never forwarded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  UA, clearsCookie, errorCode, loginViaControl, request, originAndGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({ vars: { PUBLIC_PATHS: '/health,/control' } });

const post = (path, cookie, headers = {}) => request(gateway.url, 'POST', path, {
  headers: { ...(cookie ? { cookie } : {}), 'user-agent': UA, ...headers },
});

describe('gateway endpoints', () => {
  test('gateway endpoints: the cross-site check: foreign Origin, "null" Origin, other port, cross-site Sec-Fetch-Site', async () => {
    const cookie = await loginViaControl(gateway.url, 'frank');
    const { port } = new URL(gateway.url);
    const refused = [
      { origin: 'null' },
      { origin: `http://127.0.0.1:${Number(port) + 1}` },
      { origin: `https://127.0.0.1:${port}` },
      { origin: 'http://127.0.0.1.evil.example' },
      { origin: `http://127.0.0.1:${port}.evil.example` },
      { origin: `HTTP://127.0.0.1:${port}/` },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
    ];
    for (const headers of refused) {
      for (const path of ['/.sessiongate/logout', '/.sessiongate/logout?scope=all']) {
        const res = await post(path, cookie, headers);
        assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(errorCode(res), 'cross_site_request');
      }
    }
    assert.equal((await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 200);
    const ok = await post('/.sessiongate/logout', cookie, { 'sec-fetch-site': 'none' });
    assert.equal(ok.status, 200, ok.body);
    assert.ok(clearsCookie(ok));
  });

  test('gateway endpoints: a same-origin logout without Origin or Sec-Fetch-Site (non-browser client) works', async () => {
    const cookie = await loginViaControl(gateway.url, 'grace');
    const res = await post('/.sessiongate/logout', cookie);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().ok, true);
    assert.equal(errorCode(await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })), 'unknown_session');
  });

  test('gateway endpoints: without a session, the usual 401 codes', async () => {
    assert.equal(errorCode(await post('/.sessiongate/logout', undefined)), 'missing_session');
    assert.equal(errorCode(await post('/.sessiongate/logout', 'sessiongate=s%3Aforged.sig')), 'invalid_session_cookie');
  });

  test('gateway endpoints: are never forwarded to the origin, whatever the method or path', async () => {
    const cookie = await loginViaControl(gateway.url, 'heidi');
    const before = origin.requests.length;
    assert.equal((await request(gateway.url, 'GET', '/.sessiongate/logout', { headers: { cookie, 'user-agent': UA } })).status, 405);
    for (const path of ['/.sessiongate/whatever', '/.sessiongate/', '/.sessiongate', '/.sessiongate/logout/x']) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        // Whatever the gateway answers (endpoints may be added), the origin must not see it.
        await request(gateway.url, method, path, { headers: { cookie, 'user-agent': UA, 'sec-fetch-site': 'same-origin' } });
        assert.equal(origin.requests.length, before, `${method} ${path} reached the origin`);
      }
    }
    const unknown = await request(gateway.url, 'GET', '/.sessiongate/whatever', { headers: { cookie, 'user-agent': UA } });
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'not_found');
    assert.equal(origin.requests.length, before);
  });
});
