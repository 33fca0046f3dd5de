// A small demo origin API for sessiongate, using only Node's standard library. It also serves the
// demo app's pages from www/ (sign-in at / and /login, "who the origin sees" at /app).
//
// It decides who logs in (answering with the `Sessiongate-Login` control header), logs out
// (`Sessiongate-Logout`), and shows what it sees behind the gateway: the user header and the
// verified assertion claims. Run directly: `node scripts/demo-origin.mjs` listens on
// 127.0.0.1:$DEMO_ORIGIN_PORT (default 8788) and verifies assertions with $ASSERTION_SECRET.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
// The npm package's return-path rules (no dependencies): where to go after signing in.
import { returnTo } from '../pkg/src/return-path.js';

export const DEMO_PASSWORD = 'sessiongate-demo';
const DEMO_USERS = {
  alice: { role: 'admin' },
  bob: { role: 'user' },
};

/**
 * Verifies an HS256 JWT with `secret`; returns `{ claims }` or `{ error }`. Written by hand only so
 * that the demo runs with nothing installed: a real origin uses the npm package's verifier
 * (`sessiongate/express`, `sessiongate/origin`) or `jose` (SECURITY.md, "The origin must check the
 * assertion").
 */
export function verifyAssertion(token, secret, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (!token) return { error: 'missing' };
  const parts = token.split('.');
  if (parts.length !== 3) return { error: 'malformed' };
  const [header, payload, signature] = parts;
  let parsedHeader;
  try {
    parsedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return { error: 'malformed' };
  }
  if (parsedHeader.alg !== 'HS256') return { error: 'wrong algorithm' };
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { error: 'bad signature' };
  }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (claims.iss !== 'sessiongate') return { error: 'wrong issuer' };
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds) return { error: 'expired' };
  return { claims };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseCredentials(body, contentType = '') {
  if (contentType.includes('application/json')) {
    try {
      return JSON.parse(body);
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

const WWW = new URL('../www/', import.meta.url);
/** Pages and assets of the demo app, by request path: www/demo/ and the shared stylesheet. */
const STATIC_FILES = {
  '/': ['demo/login.html', 'text/html; charset=utf-8'],
  '/login': ['demo/login.html', 'text/html; charset=utf-8'],
  '/app': ['demo/app.html', 'text/html; charset=utf-8'],
  '/static/style.css': ['shared/style.css', 'text/css; charset=utf-8'],
  '/static/login.js': ['demo/login.js', 'text/javascript; charset=utf-8'],
  '/static/app.js': ['demo/app.js', 'text/javascript; charset=utf-8'],
};

/**
 * Starts the demo origin. Returns `{ server, port, url, requests, close }`; `requests` records
 * every request the origin received (method, url, headers, body), for tests.
 */
export async function startDemoOrigin({
  port = 0,
  host = '127.0.0.1',
  assertionSecret,
  userHeader = 'x-sessiongate-user',
  assertionHeader = 'x-sessiongate-assertion',
} = {}) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body });
    const path = new URL(req.url, 'http://origin').pathname;

    if (path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok');
    }
    if (STATIC_FILES[path] && (req.method === 'GET' || req.method === 'HEAD')) {
      const [file, type] = STATIC_FILES[path];
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      return res.end(req.method === 'HEAD' ? undefined : await readFile(new URL(file, WWW)));
    }
    if (path === '/login' && req.method === 'POST') {
      const isForm = !(req.headers['content-type'] ?? '').includes('application/json');
      const { username, password } = parseCredentials(body, req.headers['content-type']);
      const data = DEMO_USERS[username];
      if (!data || password !== DEMO_PASSWORD) {
        return json(res, 401, { ok: false, error: 'Wrong user or password.' });
      }
      const login = { 'Sessiongate-Login': JSON.stringify({ user: username, data }) };
      // Back where the gateway's sign-in redirect came from (LOGIN_URL's return_to), made safe;
      // the app page otherwise.
      const next = returnTo(req, { fallback: '/app' });
      if (isForm) {
        // A plain HTML form post (no JavaScript).
        res.writeHead(303, { location: next, ...login });
        return res.end();
      }
      return json(res, 200, { ok: true, user: username, next }, login);
    }
    if (path === '/logout' && req.method === 'POST') {
      return json(res, 200, { ok: true }, { 'Sessiongate-Logout': 'session' });
    }
    if (path === '/logout-all' && req.method === 'POST') {
      return json(res, 200, { ok: true }, { 'Sessiongate-Logout': 'all' });
    }
    if (path === '/whoami') {
      const token = req.headers[assertionHeader.toLowerCase()];
      const verified = assertionSecret ? verifyAssertion(token, assertionSecret) : { error: 'no ASSERTION_SECRET' };
      return json(res, 200, {
        user: req.headers[userHeader.toLowerCase()] ?? null,
        assertion: verified.claims ?? null,
        assertionError: verified.error ?? null,
      });
    }
    if (path === '/echo' || path.startsWith('/echo/')) {
      return json(res, 200, { method: req.method, url: req.url, headers: req.headers, body });
    }
    return json(res, 404, { error: 'not found' });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  return {
    server,
    port: actualPort,
    url: `http://${host}:${actualPort}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.DEMO_ORIGIN_PORT ?? 8788);
  const origin = await startDemoOrigin({ port, assertionSecret: process.env.ASSERTION_SECRET });
  console.log(`demo origin listening on ${origin.url}`);
}
