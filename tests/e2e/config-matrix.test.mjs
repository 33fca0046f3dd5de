// Every kind of configuration error, one Worker each (configuration is read once per isolate;
// about 0.3 s per instance): the gateway fails closed with 500 `misconfigured` on non-public paths,
// still serves public paths when only the session half is broken, forwards nothing otherwise, and
// never puts a secret into a response or a log line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ASSERTION_SECRET, SESSION_SECRET, UA, errorCode, login, request, seedSession, signedCookie,
  startDemoOrigin, startGateway,
} from './helpers.mjs';

let origin;
before(async () => {
  origin = await startDemoOrigin({ assertionSecret: ASSERTION_SECRET });
});
after(async () => {
  await origin?.close();
});

/** Runs `check(gateway)` against a gateway started with `vars`, then stops it. */
async function withGateway(vars, check, { originUrl } = {}) {
  const gateway = await startGateway({ originUrl: originUrl ?? origin.url, vars });
  try {
    await check(gateway);
  } finally {
    await gateway.close();
  }
}

const ID = 'config-test-session-id-000000000000000000';

/** A non-public request carrying a well-signed cookie for a session that exists in KV. */
async function protectedRequest(gateway, secret = SESSION_SECRET) {
  await seedSession(await gateway.kv(), ID);
  return request(gateway.url, 'GET', '/echo', { headers: { cookie: signedCookie(ID, secret), 'user-agent': UA } });
}

function assertMisconfigured(res, what) {
  assert.equal(res.status, 500, `${what}: ${res.status} ${res.body}`);
  assert.equal(errorCode(res), 'misconfigured', what);
}

/** The session half is broken; forwarding is fine: public paths work, nothing else does. */
const sessionHalfBroken = {
  'SESSION_SECRET missing': { SESSION_SECRET: undefined },
  'SESSION_SECRET empty': { SESSION_SECRET: '' },
  'SESSION_SECRET of 31 bytes': { SESSION_SECRET: 'a'.repeat(31) },
  'ASSERTION_SECRET missing': { ASSERTION_SECRET: undefined },
  'ASSERTION_SECRET of 31 bytes': { ASSERTION_SECRET: 'b'.repeat(31) },
  'ASSERTION_SECRET equal to SESSION_SECRET': { ASSERTION_SECRET: SESSION_SECRET },
  'ASSERTION_SECRET equal to a previous session secret': {
    SESSION_SECRETS_PREVIOUS: JSON.stringify([ASSERTION_SECRET]),
  },
  'SESSION_SECRETS_PREVIOUS with a short secret': { SESSION_SECRETS_PREVIOUS: JSON.stringify(['short']) },
  'SESSION_SECRETS_PREVIOUS not strings': { SESSION_SECRETS_PREVIOUS: '[42]' },
  'IDLE_TIMEOUT not a number': { IDLE_TIMEOUT: 'thirty minutes' },
  'IDLE_TIMEOUT zero': { IDLE_TIMEOUT: '0' },
  'IDLE_TIMEOUT negative': { IDLE_TIMEOUT: '-5' },
  'ABSOLUTE_TIMEOUT below IDLE_TIMEOUT': { IDLE_TIMEOUT: '600', ABSOLUTE_TIMEOUT: '300' },
  'TOUCH_INTERVAL not below IDLE_TIMEOUT': { IDLE_TIMEOUT: '60', TOUCH_INTERVAL: '60' },
  'ASSERTION_TTL above 3600': { ASSERTION_TTL: '3601' },
  'ASSERTION_TTL zero': { ASSERTION_TTL: '0' },
  'COOKIE_SECURE not a boolean': { COOKIE_SECURE: 'yes' },
  'COOKIE_SAMESITE unknown': { COOKIE_SAMESITE: 'Loose' },
  'COOKIE_SAMESITE=None without Secure': { COOKIE_SAMESITE: 'None', COOKIE_SECURE: 'false' },
  '__Host- cookie name without Secure': { COOKIE_NAME: '__Host-sessiongate', COOKIE_SECURE: 'false' },
  'COOKIE_NAME with a space': { COOKIE_NAME: 'my session' },
  'UA_BINDING not a boolean': { UA_BINDING: 'sometimes' },
  'KV_TIMEOUT_MS not a number': { KV_TIMEOUT_MS: 'fast' },
  'SESSION_CACHE_TTL_MS above 30000': { SESSION_CACHE_TTL_MS: '60000' },
  'SESSION_CACHE_TTL_MS negative': { SESSION_CACHE_TTL_MS: '-1' },
};

describe('an invalid session configuration', () => {
  for (const [name, vars] of Object.entries(sessionHalfBroken)) {
    test(`${name}: 500 misconfigured on a non-public path, public paths still served`, async () => {
      await withGateway(vars, async (gateway) => {
        const before = origin.requests.length;
        assertMisconfigured(await protectedRequest(gateway), 'with a valid cookie');
        assertMisconfigured(
          await request(gateway.url, 'GET', '/echo', { headers: { 'user-agent': UA } }),
          'without a cookie',
        );
        assert.equal(origin.requests.length, before, 'nothing was forwarded');
        const health = await request(gateway.url, 'GET', '/health');
        assert.equal(health.status, 200, 'a public path is served');
        assert.equal(health.body, 'ok');
      });
    });
  }
});

/** The forwarding half is broken: nothing can be served, not even public paths. */
const forwardHalfBroken = {
  'ORIGIN_URL missing': { ORIGIN_URL: undefined },
  'ORIGIN_URL not a URL': { ORIGIN_URL: 'not a url' },
  'ORIGIN_URL with another scheme': { ORIGIN_URL: 'ftp://127.0.0.1/' },
  'ORIGIN_URL with credentials': { ORIGIN_URL: 'http://user:pass@127.0.0.1:1' },
  'ORIGIN_TIMEOUT_MS not a number': { ORIGIN_TIMEOUT_MS: 'soon' },
  'USER_HEADER equal to ASSERTION_HEADER': { USER_HEADER: 'X-Auth', ASSERTION_HEADER: 'x-auth' },
  'USER_HEADER is Cookie': { USER_HEADER: 'Cookie' },
  'USER_HEADER not a header name': { USER_HEADER: 'X User' },
};

describe('an invalid forwarding configuration', () => {
  for (const [name, vars] of Object.entries(forwardHalfBroken)) {
    test(`${name}: 500 misconfigured everywhere, nothing forwarded`, async () => {
      await withGateway(vars, async (gateway) => {
        const before = origin.requests.length;
        assertMisconfigured(await protectedRequest(gateway), 'a non-public path');
        assertMisconfigured(await request(gateway.url, 'GET', '/health'), 'a public path');
        assert.equal(origin.requests.length, before, 'nothing was forwarded');
      });
    });
  }
});

describe('valid edge values', () => {
  test('secrets of exactly 32 bytes are accepted (bytes, not characters)', async () => {
    const session32 = 'é'.repeat(16); // 16 characters, 32 bytes in UTF-8
    await withGateway({ SESSION_SECRET: session32, ASSERTION_SECRET: 'c'.repeat(32) }, async (gateway) => {
      const res = await protectedRequest(gateway, session32);
      assert.equal(res.status, 200, res.body);
      const cookie = await login(gateway.url);
      assert.equal((await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } })).status, 200);
    });
  });

  test('a secret of 16 characters but 31 bytes is refused', async () => {
    const secret = `${'é'.repeat(15)}a`;
    await withGateway({ SESSION_SECRET: secret }, async (gateway) => {
      assertMisconfigured(await protectedRequest(gateway, secret), '31-byte secret');
    });
  });

  test('an ORIGIN_URL with a path prefixes every forwarded path', async () => {
    await withGateway({}, async (gateway) => {
      const res = await request(gateway.url, 'GET', '/health?x=1');
      assert.equal(res.status, 200);
      assert.equal(res.json().url, '/echo/health?x=1');
    }, { originUrl: `${origin.url}/echo` });
  });
});

describe('the configuration error log', () => {
  test('names every problem once per isolate and on every refused request, never printing a secret', async () => {
    const secret = 'a-secret-value-that-must-not-be-logged-0123456789';
    await withGateway({ SESSION_SECRET: 'too-short-secret-value', ASSERTION_SECRET: secret, IDLE_TIMEOUT: 'x' }, async (gateway) => {
      for (let i = 0; i < 3; i += 1) {
        const res = await request(gateway.url, 'GET', '/echo');
        assertMisconfigured(res, `request ${i}`);
        assert.ok(!res.body.includes('too-short-secret-value') && !res.body.includes(secret), res.body);
      }
      await gateway.settleLogs();
      const errors = gateway.logs.filter((l) => l.includes('"event":"config_error"'));
      assert.equal(errors.length, 1, gateway.logs.join('\n'));
      assert.match(errors[0], /SESSION_SECRET/);
      assert.match(errors[0], /IDLE_TIMEOUT/);
      const refused = gateway.logEntries.map((e) => e.message[0]).filter((l) => l.code === 'misconfigured');
      assert.equal(refused.length, 3, gateway.logs.join('\n'));
      for (const line of refused) {
        assert.ok(line.config_errors.some((e) => e.includes('SESSION_SECRET')), JSON.stringify(line));
        assert.ok(line.config_errors.some((e) => e.includes('IDLE_TIMEOUT')), JSON.stringify(line));
      }
      for (const line of gateway.logs) {
        assert.ok(!line.includes('too-short-secret-value'), line);
        assert.ok(!line.includes(secret), line);
      }
    });
  });
});

describe('[vars] types', () => {
  test('numbers and booleans (unquoted in wrangler.toml) are read like their text', async () => {
    await withGateway({ IDLE_TIMEOUT: 900, TOUCH_INTERVAL: 30, UA_BINDING: false }, async (gateway) => {
      const cookie = await login(gateway.url);
      const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': 'another-agent' } });
      assert.equal(res.status, 200, 'UA_BINDING=false took effect');
      const record = JSON.parse(await (await gateway.kv()).get(`sess:${decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0]}`));
      assert.equal(record.idle_expires - record.created, 900_000, 'IDLE_TIMEOUT=900 took effect');
      assert.ok(!gateway.logs.some((l) => l.includes('config_error')), gateway.logs.join('\n'));
    });
  });
});
