// Adversarial catalogue, class "user agent": the binding of a session to the User-Agent seen at
// login, through the real Worker. A mismatch destroys the session (record and index key).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  UA, errorCode, loginViaControl, rawRequest, request, sessionIdOf, originAndGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({ vars: { PUBLIC_PATHS: '/control' } });

/** GET /echo with the cookie and these User-Agent lines (none when `uas` is empty). */
const get = (cookie, uas) => request(gateway.url, 'GET', '/echo', {
  headers: [['cookie', cookie], ...[uas].flat().map((ua) => ['user-agent', ua])],
});
const indexKey = (user, cookie) => `user:${Buffer.from(user).toString('base64url')}:${sessionIdOf(cookie)}`;

/** The request is refused as a mismatch and the session is gone for everyone. */
async function mismatch(user, cookie, uas, boundUa) {
  const res = await get(cookie, uas);
  assert.equal(res.status, 401, res.body);
  assert.equal(errorCode(res), 'user_agent_mismatch');
  const kv = await gateway.kv();
  assert.equal(await kv.get(`sess:${sessionIdOf(cookie)}`), null, 'record deleted');
  assert.equal(await kv.get(indexKey(user, cookie)), null, 'index key deleted');
  assert.equal(errorCode(await get(cookie, boundUa)), 'unknown_session', 'gone for the bound user agent too');
}

describe('user agent: bound at login', () => {
  test('user agent: mismatch', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua1');
    await mismatch('ua1', cookie, 'curl/8.5.0', UA);
  });
  test('user agent: a one-character difference at the end', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua2');
    await mismatch('ua2', cookie, `${UA.slice(0, -1)}1`, UA);
  });
  test('user agent: a case-only difference', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua3');
    await mismatch('ua3', cookie, UA.toUpperCase(), UA);
  });
  test('user agent: absent when one was bound', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua4');
    await mismatch('ua4', cookie, [], UA);
  });
  test('user agent: empty when one was bound', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua5');
    await mismatch('ua5', cookie, '', UA);
  });
  test('user agent: two User-Agent lines, the bound one first', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua6');
    await mismatch('ua6', cookie, [UA, 'curl/8.5.0'], UA);
  });
  test('user agent: the same value passes, repeatedly', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua7');
    for (let i = 0; i < 3; i += 1) assert.equal((await get(cookie, UA)).status, 200);
  });
});

describe('user agent: empty and absent', () => {
  test('user agent: empty at login, empty and absent later pass; any value is a mismatch', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua8', undefined, { ua: '' });
    assert.equal((await get(cookie, '')).status, 200, 'empty vs empty');
    assert.equal((await get(cookie, [])).status, 200, 'absent vs empty');
    await mismatch('ua8', cookie, ' x', '');
  });
});

describe('user agent: CR, LF and folding', () => {
  // Bytes an HTTP client library refuses to send go over a raw socket. The runtime either
  // rejects them or splits the line; a header smuggled after the break is stripped like any
  // spoofed header, and the user agent compared is the one before the break.
  for (const [name, separator] of [['a bare CR', '\r'], ['a bare LF', '\n']]) {
    test(`user agent: ${name} cannot smuggle an identity header to the origin`, async () => {
      const cookie = await loginViaControl(gateway.url, 'ua9');
      const before = origin.requests.length;
      const res = await rawRequest(gateway.url, `GET /echo HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n`
        + `Cookie: ${cookie}\r\nUser-Agent: ${UA}${separator}X-Sessiongate-User: mallory${separator}`
        + 'Sessiongate-Login: {"user":"mallory"}\r\nConnection: close\r\n\r\n');
      assert.ok([200, 400, 401].includes(res.status), res.raw.slice(0, 200));
      for (const seen of origin.requests.slice(before)) {
        assert.ok(!JSON.stringify(seen.headers).includes('mallory'), JSON.stringify(seen.headers));
        assert.equal(seen.headers['x-sessiongate-user'], 'ua9');
      }
      assert.ok(!res.raw.includes('mallory'));
    });
  }
  test('user agent: a folded (obs-fold) continuation line is not the bound value', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua10');
    const before = origin.requests.length;
    const res = await rawRequest(gateway.url, `GET /echo HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n`
      + `Cookie: ${cookie}\r\nUser-Agent: ${UA}\r\n  folded\r\nConnection: close\r\n\r\n`);
    assert.ok([400, 401].includes(res.status), res.raw.slice(0, 200));
    assert.equal(origin.requests.length, before, 'not forwarded');
  });
  test('user agent: a NUL byte is rejected before the gateway decides anything', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua11');
    const before = origin.requests.length;
    const res = await rawRequest(gateway.url, `GET /echo HTTP/1.1\r\nHost: ${new URL(gateway.url).host}\r\n`
      + `Cookie: ${cookie}\r\nUser-Agent: ${UA}\u0000\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 400, res.raw.slice(0, 200));
    assert.equal(origin.requests.length, before);
    assert.equal((await get(cookie, UA)).status, 200, 'the session is untouched');
  });
});

describe('user agent: size', () => {
  test('user agent: an 8 KB user agent binds and compares like any other', async () => {
    const huge = `Mozilla/5.0 ${'x'.repeat(8 * 1024)}`;
    const cookie = await loginViaControl(gateway.url, 'ua12', undefined, { ua: huge });
    const record = JSON.parse(await (await gateway.kv()).get(`sess:${sessionIdOf(cookie)}`));
    assert.equal(record.ua.length, 43, 'only the SHA-256 is stored');
    assert.equal((await get(cookie, huge)).status, 200);
    await mismatch('ua12', cookie, `${huge}y`, huge);
  });
  test('user agent: a 100 KB user agent is compared in full: a mismatch, nothing forwarded', async () => {
    const cookie = await loginViaControl(gateway.url, 'ua13');
    const before = origin.requests.length;
    await mismatch('ua13', cookie, `${UA}${'y'.repeat(100 * 1024)}`, UA);
    assert.equal(origin.requests.length, before);
  });
});
