// Taking over express-session's cookies in a real browser (Debian's Chromium, headless, through
// playwright-core): the browser holds TWO same-name `connect.sid` cookies from the express-session
// era, one host-only and one with `Domain=sessiongate.test`, both signed with `keyboard cat`. The
// real Worker in workerd, with COOKIE_DOMAIN=sessiongate.test and the tutorial secret only as a
// fenced weak previous secret, serves the user and leaves the browser with ONE cookie, signed with
// the current secret; a gateway restarted without the old secret then logs nobody out.
//
// Hosts: a Domain cookie needs a name with a registrable parent, and COOKIE_DOMAIN requires
// COOKIE_SECURE=true, so the cookie is `Secure`, which Chromium stores and sends only for secure
// origins. Chromium resolves `*.sessiongate.test` to 127.0.0.1 (--host-resolver-rules) and treats
// the two http origins the test uses as secure (--unsafely-treat-insecure-origin-as-secure): no TLS
// in the test, the cookie rules of a secure site. Cookies ignore ports, so the old app (its own
// port) and the gateway (another) share the host's cookies as one site would.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { SESSION_SECRET, sessionIdOf, startGateway } from '../e2e/helpers.mjs';
import { CONNECT_SID, TUTORIAL_SECRET, importSessions, startExpressApp, utcDate } from '../e2e/fixtures/express-app.mjs';

const HOST = 'app.sessiongate.test';
const DOMAIN = 'sessiongate.test';
const cleanups = [];
let browser;
let hostOnlyApp; // the app before it set a Domain on its cookie
let domainApp; // the same app after (same store, same secret)
let gateway;
let kvDir;

/** A gateway in front of the app; `vars` add to the takeover settings. */
async function startTakeoverGateway(vars) {
  const started = await startGateway({
    originUrl: domainApp.url,
    kvPersist: kvDir,
    vars: { PUBLIC_PATHS: '/login', COOKIE_NAME: CONNECT_SID, COOKIE_SECURE: 'true', COOKIE_DOMAIN: DOMAIN, ...vars },
  });
  return started;
}

before(async () => {
  hostOnlyApp = await startExpressApp();
  cleanups.push(hostOnlyApp.close);
  domainApp = await startExpressApp({ cookie: { domain: DOMAIN } });
  cleanups.push(domainApp.close);
  kvDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-browser-takeover-'));
  cleanups.push(() => fs.rmSync(kvDir, { recursive: true, force: true }));
  gateway = await startTakeoverGateway({
    SESSION_SECRETS_PREVIOUS: JSON.stringify([TUTORIAL_SECRET]),
    ALLOW_WEAK_PREVIOUS_SECRETS: utcDate(7),
  });
  const port = (url) => new URL(url).port;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`,
      `--unsafely-treat-insecure-origin-as-secure=${[hostOnlyApp, domainApp, gateway]
        .map((s) => `http://${HOST}:${port(s.url)}`).join(',')}`,
    ],
  });
});

after(async () => {
  await browser?.close();
  await gateway?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The browser's cookies named connect.sid, with the id and the secret each is signed with. */
async function sessionCookies(context) {
  return (await context.cookies()).filter((c) => c.name === CONNECT_SID).map((c) => {
    const cookie = `${c.name}=${c.value}`;
    const byCurrent = sessionIdOf(cookie, SESSION_SECRET);
    const byTutorial = sessionIdOf(cookie, TUTORIAL_SECRET);
    return {
      domain: c.domain,
      hostOnly: !c.domain.startsWith('.'),
      secure: c.secure,
      id: byCurrent || byTutorial,
      signedWith: byCurrent ? 'current' : byTutorial ? TUTORIAL_SECRET : 'other',
    };
  });
}

/** Logs in through express-session itself, from the browser (the app's page, its fetch). */
async function legacyLogin(page, app, user) {
  await page.goto(`http://${HOST}:${new URL(app.url).port}/legacy/me`);
  const result = await page.evaluate(async (username) => {
    const res = await fetch('/legacy/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    });
    return res.json();
  }, user);
  assert.deepEqual(result, { ok: true, user });
}

async function whoAmI(page, gatewayUrl) {
  const res = await page.goto(`http://${HOST}:${new URL(gatewayUrl).port}/me`);
  return { status: res.status(), body: await res.json() };
}

test('two same-name express-session cookies (host-only and Domain) end as one cookie under the current secret; removing the old secret logs nobody out', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  // The express-session era: a host-only cookie from before the app set a Domain, then one with it.
  await legacyLogin(page, hostOnlyApp, 'alice');
  await legacyLogin(page, domainApp, 'alice');
  const before = await sessionCookies(context);
  assert.deepEqual(before.map((c) => [c.domain, c.signedWith]).sort(), [[`.${DOMAIN}`, TUTORIAL_SECRET], [HOST, TUTORIAL_SECRET]]);
  // Both sessions move to the gateway's KV (one store per app instance here; one store in an app).
  const ua = await page.evaluate(() => navigator.userAgent);
  const kv = await gateway.kv();
  for (const app of [hostOnlyApp, domainApp]) {
    const sessions = await app.sessions();
    for (const sess of Object.values(sessions)) assert.equal(sess.userAgent, ua);
    await importSessions(kv, sessions);
  }

  const first = await whoAmI(page, gateway.url);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.user, 'alice');
  assert.equal(first.body.cookie, null, 'neither connect.sid reaches the app');
  // One more request, as a user clicks on: the state the browser settles in.
  assert.equal((await whoAmI(page, gateway.url)).status, 200);
  const after = await sessionCookies(context);
  assert.equal(after.length, 1, JSON.stringify(after));
  assert.deepEqual(
    { domain: after[0].domain, secure: after[0].secure, signedWith: after[0].signedWith },
    { domain: `.${DOMAIN}`, secure: true, signedWith: 'current' },
  );
  assert.ok(before.some((c) => c.id === after[0].id), 'one of the old sessions, under the same id');

  // The operator removes the tutorial secret: a restarted gateway on the same KV still serves alice.
  await gateway.close();
  gateway = await startTakeoverGateway({});
  // The restarted gateway listens on a new port: allow it as a secure origin in a new browser.
  const relaunched = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`,
      `--unsafely-treat-insecure-origin-as-secure=http://${HOST}:${new URL(gateway.url).port}`,
    ],
  });
  try {
    const sameBrowser = await relaunched.newContext({ storageState: await context.storageState() });
    const again = await whoAmI(await sameBrowser.newPage(), gateway.url);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.user, 'alice');
    assert.equal((await sessionCookies(sameBrowser)).length, 1);
  } finally {
    await relaunched.close();
  }
  await context.close();
});
