// Adversarial catalogue, class "origin instructions": malformed `Sessiongate-Login` and
// `Sessiongate-Logout` headers from the origin, through the real Worker. A malformed instruction is
// a 502 origin_protocol_error that creates nothing, destroys nothing and sets no cookie.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  UA, controlRequest, errorCode, loginViaControl, request, sessionCookie, originAndGateway,
} from './helpers.mjs';

// `/control` is public (like a login route); `/private/control` needs a session.
const { origin, gateway } = await originAndGateway({
  vars: { PUBLIC_PATHS: '/health,/login,/static/*,/control' },
});

const control = (path, options) => controlRequest(gateway.url, path, options);
async function sessionKeys() {
  const kv = await gateway.kv();
  return (await kv.list({ prefix: 'sess:' })).keys.map((k) => k.name);
}

describe('origin instructions: Sessiongate-Login', () => {
  const malformedLogins = {
    'not JSON': 'alice',
    'a JSON array': '["alice"]',
    'user missing': '{"data":{}}',
    'user empty': '{"user":""}',
    'user not a string': '{"user":42}',
    'user with a leading space': '{"user":" alice"}',
    'user with a trailing space': '{"user":"alice "}',
    'user with a control character': '{"user":"al\\u0001ice"}',
    'user with a newline': '{"user":"alice\\nadmin"}',
    'user not ASCII': '{"user":"alic\\u00e9"}',
    'user of 257 characters': JSON.stringify({ user: 'u'.repeat(257) }),
    'data an array': '{"user":"alice","data":[1]}',
    'data a string': '{"user":"alice","data":"admin"}',
    'data over 2048 bytes': JSON.stringify({ user: 'alice', data: { blob: 'x'.repeat(2100) } }),
    'unknown field': '{"user":"alice","role":"admin"}',
    'a duplicate user key': '{"user":"alice","user":"root"}',
    'trailing text': '{"user":"alice"} x',
    'two login headers': ['{"user":"alice"}', '{"user":"mallory"}'],
  };
  for (const [name, value] of Object.entries(malformedLogins)) {
    test(`origin instructions: Sessiongate-Login ${name}: 502 origin_protocol_error, no session, no cookie`, async () => {
      const before = (await sessionKeys()).length;
      const res = await control('/control', { login: value });
      assert.equal(res.status, 502, res.body);
      assert.equal(errorCode(res), 'origin_protocol_error');
      assert.equal(sessionCookie(res), undefined);
      assert.equal(res.headers['sessiongate-login'], undefined);
      assert.equal((await sessionKeys()).length, before, 'no record written');
    });
  }

  test('origin instructions: a login header at the limits (256-character user, data of 2000 bytes) is accepted', async () => {
    const user = `${'u'.repeat(250)} !~x#`;
    assert.equal(user.length, 255);
    const data = { blob: 'y'.repeat(1980) };
    const cookie = await loginViaControl(gateway.url, `${user}z`, data);
    const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(res.json().headers['x-sessiongate-user'], `${user}z`);
  });
});

describe('origin instructions: Sessiongate-Logout', () => {
  test('origin instructions: a malformed Sessiongate-Logout: 502 origin_protocol_error and the session is kept', async () => {
    const cookie = await loginViaControl(gateway.url, 'carol');
    for (const value of ['everything', 'sessions', 'none', 'all, session', 'SESSION', '']) {
      const res = await control('/private/control', { logout: value, cookie });
      assert.equal(res.status, 502, `${value}: ${res.body}`);
      assert.equal(errorCode(res), 'origin_protocol_error', value);
      assert.equal(res.headers['sessiongate-logout'], undefined);
    }
    const still = await request(gateway.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    assert.equal(still.status, 200, 'a protocol error destroys nothing');
  });

  test('origin instructions: a response carrying both a login and a logout instruction is refused', async () => {
    const res = await control('/control', { login: '{"user":"trent"}', logout: 'session' });
    assert.equal(res.status, 502, res.body);
    assert.equal(errorCode(res), 'origin_protocol_error');
    assert.equal(sessionCookie(res), undefined);
  });
});
