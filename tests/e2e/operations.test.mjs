// Operating the gateway (issue 21) through the real Worker in workerd with local KV: the health
// check, the log line (one object per request, read the way Workers Logs and Tail Workers receive
// it), the operators' admin API and its command line, and MAX_SESSIONS_PER_USER.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  REQUEST_LOG_FIELDS, ROOT, UA, controlRequest, errorCode, logProblems, loginViaControl, request, sessionIdOf,
  startGateway, startTestOrigin,
} from './helpers.mjs';

const OPS_TOKEN = 'e2e-operator-token-0123456789abcdefghij';
const ADMIN_TOKENS = JSON.stringify({ 'ops-e2e': OPS_TOKEN });
const G = '/.sessiongate';
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

const origin = await startTestOrigin();
const gateways = [];
after(async () => {
  try {
    for (const g of gateways) await g.close();
  } finally {
    await origin.close();
  }
});
async function gatewayWith(vars = {}) {
  const gateway = await startGateway({ originUrl: origin.url, vars: { PUBLIC_PATHS: '/health,/control,/static/*', ...vars } });
  gateways.push(gateway);
  return gateway;
}
const main = await gatewayWith({ ADMIN_TOKENS, MAX_SESSIONS_PER_USER: '3' });
const auth = { authorization: `Bearer ${OPS_TOKEN}` };
/** The log objects whose field `name` is `value`. */
const linesWhere = (gateway, name, value) => gateway.logEntries.map((e) => e.message[0]).filter((l) => l?.[name] === value);

describe('health', () => {
  test('200 with a valid configuration, no version, no secrets, no KV read', async () => {
    const res = await request(main.url, 'GET', `${G}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok', config: 'ok' });
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('503 with an invalid configuration (and the version when asked for)', async () => {
    const broken = await gatewayWith({ SESSION_SECRET: 'too-short', HEALTH_SHOW_VERSION: 'true' });
    const res = await request(broken.url, 'GET', `${G}/health`);
    assert.equal(res.status, 503);
    assert.equal(res.json().status, 'unavailable');
    assert.match(res.json().version, /^\d+\.\d+\.\d+/);
    assert.ok(!res.body.includes('SESSION_SECRET') && !res.body.includes('too-short'), res.body);
  });

  test('the deep check reads KV for an operator; others get a result at most 10 s old, or 401', async () => {
    const fresh = await gatewayWith({ ADMIN_TOKENS });
    assert.equal((await request(fresh.url, 'GET', `${G}/health?deep=1`)).status, 401);
    const deep = await request(fresh.url, 'GET', `${G}/health?deep=1`, { headers: auth });
    assert.equal(deep.status, 200, deep.body);
    assert.equal(deep.json().kv, 'ok');
    const cached = await request(fresh.url, 'GET', `${G}/health?deep=1`);
    assert.equal(cached.status, 200);
    assert.ok(cached.json().kv_checked_ms_ago <= 10_000);
  });
});

describe('logs', () => {
  test('one object per request with every field, the cf-ray as request id, no query, no id', async () => {
    const cookie = await loginViaControl(main.url, 'logged');
    const id = sessionIdOf(cookie);
    await request(main.url, 'GET', '/echo?token=query-secret', {
      headers: { cookie, 'user-agent': UA, 'cf-ray': '8f00aa11bb22cc33-AMS' },
    });
    await request(main.url, 'GET', '/echo', { headers: { cookie: 'sessiongate=s%3Ajunk.sig' } });
    await request(main.url, 'GET', '/static/app.js');
    await main.settleLogs();
    const lines = main.logEntries.map((e) => e.message[0]);
    const forwarded = lines.find((l) => l.request_id === '8f00aa11bb22cc33-AMS');
    assert.ok(forwarded, JSON.stringify(lines));
    for (const field of REQUEST_LOG_FIELDS) assert.ok(field in forwarded, `${field} in ${JSON.stringify(forwarded)}`);
    assert.equal(forwarded.event, 'forward');
    assert.equal(forwarded.path, '/echo');
    assert.equal(forwarded.user, 'logged');
    assert.equal(forwarded.secret, 'current');
    assert.equal(typeof forwarded.sid, 'string');
    assert.equal(forwarded.level, 'info');
    assert.ok(lines.some((l) => l.code === 'invalid_session_cookie' && l.level === 'warn'));
    assert.ok(lines.some((l) => l.path === '/static/app.js'), 'public paths are logged by default');
    assert.deepEqual(logProblems(main.logEntries), []);
    for (const text of main.logs) {
      assert.ok(!text.includes(id), text);
      assert.ok(!text.includes('query-secret'), text);
    }
  });

  test('LOG_PUBLIC_PATHS=false quiets plain forwards on public paths, not refusals', async () => {
    const quiet = await gatewayWith({ LOG_PUBLIC_PATHS: 'false' });
    await request(quiet.url, 'GET', '/static/app.js');
    await request(quiet.url, 'GET', '/echo');
    await quiet.settleLogs();
    assert.equal(linesWhere(quiet, 'path', '/static/app.js').length, 0, quiet.logs.join('\n'));
    assert.equal(linesWhere(quiet, 'path', '/echo').length, 1);
  });
});

describe('admin API', () => {
  test('absent without ADMIN_TOKENS: the ordinary 404', async () => {
    const plain = await gatewayWith();
    const res = await request(plain.url, 'GET', `${G}/admin/sessions?user=alice`, { headers: auth });
    assert.equal(res.status, 404);
    assert.equal(errorCode(res), 'not_found');
  });

  test('list, end one, end all, by handle; answers carry no id; logged with the operator', async () => {
    const cookies = [];
    for (let i = 0; i < 2; i += 1) cookies.push(await loginViaControl(main.url, 'carol'));
    assert.equal((await request(main.url, 'GET', `${G}/admin/sessions?user=carol`)).status, 401);
    const list = await request(main.url, 'GET', `${G}/admin/sessions?user=carol`, { headers: auth });
    assert.equal(list.status, 200, list.body);
    assert.equal(list.json().total, 2);
    for (const cookie of cookies) assert.ok(!list.body.includes(sessionIdOf(cookie)), 'no session id');
    const [first] = list.json().sessions;
    const end = await request(main.url, 'DELETE', `${G}/admin/sessions/${first.handle}?user=carol`, { headers: auth });
    assert.deepEqual(end.json(), { ok: true, ended: 1, remaining: 0 });
    const all = await request(main.url, 'POST', `${G}/admin/sessions/end-all?user=carol`, { headers: auth });
    assert.deepEqual(all.json(), { ok: true, ended: 1, remaining: 0 });
    for (const cookie of cookies) {
      assert.equal((await request(main.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 401);
    }
    await main.settleLogs();
    const admin = linesWhere(main, 'event', 'admin').filter((l) => l.user === 'carol' && l.status === 200);
    assert.equal(admin.length, 3);
    assert.ok(admin.every((l) => l.operator === 'ops-e2e'));
    assert.ok(!main.logs.join('\n').includes(OPS_TOKEN), 'never the token');
  });

  test('the command line lists and ends sessions with the token from the environment only', async () => {
    const cli = path.join(ROOT, 'pkg/src/bin/sessiongate.js');
    const env = { ...process.env, SESSIONGATE_ADMIN_TOKEN: OPS_TOKEN };
    const run = (args, options = { env }) => promisify(execFile)(process.execPath, [cli, ...args], options)
      .then(({ stdout }) => ({ code: 0, stdout }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
    await loginViaControl(main.url, 'dave');
    const cookie = await loginViaControl(main.url, 'dave');
    const listed = await run(['sessions', 'list', '--user', 'dave', '--url', main.url, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout);
    assert.equal(page.total, 2);
    const handle = page.sessions[1].handle;
    const one = await run(['sessions', 'end', '--user', 'dave', '--session', handle, '--url', main.url]);
    assert.equal(one.code, 0, one.stderr);
    const all = await run(['sessions', 'end', '--user', 'dave', '--all', '--url', main.url]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /ended 1 session/);
    assert.equal((await request(main.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 401);

    const withArgToken = await run(['sessions', 'list', '--user', 'dave', '--url', main.url, '--token', OPS_TOKEN]);
    assert.equal(withArgToken.code, 2);
    assert.match(withArgToken.stderr, /SESSIONGATE_ADMIN_TOKEN only/);
    const noToken = await run(['sessions', 'list', '--user', 'dave', '--url', main.url], { env: { PATH: process.env.PATH } });
    assert.equal(noToken.code, 2);
    const plain = await run(['sessions', 'list', '--user', 'dave', '--url', 'http://gateway.example.com']);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /refusing plain http:\/\//);
    const wrong = await run(['sessions', 'list', '--user', 'dave', '--url', main.url], { env: { ...env, SESSIONGATE_ADMIN_TOKEN: 'x'.repeat(40) } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401 \(admin_unauthorized/);
  });
});

describe('MAX_SESSIONS_PER_USER', () => {
  test('a login beyond the cap ends the oldest sessions, by the index metadata', async () => {
    const cookies = [];
    for (let i = 0; i < 5; i += 1) {
      cookies.push(await loginViaControl(main.url, 'erin'));
      await sleep(5); // distinct creation times
    }
    const status = async (cookie) => (await request(main.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status;
    assert.deepEqual(await Promise.all(cookies.map(status)), [401, 401, 200, 200, 200]);
    const kv = await main.kv();
    const listed = await kv.list({ prefix: `user:${Buffer.from('erin').toString('base64url')}:` });
    assert.equal(listed.keys.length, 3);
    for (const key of listed.keys) assert.equal(typeof key.metadata?.c, 'number', JSON.stringify(key));
  });
});

test('a login through the control route is logged with its event', async () => {
  await controlRequest(main.url, '/control', { login: JSON.stringify({ user: 'frank' }) });
  await main.settleLogs();
  assert.ok(linesWhere(main, 'event', 'login').some((l) => l.user === 'frank'));
});
