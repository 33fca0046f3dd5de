// The browser flow in a real browser (Debian's Chromium, headless, driven by playwright-core) against
// the real Worker in workerd in front of the demo origin: the sign-in redirect back to the page that
// was asked for, and app-wide cross-site protection. Every cross-site case runs with the protection
// on (refused) and off (it succeeds, with the victim's session), so it cannot pass vacuously.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ASSERTION_SECRET, startDemoOrigin, startGateway } from '../e2e/helpers.mjs';

let origin;
let browser;
/** The attacker's page server on 127.0.0.1: `/?target=<url>` posts a form there on load. */
let attacker;
const gateways = [];

before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  attacker = http.createServer((req, res) => {
    const target = new URL(req.url, 'http://x').searchParams.get('target') ?? '';
    const action = target.replace(/[^A-Za-z0-9:/._?=&-]/g, '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>elsewhere</title>
<form id="f" method="post" action="${action}"><input name="amount" value="1000"></form>
<script>document.getElementById('f').submit();</script>`);
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await browser?.close();
  for (const gateway of gateways) await gateway.close();
  await origin?.close();
  await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve()));
});

/** A gateway in front of the demo origin, reached as http://localhost:<port>. */
async function gatewayWith(vars) {
  const gateway = await startGateway({
    originUrl: origin.url,
    vars: { PUBLIC_PATHS: '/,/health,/login,/static/*', ...vars },
  });
  gateways.push(gateway);
  const port = new URL(gateway.url).port;
  return { ...gateway, url: `http://localhost:${port}`, port };
}

async function newPage(baseURL) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  return { context, page, problems };
}

test('a protected page opened signed out goes to the sign-in page, then back to that page', async () => {
  const gateway = await gatewayWith({ LOGIN_URL: '/login' });
  const { context, page, problems } = await newPage(gateway.url);

  const first = await page.goto('/app?tab=claims&x=a%2Fb');
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login', 'landed on the sign-in page');
  assert.equal(url.searchParams.get('return_to'), '/app?tab=claims&x=a%2Fb');
  assert.equal(first.status(), 200);
  const redirect = await first.request().redirectedFrom().response();
  assert.equal(redirect.status(), 302);
  assert.equal(redirect.headers()['cache-control'], 'no-store');

  await page.fill('#username', 'alice');
  await page.fill('#password', 'sessiongate-demo');
  await Promise.all([page.waitForURL('**/app?tab=claims&x=a%2Fb'), page.click('button[type=submit]')]);
  await page.locator('#verified').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#user'), 'alice');

  // A fetch (not a navigation) keeps the JSON 401 with its challenge.
  const anonymous = await browser.newContext({ baseURL: gateway.url });
  const other = await anonymous.newPage();
  await other.goto('/login');
  const api = await other.evaluate(async () => {
    const res = await fetch('/whoami');
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() };
  });
  assert.equal(api.status, 401);
  assert.equal(api.body.error, 'missing_session');
  assert.match(api.challenge, /^Session realm="localhost:\d+"$/);

  // A crafted return path never leaves the site.
  await other.goto('/login?return_to=//127.0.0.1/elsewhere');
  await other.fill('#password', 'sessiongate-demo');
  await Promise.all([other.waitForURL((u) => u.pathname === '/'), other.click('button[type=submit]')]);
  assert.equal(new URL(other.url()).host, `localhost:${gateway.port}`);

  assert.deepEqual(problems, []);
  await anonymous.close();
  await context.close();
});

/**
 * Signs alice in on `gateway` in a fresh browser context, then opens the attacker's page at
 * `attackerHost` (which posts a form to the gateway's /echo); returns what the browser got and what
 * the origin saw.
 */
async function forgedPost(gateway, attackerHost) {
  const { context, page } = await newPage(gateway.url);
  await page.goto('/login');
  await page.fill('#password', 'sessiongate-demo');
  await Promise.all([page.waitForURL('**/app'), page.click('button[type=submit]')]);
  const cookies = await context.cookies(gateway.url);
  const session = cookies.find((c) => c.name === 'sessiongate');
  assert.ok(session, 'signed in');
  assert.equal(session.sameSite, 'None', 'the cookie goes along on cross-site requests');
  assert.equal(session.secure, true);

  const seen = origin.requests.length;
  const target = `${gateway.url}/echo`;
  const landed = page.waitForURL((u) => u.href.startsWith(target));
  await page.goto(`http://${attackerHost}:${attacker.address().port}/?target=${encodeURIComponent(target)}`);
  await landed;
  const body = await page.textContent('body');
  const reached = origin.requests.slice(seen).filter((r) => r.url === '/echo');
  await context.close();
  return { body, reached };
}

test('cross-site and same-site forged posts are refused with CSRF_PROTECTION and get through without it', async () => {
  const cookie = { COOKIE_SECURE: 'true', COOKIE_SAMESITE: 'None' };
  const on = await gatewayWith({ ...cookie, CSRF_PROTECTION: 'true' });
  const off = await gatewayWith({ ...cookie, CSRF_PROTECTION: 'false' });
  // 127.0.0.1 is another site than localhost; localhost on another port is the same site, another
  // origin (SameSite does not stop that one at all).
  for (const attackerHost of ['127.0.0.1', 'localhost']) {
    const refused = await forgedPost(on, attackerHost);
    assert.equal(JSON.parse(refused.body).error, 'cross_site_request', `${attackerHost}: ${refused.body}`);
    assert.equal(refused.reached.length, 0, `${attackerHost}: nothing reached the origin`);

    const passed = await forgedPost(off, attackerHost);
    const echoed = JSON.parse(passed.body);
    assert.equal(echoed.method, 'POST', `${attackerHost}: ${passed.body}`);
    assert.equal(echoed.headers['x-sessiongate-user'], 'alice', `${attackerHost}: the forgery rode on the session`);
    assert.equal(passed.reached.length, 1);
  }
});
