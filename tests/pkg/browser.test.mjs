// The primitives in a real browser: Debian's Chromium (headless, driven by playwright-core) loads
// the package's default entry over HTTP from 127.0.0.1, which fetches and instantiates the Wasm
// with top-level await, and computes the same results as cookie-signature and cookie in Node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import cookieSignature from 'cookie-signature';
import cookie from 'cookie';
import { ROOT } from '../e2e/helpers.mjs';

const PKG = path.join(ROOT, 'pkg');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
let server;
let baseUrl;
let browser;
let profile;

before(async () => {
  server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<!doctype html><title>sessiongate primitives</title>');
    }
    const file = path.join(PKG, path.normalize(pathname));
    if (!file.startsWith(PKG + path.sep) || !fs.existsSync(file)) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    return fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-chromium-'));
  // A fresh profile directory per run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve());
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

test('in Chromium: sign, unsign, parseCookie, serializeCookie and session ids match Node\'s references', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(baseUrl);
  const secret = 'a browser-side secret';
  const values = ['', 'hello', 'ünïcödé 🍪', 'dots.in.value', 'wYw8-Kb-TwTMYhkXnQr6qGMr2DDaiMHR'];
  const signedInputs = values.flatMap((v) => {
    const good = cookieSignature.sign(v, secret);
    return [good, `${good}x`, good.slice(0, -1), `${good}=`];
  });
  const headers = ['a=1; b=%20x; a=2', 'sid=s%3Aabc.def; theme="dark"', '=', 'bad=%zz'];
  const result = await page.evaluate(async ({ values, signedInputs, headers, secret }) => {
    const sg = await import('/src/browser.js');
    return {
      signed: values.map((v) => sg.sign(v, secret)),
      unsigned: signedInputs.map((s) => sg.unsign(s, secret)),
      bytesSecret: sg.sign('v', new TextEncoder().encode(secret)),
      parsed: headers.map((h) => ({ ...sg.parseCookie(h) })),
      setCookie: sg.serializeCookie('sid', 's:a b', { httpOnly: true, sameSite: 'lax', maxAge: 60 }),
      ids: [sg.generateSessionId(), sg.generateSessionId()],
    };
  }, { values, signedInputs, headers, secret });
  assert.deepEqual(errors, []);
  assert.deepEqual(result.signed, values.map((v) => cookieSignature.sign(v, secret)));
  assert.deepEqual(result.unsigned, signedInputs.map((s) => cookieSignature.unsign(s, secret)));
  assert.ok(result.unsigned.some((r) => r !== false) && result.unsigned.some((r) => r === false));
  assert.equal(result.bytesSecret, cookieSignature.sign('v', secret));
  assert.deepEqual(result.parsed, headers.map((h) => ({ ...cookie.parse(h) })));
  assert.equal(result.setCookie, cookie.serialize('sid', 's:a b', { httpOnly: true, sameSite: 'lax', maxAge: 60 }));
  for (const id of result.ids) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(result.ids[0], result.ids[1]);
  await page.close();
});
