// The demo app and the "your sessions" page in a real browser: Debian's Chromium, headless, driven
// by playwright-core, against the real Worker in workerd (local KV) in front of the demo origin.
// Two browser contexts are two devices of the same user. Screenshots of every page, at desktop and
// phone width, go to build/screenshots/ (and to www/screenshots/ with UPDATE_SCREENSHOTS=1).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ASSERTION_SECRET, ROOT, startDemoOrigin, startGateway } from '../e2e/helpers.mjs';

const SHOTS = path.join(ROOT, 'build/screenshots');
const COMMITTED_SHOTS = path.join(ROOT, 'www/screenshots');
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
};

let origin;
let gateway;
let browser;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
  gateway = await startGateway({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/,/health,/login,/static/*' } });
  // A fresh temporary profile per launch; the flags keep Chromium off the network.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await gateway?.close();
  await origin?.close();
});

async function shoot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    fs.mkdirSync(COMMITTED_SHOTS, { recursive: true });
    fs.copyFileSync(file, path.join(COMMITTED_SHOTS, `${name}.png`));
  }
}

/** A browser context (a device) with no console errors allowed. */
async function device(options) {
  const context = await browser.newContext({ ...options, baseURL: gateway.url });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  return { context, page, problems };
}

async function signIn(page, user, password = 'sessiongate-demo') {
  await page.goto('/login');
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL('**/app'), page.click('button[type=submit]')]);
  await page.locator('#verified').waitFor({ state: 'visible' });
}

test('sign in, see who the origin sees, manage sessions from two devices, sign out', async () => {
  const laptop = await device(DESKTOP);
  const phone = await device(PHONE);

  // The sign-in page, and a wrong password shown in place.
  await laptop.page.goto('/login');
  await shoot(laptop.page, 'login-desktop');
  await phone.page.goto('/login');
  await shoot(phone.page, 'login-phone');
  await laptop.page.fill('#password', 'wrong');
  await laptop.page.click('button[type=submit]');
  await assert.doesNotReject(laptop.page.locator('#status.error').waitFor());
  assert.match(await laptop.page.textContent('#status'), /Wrong user or password/);

  // Who the origin sees: the user header and the verified assertion claims.
  await signIn(laptop.page, 'alice');
  assert.equal(await laptop.page.textContent('#user'), 'alice');
  assert.equal(await laptop.page.textContent('#greeting'), 'Hello, alice');
  const claims = await laptop.page.locator('#claims dd').allTextContents();
  assert.ok(claims.includes('sessiongate') && claims.includes('alice') && claims.includes('{"role":"admin"}'), claims.join(' | '));
  await shoot(laptop.page, 'app-desktop');

  await signIn(phone.page, 'alice');
  await shoot(phone.page, 'app-phone');

  // The sessions page on the laptop lists both devices, this one marked.
  await laptop.page.click('#sessions-link');
  await laptop.page.waitForURL('**/.sessiongate/sessions');
  const rows = laptop.page.locator('#sessions li');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  assert.match(await rows.nth(0).textContent(), /This device/);
  assert.match(await rows.nth(1).textContent(), /Safari 18 on iPhone/);
  await shoot(laptop.page, 'sessions-desktop');

  await phone.page.goto('/.sessiongate/sessions');
  await phone.page.locator('#sessions li').nth(1).waitFor();
  await shoot(phone.page, 'sessions-phone');

  // Sign the phone out from the laptop; the phone is refused from then on.
  await rows.nth(1).locator('button').click();
  await laptop.page.locator('#status', { hasText: 'Signed out Safari 18 on iPhone' }).waitFor();
  await laptop.page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
  assert.equal(await laptop.page.isHidden('#revoke-others'), true, 'no other session left');
  const refused = await phone.page.goto('/app');
  assert.equal(refused.status(), 401);
  assert.equal((await refused.json()).error, 'unknown_session');

  // Sign out on the laptop: back to the sign-in page, and the app is refused.
  await laptop.page.goto('/app');
  await laptop.page.locator('#verified').waitFor({ state: 'visible' });
  await Promise.all([laptop.page.waitForURL((url) => url.pathname === '/'), laptop.page.click('#sign-out')]);
  const afterSignOut = await laptop.page.goto('/app');
  assert.equal(afterSignOut.status(), 401);

  assert.deepEqual([...laptop.problems, ...phone.problems], []);
  await laptop.context.close();
  await phone.context.close();
});

test('sign out all other sessions from the sessions page', async () => {
  const devices = [await device(DESKTOP), await device(PHONE), await device(DESKTOP)];
  for (const { page } of devices) await signIn(page, 'bob');
  const [here, ...others] = devices;
  await here.page.goto('/.sessiongate/sessions');
  await here.page.locator('#sessions li').nth(2).waitFor();
  await here.page.click('#revoke-others');
  await here.page.locator('#status', { hasText: 'Signed out 2 other sessions.' }).waitFor();
  await here.page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
  for (const { page } of others) assert.equal((await page.goto('/app')).status(), 401);
  assert.equal((await here.page.goto('/app')).status(), 200);

  // Signed out: the sessions page says so instead of failing.
  await here.page.goto('/.sessiongate/sessions');
  await Promise.all([here.page.waitForURL((url) => url.pathname === '/'), here.page.click('#sign-out')]);
  await here.page.goto('/.sessiongate/sessions');
  await here.page.locator('#summary', { hasText: 'You are not signed in.' }).waitFor();
  assert.equal(await here.page.textContent('#status'), '');
  await shoot(here.page, 'sessions-signed-out');
  for (const { context } of devices) await context.close();
});
