// The "your sessions" page and its JSON API over HTTP, through the real Worker in workerd with
// local KV in front of a test origin (each test logs in users of its own): listing, signing out one other session or all others, the
// same-origin and session checks, and the page's own security headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  errorCode, loginViaControl, request, startGateway, startTestOrigin,
} from './helpers.mjs';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

let origin;
let gateway;
const VARS = { PUBLIC_PATHS: '/health,/control' };
before(async () => {
  origin = await startTestOrigin();
  gateway = await startGateway({ originUrl: origin.url, vars: VARS });
});
/** Logs `user` in from a browser with user agent `ua`; returns the session cookie. */
const login = (gatewayUrl, user, { ua }) => loginViaControl(gatewayUrl, user, undefined, { ua });
after(async () => {
  await gateway?.close();
  await origin?.close();
});

/** A call as the sessions page makes it: same origin, with the session cookie and its browser's UA. */
function call(method, path, cookie, ua, extra = {}) {
  return request(gateway.url, method, path, {
    headers: { cookie, 'user-agent': ua, origin: gateway.url, 'sec-fetch-site': 'same-origin', ...extra },
  });
}
const list = async (cookie, ua) => {
  const res = await call('GET', '/.sessiongate/api/sessions', cookie, ua);
  assert.equal(res.status, 200, res.body);
  return res.json();
};
const stillIn = async (cookie, ua) => (await request(gateway.url, 'GET', '/whoami', { headers: { cookie, 'user-agent': ua } })).status === 200;

describe('the sessions API', () => {
  test('lists the user\'s live sessions, this one first, with readable devices and no raw ids', async () => {
    const laptop = await login(gateway.url, 'alice', { ua: CHROME });
    const phone = await login(gateway.url, 'alice', { ua: PHONE });
    await login(gateway.url, 'bob', { ua: FIREFOX });
    assert.ok(phone);
    const res = await call('GET', '/.sessiongate/api/sessions', laptop, CHROME);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.equal(body.user, 'alice');
    const mine = body.sessions;
    assert.equal(mine.length, 2, res.body);
    assert.equal(mine[0].current, true);
    assert.equal(mine[0].device, 'Chrome 131 on Linux');
    assert.ok(mine.some((s) => !s.current && s.device === 'Safari 18 on iPhone'));
    assert.ok(mine.every((s) => /^[A-Za-z0-9_-]{22}$/.test(s.id)));
    assert.ok(mine.every((s) => typeof s.created === 'number' && s.last_seen >= s.created));
    for (const cookie of [laptop, phone]) {
      const id = decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
      assert.ok(!res.body.includes(id), 'no raw session id in the answer');
    }
  });

  test('signs out one other session: that browser is refused at once, this one stays', async () => {
    const laptop = await login(gateway.url, 'carol', { ua: CHROME });
    const desktop = await login(gateway.url, 'carol', { ua: FIREFOX });
    const other = (await list(laptop, CHROME)).sessions.find((s) => !s.current);
    const res = await call('DELETE', `/.sessiongate/api/sessions/${other.id}`, laptop, CHROME);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), { ok: true, revoked: 1, current: false });
    assert.equal(await stillIn(desktop, FIREFOX), false);
    assert.equal(await stillIn(laptop, CHROME), true);
    assert.equal((await list(laptop, CHROME)).sessions.length, 1);
  });

  test('signs out all other sessions', async () => {
    const here = await login(gateway.url, 'dave', { ua: CHROME });
    const others = [await login(gateway.url, 'dave', { ua: FIREFOX }), await login(gateway.url, 'dave', { ua: PHONE })];
    const res = await call('POST', '/.sessiongate/api/sessions/revoke-others', here, CHROME);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json().revoked, 2);
    assert.equal(await stillIn(others[0], FIREFOX), false);
    assert.equal(await stillIn(others[1], PHONE), false);
    assert.equal(await stillIn(here, CHROME), true);
  });

  test('cross-site calls are refused with 403 and change nothing', async () => {
    const here = await login(gateway.url, 'erin', { ua: CHROME });
    const other = await login(gateway.url, 'erin', { ua: FIREFOX });
    const handle = (await list(here, CHROME)).sessions.find((s) => !s.current).id;
    for (const [method, path] of [
      ['DELETE', `/.sessiongate/api/sessions/${handle}`],
      ['POST', '/.sessiongate/api/sessions/revoke-others'],
    ]) {
      for (const forged of [{ origin: 'https://evil.example' }, { origin: 'null' }, { origin: undefined, 'sec-fetch-site': 'cross-site' }]) {
        const headers = { cookie: here, 'user-agent': CHROME, ...forged };
        if (headers.origin === undefined) delete headers.origin;
        const res = await request(gateway.url, method, path, { headers });
        assert.equal(res.status, 403, `${method} ${path} ${JSON.stringify(forged)}`);
        assert.equal(errorCode(res), 'cross_site_request');
      }
    }
    assert.equal(await stillIn(other, FIREFOX), true);
  });

  test('needs a valid session of the same browser; other users\' sessions cannot be named', async () => {
    const frank = await login(gateway.url, 'frank', { ua: CHROME });
    const grace = await login(gateway.url, 'grace', { ua: CHROME });
    const noCookie = await request(gateway.url, 'GET', '/.sessiongate/api/sessions', { headers: { 'user-agent': CHROME } });
    assert.equal(noCookie.status, 401);
    assert.equal(errorCode(noCookie), 'missing_session');
    const gracesHandle = (await list(grace, CHROME)).sessions[0].id;
    const res = await call('DELETE', `/.sessiongate/api/sessions/${gracesHandle}`, frank, CHROME);
    assert.equal(res.status, 404);
    assert.equal(await stillIn(grace, CHROME), true);
    const stolen = await call('GET', '/.sessiongate/api/sessions', frank, FIREFOX);
    assert.equal(errorCode(stolen), 'user_agent_mismatch');
    const wrongMethod = await call('POST', '/.sessiongate/api/sessions', grace, CHROME);
    assert.equal(wrongMethod.status, 405);
  });
});

describe('the sessions page', () => {
  test('is served by the gateway itself with a strict content security policy', async () => {
    const before = origin.requests.length;
    const page = await request(gateway.url, 'GET', '/.sessiongate/sessions');
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self'/);
    assert.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.match(page.body, /<title>Your sessions<\/title>/);
    assert.doesNotMatch(page.body, /<script>|\sstyle=|\son[a-z]+=/, 'no inline script, style or handlers');
    for (const [asset, type] of [['sessions.js', 'text/javascript; charset=utf-8'], ['sessions.css', 'text/css; charset=utf-8']]) {
      const res = await request(gateway.url, 'GET', `/.sessiongate/${asset}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], type);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    assert.equal(origin.requests.length, before, 'nothing reached the origin');
  });

  test('follows GATEWAY_PATH', async () => {
    const custom = await startGateway({ originUrl: origin.url, vars: { ...VARS, GATEWAY_PATH: '/account' } });
    try {
      assert.equal((await request(custom.url, 'GET', '/account/sessions')).status, 200);
      const here = await login(custom.url, 'heidi', { ua: CHROME });
      const res = await request(custom.url, 'GET', '/account/api/sessions', { headers: { cookie: here, 'user-agent': CHROME } });
      assert.equal(res.json().user, 'heidi');
    } finally {
      await custom.close();
    }
  });
});
