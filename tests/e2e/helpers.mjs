// Shared harness of the end-to-end tests: the real Worker (build/index.js + Wasm) in workerd via
// Miniflare with local KV, real HTTP origins on 127.0.0.1, and a raw HTTP client.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { Log, LogLevel, Miniflare } from 'miniflare';
import signature from 'cookie-signature';
import { startDemoOrigin } from '../../scripts/demo-origin.mjs';

export { startDemoOrigin };
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'build');
export const SESSION_SECRET = 'e2e-session-secret-0123456789abcdefghij';
export const OLD_SECRET = 'e2e-previous-secret-0123456789abcdefghi';
export const ASSERTION_SECRET = 'e2e-assertion-secret-0123456789abcdefgh';
export const UA = 'Mozilla/5.0 (X11; Linux x86_64) e2e/1.0';
export const COOKIE = 'sessiongate';

const KV_WRAPPER = readFileSync(new URL('./fixtures/kv-wrapper.mjs', import.meta.url), 'utf8');
/** wrangler.toml's compatibility_date: the Worker runs in the tests as it is deployed. */
export const COMPATIBILITY_DATE = (() => {
  const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const date = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml)?.[1];
  if (!date) throw new Error('wrangler.toml has no compatibility_date = "YYYY-MM-DD"');
  return date;
})();

/**
 * Starts the gateway Worker (build/index.js and its Wasm) in workerd. `vars` override the defaults
 * below (a value of `undefined` removes the setting). KV:
 * - by default SESSIONS is a plain local KV namespace;
 * - `countKv: true` puts a wrapper in front of it that reports every operation to `kvOps`
 *   (e.g. `['get', 'put']`), to prove that some requests never touch KV;
 * - `kvFault: 'error' | 'hang'` replaces it with a binding whose every operation rejects or never
 *   settles (`kvOps` still records the attempts);
 * - with either option, `setKvMode(mode)` switches the wrapper at run time ('pass', 'error',
 *   'hang'; 'put-error': writes reject; 'cached': reads answer what the gateway last read,
 *   ignoring later writes and deletes, like KV's per-location cache; 'key-by-key' and
 *   'keys-are-strings': bindings without bulk reads; see fixtures/kv-wrapper.mjs);
 *   `setKvMode(null)` returns to the start-up mode.
 * `kvPersist: dir` keeps KV in that directory, so a gateway started later on it (a restart, e.g.
 * with other settings) sees the same sessions.
 * Returns `{ url, mf, kv(), kvOps, setKvMode(), logs, logEntries, stdout, close() }`; `kv()` is the
 * underlying namespace (for seeding and inspecting records). The Worker's console calls reach a
 * Tail Worker, as they reach Workers Logs and Logpush: `logEntries` holds each call's level and
 * arguments as logged (objects stay objects), `logs` each call's first argument as JSON text,
 * `stdout` the runtime's own output lines; `await settleLogs()` before reading them. `close()` checks every entry with `logProblems` (one
 * object per call, with the fields of docs/operations.md, no Rust debug text) and throws after
 * disposing when one is not: every file that starts a gateway checks every line it caused.
 */
export async function startGateway({ originUrl, vars = {}, kvFault = null, countKv = false, kvPersist } = {}) {
  const bindings = {
    SESSION_SECRET,
    ASSERTION_SECRET,
    ORIGIN_URL: originUrl,
    PUBLIC_PATHS: '/health,/login,/static/*',
    COOKIE_NAME: COOKIE,
    COOKIE_SECURE: 'false',
    ...vars,
  };
  for (const [key, value] of Object.entries(bindings)) {
    if (value === undefined) delete bindings[key];
  }
  const gateway = {
    name: 'gateway',
    modules: true,
    modulesRoot: BUILD,
    scriptPath: path.join(BUILD, 'index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
  };
  const workers = [gateway, {
    name: 'log-tail',
    modules: true,
    script: LOG_TAIL,
    serviceBindings: {
      COLLECT: async (req) => {
        for (const entry of await req.json()) {
          logEntries.push(entry);
          const first = entry.message?.[0];
          logs.push(typeof first === 'string' ? first : JSON.stringify(first));
        }
        return new Response(null, { status: 204 });
      },
    },
  }];
  gateway.tails = ['log-tail'];
  const logEntries = [];
  const kvOps = [];
  let kvMode = null;
  const wrapped = Boolean(kvFault || countKv);
  if (wrapped) {
    // The wrapper and a direct binding share one namespace id, so the test can still read and
    // seed the records the gateway sees. A wrapped-binding worker must not set a compatibility
    // date (it runs with the gateway's).
    gateway.kvNamespaces = { SESSIONS_DIRECT: 'sessions' };
    gateway.wrappedBindings = { SESSIONS: { scriptName: 'kv-wrapper', bindings: { MODE: kvFault ?? 'pass' } } };
    workers.push({
      name: 'kv-wrapper',
      modules: true,
      script: KV_WRAPPER,
      kvNamespaces: { INNER: 'sessions' },
      serviceBindings: {
        PROBE(req) {
          kvOps.push(new URL(req.url).pathname.slice(1));
          return kvMode === null ? new Response(null, { status: 204 }) : new Response(kvMode);
        },
      },
    });
  } else {
    gateway.kvNamespaces = ['SESSIONS'];
  }
  const logs = [];
  const runtimeLines = [];
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false, // no request to workers.cloudflare.com for the `cf` object
    workers,
    ...(kvPersist ? { kvPersist } : {}),
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        let buffered = '';
        stream.on('data', (chunk) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop();
          runtimeLines.push(...lines.filter(Boolean));
        });
      }
    },
  });
  let url;
  try {
    url = (await mf.ready).toString().replace(/\/$/, '');
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
  return {
    url,
    mf,
    logs,
    logEntries,
    stdout: runtimeLines,
    kvOps,
    /** Resolves once the log lines of the requests made so far have arrived. */
    settleLogs: () => logsSettled(logEntries),
    setKvMode(mode) {
      if (!wrapped) throw new Error('setKvMode needs countKv or kvFault');
      kvMode = mode;
    },
    kv: () => mf.getKVNamespace(wrapped ? 'SESSIONS_DIRECT' : 'SESSIONS'),
    async close() {
      await logsSettled(logEntries);
      const problems = logProblems(logEntries);
      await mf.dispose();
      if (problems.length > 0) {
        throw new Error(`log lines not as docs/operations.md says:\n${problems.slice(0, 10).join('\n')}`);
      }
    },
  };
}

// Forwards every console call of the gateway, as Workers Logs would store it.
const LOG_TAIL = `export default {
  async tail(events, env) {
    const entries = events.flatMap((event) => event.logs ?? []).map(({ level, message }) => ({ level, message }));
    if (entries.length > 0) await env.COLLECT.fetch('http://collect/', { method: 'POST', body: JSON.stringify(entries) });
  },
};`;

/**
 * Resolves once the log lines of the requests made so far have arrived: they reach the Tail Worker
 * after each response, so this waits at least 300 ms, then until none has arrived for 150 ms (at
 * most 3 s).
 */
async function logsSettled(entries) {
  const deadline = Date.now() + 3000;
  await new Promise((resolve) => { setTimeout(resolve, 300); });
  let seen = -1;
  while (seen !== entries.length && Date.now() < deadline) {
    seen = entries.length;
    await new Promise((resolve) => { setTimeout(resolve, 150); });
  }
}

/** Fields every request's log line has (docs/operations.md); glue lines have `event` and `level`. */
export const REQUEST_LOG_FIELDS = ['event', 'level', 'status', 'code', 'duration_ms', 'request_id', 'method', 'path', 'sid', 'user', 'secret'];
const DEBUG_TEXT = /Some\(|\bOk\(|\bErr\(|Unavailable\(|\(None\)|: None[,} ]|\(Timeout\)|\bString\(|\w \{ \w+: /;
/**
 * The runtime's own warnings, logged in the Worker's console by workerd itself (not by the
 * gateway, which logs only objects): a Cookie header with non-ASCII bytes, forwarded as it came.
 */
const RUNTIME_WARNINGS = [/^A header value for "[^"]+" contains non-ASCII characters/];

/** What is wrong with each console call of `entries` (`[]`: nothing). */
export function logProblems(entries) {
  const problems = [];
  for (const { level, message } of entries) {
    const text = JSON.stringify(message);
    const [line, ...more] = message ?? [];
    if (more.length === 0 && typeof line === 'string' && level === 'warn' && RUNTIME_WARNINGS.some((w) => w.test(line))) continue;
    if (more.length > 0 || line === null || typeof line !== 'object' || Array.isArray(line)) {
      problems.push(`not one object: ${text}`);
      continue;
    }
    if (typeof line.event !== 'string' || !['info', 'warn', 'error'].includes(line.level)) {
      problems.push(`no event or level: ${text}`);
    }
    const console = { info: 'log', warn: 'warn', error: 'error' }[line.level];
    if (console && level !== console) problems.push(`level ${line.level} logged with console.${level}: ${text}`);
    if ('status' in line || 'path' in line) {
      const missing = REQUEST_LOG_FIELDS.filter((field) => !(field in line));
      if (missing.length > 0) problems.push(`missing ${missing.join(', ')}: ${text}`);
      if (!Number.isInteger(line.duration_ms) || line.duration_ms < 0) problems.push(`duration_ms: ${text}`);
      if (typeof line.path === 'string' && line.path.includes('?')) problems.push(`a query in path: ${text}`);
    }
    if (DEBUG_TEXT.test(text)) problems.push(`Rust debug text: ${text}`);
  }
  return problems;
}

/**
 * One HTTP request with full control over headers (`headers` may be an object or an array of
 * [name, value] pairs, repeated names allowed). Resolves `{ status, headers, body, json() }`;
 * `headers['set-cookie']` is an array.
 */
export function request(baseUrl, method, pathAndQuery, { headers = {}, body } = {}) {
  const target = new URL(baseUrl);
  const pairs = Array.isArray(headers) ? [...headers] : Object.entries(headers);
  // With raw header arrays Node adds no Host header of its own.
  if (!pairs.some(([name]) => name.toLowerCase() === 'host')) pairs.unshift(['host', target.host]);
  const rawHeaders = pairs.flat();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, method, path: pathAndQuery, headers: rawHeaders, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The `name=value` part of the session cookie a response sets, or undefined. */
export function sessionCookie(response, name = COOKIE) {
  const line = (response.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

/** The session id inside a `name=s%3A<id>.<sig>` cookie, verified with cookie-signature. */
export function sessionIdOf(cookie, secret = SESSION_SECRET) {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  if (!value.startsWith('s:')) return false;
  return signature.unsign(value.slice(2), secret);
}

/** A cookie for `id` signed like express-session does. */
export function signedCookie(id, secret = SESSION_SECRET, name = COOKIE) {
  return `${name}=${encodeURIComponent(`s:${signature.sign(id, secret)}`)}`;
}

/**
 * Logs `user` in through the demo origin; returns the session cookie (`name=value`): the one named
 * `name`, or without `name` the one whose value is signed (`s%3A…`), whatever the gateway's
 * COOKIE_NAME.
 */
export async function login(gatewayUrl, user = 'alice', { ua = UA, cookie, name } = {}) {
  const res = await postLogin(gatewayUrl, user, { ua, cookie });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.body}`);
  const set = name
    ? sessionCookie(res, name)
    : (res.headers['set-cookie'] ?? []).find((c) => /^[^=;]+=s%3A/.test(c))?.split(';')[0];
  if (!set) throw new Error(`login set no ${name ?? 'signed'} cookie: ${res.headers['set-cookie']}`);
  return set;
}

/**
 * POSTs the demo origin's JSON login form through the gateway and returns the raw response.
 * `ua: null` sends no User-Agent; `cookie` is sent as the Cookie header when given.
 */
export function postLogin(gatewayUrl, user = 'alice', { ua = UA, cookie, password = 'sessiongate-demo' } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (ua !== null) headers['user-agent'] = ua;
  if (cookie) headers.cookie = cookie;
  return request(gatewayUrl, 'POST', '/login', {
    headers,
    body: JSON.stringify({ username: user, password }),
  });
}

/** A port on 127.0.0.1 with nothing listening on it. */
export async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The stable error code of a refusal. */
export function errorCode(res) {
  try {
    return res.json().error;
  } catch {
    return undefined;
  }
}

/**
 * A test origin with routes the demo origin does not have. Every request is recorded in
 * `requests` ({ method, url, headers, body }).
 * - `/control` (and any path ending in `/control`): answers 200 with the control headers the request asks for: `x-test-login` and
 *   `x-test-logout` carry base64url-encoded header values (each may be repeated, giving repeated
 *   response headers), so any byte sequence can be sent back as `Sessiongate-Login/Logout`;
 * - `/hang`: never answers; `/reset`: destroys the connection;
 * - `/stream`: sends `first\n` at once and `second\n` only after `release()`;
 * - anything else: echoes `{ method, url, headers, body }` as JSON.
 */
export async function startTestOrigin() {
  const requests = [];
  const releases = [];
  const decode = (value) => [value ?? []].flat().flatMap((v) => v.split(','))
    .map((v) => Buffer.from(v.trim(), 'base64url').toString('latin1'));
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const { pathname } = new URL(req.url, 'http://origin');
      if (pathname === '/hang') return undefined;
      if (pathname === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first\n');
        return releases.push(() => res.end('second\n'));
      }
      if (pathname === '/reset') return req.socket.destroy();
      if (pathname === '/control' || pathname.endsWith('/control')) {
        const headers = [['content-type', 'application/json']];
        for (const v of decode(req.headers['x-test-login'])) headers.push(['Sessiongate-Login', v]);
        for (const v of decode(req.headers['x-test-logout'])) headers.push(['Sessiongate-Logout', v]);
        res.writeHead(200, headers.flat());
        return res.end('{"ok":true}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Lets every `/stream` response waiting for it finish. */
    release: () => releases.splice(0).forEach((finish) => finish()),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** `Buffer.from(text).toString('base64url')`, for `x-test-login` / `x-test-logout`. */
export const b64url = (text) => Buffer.from(text, 'latin1').toString('base64url');

/** The SHA-256 of a User-Agent as the session record stores it (base64url, no padding). */
export function uaHash(ua) {
  return createHash('sha256').update(ua, 'utf8').digest('base64url');
}

/**
 * Writes a session record for `id` into `kv` with the README's schema (and its per-user index
 * key), as if the gateway had created it at `created`. `overrides` replace fields of the record.
 */
export async function seedSession(kv, id, { user = 'alice', data = { role: 'admin' }, ua = UA, overrides = {} } = {}) {
  const now = Date.now();
  const record = {
    v: 1,
    user,
    data,
    ua: ua === null ? null : uaHash(ua),
    created: now,
    last_seen: now,
    idle_expires: now + 1800 * 1000,
    absolute_expires: now + 86400 * 1000,
    ...overrides,
  };
  await kv.put(`sess:${id}`, JSON.stringify(record), { expirationTtl: 3600 });
  await kv.put(`user:${Buffer.from(user).toString('base64url')}:${id}`, '', { expirationTtl: 3600 });
  return record;
}

/** Parses one `Set-Cookie` line into `{ name, value, attrs }` (attribute names lowercased). */
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const attr of rest) {
    const i = attr.indexOf('=');
    if (i === -1) attrs[attr.toLowerCase()] = true;
    else attrs[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs };
}

/** Whether a response clears the session cookie `name` (empty value, Max-Age=0 or a past Expires). */
export function clearsCookie(res, name = COOKIE) {
  return (res.headers['set-cookie'] ?? []).some((line) => {
    const { name: n, value, attrs } = parseSetCookie(line);
    return n === name && value === '' && (attrs['max-age'] === '0' || Date.parse(attrs.expires) < Date.now());
  });
}

/**
 * Asks a test origin (startTestOrigin) behind `gatewayUrl` to answer `path` with the given control
 * headers: `login` / `logout` are one value or an array of values for `Sessiongate-Login/Logout`.
 */
export function controlRequest(gatewayUrl, path, { login: logins = [], logout = [], cookie, method = 'POST', ua = UA } = {}) {
  const headers = [['user-agent', ua]];
  if (cookie) headers.push(['cookie', cookie]);
  for (const v of [logins].flat()) headers.push(['x-test-login', b64url(v)]);
  for (const v of [logout].flat()) headers.push(['x-test-logout', b64url(v)]);
  return request(gatewayUrl, method, path, { headers });
}

/**
 * Logs `user` in through a test origin's public `/control` route (PUBLIC_PATHS must list it);
 * returns the session cookie (`name=value`).
 */
export async function loginViaControl(gatewayUrl, user, data, { ua = UA } = {}) {
  const instruction = JSON.stringify(data === undefined ? { user } : { user, data });
  const res = await controlRequest(gatewayUrl, '/control', { login: instruction, ua });
  const cookie = sessionCookie(res);
  if (res.status !== 200 || !cookie) throw new Error(`login failed: ${res.status} ${res.body}`);
  return cookie;
}

/** `text` with the character at `index` replaced by another one of the same alphabet class. */
export function flipChar(text, index) {
  const c = text[index];
  const other = c === 'A' ? 'B' : c === '0' ? '1' : /[a-z]/.test(c) ? (c === 'a' ? 'b' : 'a') : 'A';
  return text.slice(0, index) + other + text.slice(index + 1);
}

/**
 * Sends `text` as is over a TCP connection to the gateway (for bytes an HTTP client refuses to
 * send: bare CR or LF, folded lines, odd request targets). Resolves `{ status, raw }`.
 */
export function rawRequest(gatewayUrl, text) {
  const { hostname, port } = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(text));
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), raw });
    });
  });
}

/**
 * Starts a test origin (startTestOrigin) and a gateway in front of it for the calling test file,
 * and stops both after the file's tests. `gatewayOptions` are startGateway's, without `originUrl`.
 * Use with top-level await: `const { origin, gateway } = await originAndGateway({ countKv: true });`
 */
export async function originAndGateway(gatewayOptions = {}) {
  const origin = await startTestOrigin();
  let gateway;
  try {
    gateway = await startGateway({ originUrl: origin.url, ...gatewayOptions });
  } catch (error) {
    await origin.close();
    throw error;
  }
  after(async () => {
    try {
      await gateway.close();
    } finally {
      await origin.close();
    }
  });
  return { origin, gateway };
}
