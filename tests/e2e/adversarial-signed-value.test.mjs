// Adversarial catalogue, class "signed value": the `s:<id>.<signature>` format, through the real
// Worker. Every malformed or forged value is refused with 401 invalid_session_cookie, is never
// forwarded and causes no KV operation; the genuine value keeps working.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import signature from 'cookie-signature';
import {
  ASSERTION_SECRET, COOKIE, OLD_SECRET, SESSION_SECRET, UA, errorCode, flipChar, request, seedSession,
  signedCookie, originAndGateway, startGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({ countKv: true });
const ID = 'signed-value-alice'.padEnd(43, 'a');
const OTHER_ID = 'signed-value-bob'.padEnd(43, 'b');
const sign = (id, secret = SESSION_SECRET) => signature.sign(id, secret);
const sigOf = (id, secret) => sign(id, secret).split('.').pop();
before(async () => {
  const kv = await gateway.kv();
  await seedSession(kv, ID, { user: 'alice' });
  await seedSession(kv, OTHER_ID, { user: 'bob' });
});

/** GET /echo with the session cookie's decoded value `value` (encoded here as express-session does). */
const getValue = (value) => request(gateway.url, 'GET', '/echo', {
  headers: { cookie: `${COOKIE}=${encodeURIComponent(value)}`, 'user-agent': UA },
});

/** Every value is refused with invalid_session_cookie, none forwarded, no KV operation. */
async function allRefused(values) {
  const calls = origin.requests.length;
  gateway.kvOps.length = 0;
  for (const value of values) {
    const res = await getValue(value);
    assert.equal(res.status, 401, `${JSON.stringify(value)}: ${res.body}`);
    assert.equal(errorCode(res), 'invalid_session_cookie', JSON.stringify(value));
  }
  assert.equal(origin.requests.length, calls, 'none forwarded');
  assert.deepEqual(gateway.kvOps, [], 'no KV operation');
  const genuine = await getValue(`s:${sign(ID)}`);
  assert.equal(genuine.status, 200, 'the genuine value still works');
}

describe('signed value: prefix', () => {
  test('signed value: no s: prefix', () => allRefused([sign(ID)]));
  test('signed value: other prefixes (S:, s=, s;, j:, ss:, s:s:)', () => allRefused(
    ['S:', 's=', 's;', 'j:', 'ss:', 's:s:'].map((p) => `${p}${sign(ID)}`),
  ));
  test('signed value: the prefix alone', () => allRefused(['s:', 's', ':']));
});

describe('signed value: empty and missing parts', () => {
  test('signed value: empty parts (s:., s:<id>., s:.<sig>)', () => allRefused(['s:.', `s:${ID}.`, `s:.${sigOf(ID)}`, `s:.${sigOf('')}`]));
  test('signed value: the empty id signed correctly', () => allRefused([`s:${sign('')}`]));
  test('signed value: no signature at all (s:<id>)', () => allRefused([`s:${ID}`]));
  test('signed value: two dots before the signature', () => allRefused([`s:${ID}..${sigOf(ID)}`]));
});

describe('signed value: the id', () => {
  test('signed value: dots in the id, correctly signed over the dotted id', () => allRefused([
    `s:${sign(`${ID}.x`)}`, `s:${sign(`a.${ID}`)}`, `s:${sign('.'.repeat(43))}`,
  ]));
  test('signed value: an id transplanted onto another id\'s signature', () => allRefused([
    `s:${ID}.${sigOf(OTHER_ID)}`, `s:${OTHER_ID}.${sigOf(ID)}`,
  ]));
  test('signed value: the id with its case changed', () => allRefused([`s:${ID.toUpperCase()}.${sigOf(ID)}`]));
});

describe('signed value: the signature', () => {
  // A seeded id whose signature has both characters that base64url replaces.
  let id;
  before(async () => {
    for (let i = 0; !id; i += 1) {
      const candidate = `signed-value-b64-${i}`.padEnd(43, 'c');
      if (/\+/.test(sigOf(candidate)) && /\//.test(sigOf(candidate))) id = candidate;
    }
    await seedSession(await gateway.kv(), id);
    assert.equal((await getValue(`s:${sign(id)}`)).status, 200);
  });
  test('signed value: wrong-length signatures (42 and 44 characters)', () => allRefused([
    `s:${ID}.${sigOf(ID).slice(0, 42)}`, `s:${ID}.${sigOf(ID)}A`, `s:${ID}.${sigOf(ID)}${sigOf(ID)}`,
  ]));
  test('signed value: padded signature (=)', () => allRefused([`s:${ID}.${sigOf(ID)}=`, `s:${ID}.${sigOf(ID)}==`]));
  test('signed value: base64url signature (- and _ for + and /)', () => allRefused([
    `s:${id}.${sigOf(id).replaceAll('+', '-').replaceAll('/', '_')}`,
    `s:${id}.${sigOf(id).replaceAll('+', '-')}`,
    `s:${id}.${sigOf(id).replaceAll('/', '_')}`,
  ]));
  test('signed value: hex, uppercase and non-canonical last character', () => {
    const sig = sigOf(ID);
    const tag = Buffer.from(`${sig}=`, 'base64');
    // The last base64 character carries 4 bits of the tag and 2 bits that must be zero.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(sig.at(-1));
    const nonCanonical = `${sig.slice(0, -1)}${alphabet[last | 1]}`;
    assert.notEqual(nonCanonical, sig);
    assert.deepEqual(Buffer.from(`${nonCanonical}=`, 'base64'), tag, 'decodes to the same tag');
    return allRefused([`s:${ID}.${tag.toString('hex')}`, `s:${ID}.${sig.toUpperCase()}`, `s:${ID}.${nonCanonical}`]);
  });
  test('signed value: the signature of another secret (assertion secret, stranger)', () => allRefused([
    `s:${sign(ID, ASSERTION_SECRET)}`, `s:${sign(ID, 'stranger-secret-0123456789abcdefghijkl')}`,
    `s:${sign(ID, `${SESSION_SECRET} `)}`, `s:${sign(ID, SESSION_SECRET.slice(0, -1))}`,
  ]));
});

describe('signed value: garbage, truncation and bit flips', () => {
  test('signed value: leading garbage', () => allRefused(['x', '\u0000', '.', '=', '%'].map((g) => `${g}s:${sign(ID)}`)));
  test('signed value: trailing garbage', () => allRefused(['x', '.', '=', '\u0000', '.x', `.${sigOf(ID)}`].map((g) => `s:${sign(ID)}${g}`)));
  test('signed value: every truncation', () => {
    const value = `s:${sign(ID)}`;
    return allRefused(Array.from({ length: value.length }, (_, n) => value.slice(0, n)));
  });
  test('signed value: a changed character at every position of id and signature', () => {
    const value = `s:${sign(ID)}`;
    return allRefused(Array.from({ length: value.length - 2 }, (_, i) => flipChar(value, i + 2))
      .filter((v) => v[ID.length + 2] === '.'));
  });
  test('signed value: a flipped bit in every byte of the signature tag', () => {
    const tag = Buffer.from(`${sigOf(ID)}=`, 'base64');
    return allRefused(Array.from({ length: tag.length }, (_, i) => {
      const flipped = Buffer.from(tag);
      flipped[i] ^= 1 << (i % 8);
      return `s:${ID}.${flipped.toString('base64').replace(/=+$/, '')}`;
    }));
  });
});

describe('signed value: rotated and removed secrets', () => {
  const NEW_SECRET = 'e2e-rotated-secret-0123456789abcdefghij';
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  async function gatewayWithSecrets(vars) {
    const g = await startGateway({ originUrl: origin.url, countKv: true, vars });
    cleanups.push(() => g.close());
    await seedSession(await g.kv(), ID);
    return g;
  }
  const status = async (g, cookie) => {
    const res = await request(g.url, 'GET', '/echo', { headers: { cookie, 'user-agent': UA } });
    return `${res.status} ${errorCode(res) ?? ''}`.trim();
  };

  test('signed value: rotated secret verifies while listed as previous, and not once removed', async () => {
    const rotating = await gatewayWithSecrets({ SESSION_SECRET: NEW_SECRET, SESSION_SECRETS_PREVIOUS: JSON.stringify([OLD_SECRET]) });
    assert.equal(await status(rotating, signedCookie(ID, OLD_SECRET)), '200', 'previous secret');
    assert.equal(await status(rotating, signedCookie(ID, NEW_SECRET)), '200', 'current secret');
    const removed = await gatewayWithSecrets({ SESSION_SECRET: NEW_SECRET });
    assert.equal(await status(removed, signedCookie(ID, OLD_SECRET)), '401 invalid_session_cookie', 'removed secret');
    assert.deepEqual(removed.kvOps, [], 'refused without a KV read');
    assert.equal(await status(removed, signedCookie(ID, NEW_SECRET)), '200');
  });

  test('signed value: a previous secret never signs new cookies', async () => {
    const rotating = await gatewayWithSecrets({ SESSION_SECRET: NEW_SECRET, SESSION_SECRETS_PREVIOUS: OLD_SECRET });
    const res = await request(rotating.url, 'POST', '/control', { headers: { 'user-agent': UA, 'x-test-login': Buffer.from('{"user":"rot"}').toString('base64url') } });
    // /control is not public here: the login instruction is honoured on a protected route only with a session.
    assert.equal(res.status, 401);
    const withSession = await request(rotating.url, 'POST', '/control', {
      headers: { cookie: signedCookie(ID, OLD_SECRET), 'user-agent': UA, 'x-test-login': Buffer.from('{"user":"rot"}').toString('base64url') },
    });
    assert.equal(withSession.status, 200, withSession.body);
    const fresh = decodeURIComponent(withSession.headers['set-cookie'].find((c) => c.startsWith(`${COOKIE}=`)).split(';')[0].split('=')[1]);
    assert.ok(signature.unsign(fresh.slice(2), NEW_SECRET), 'signed with SESSION_SECRET');
    assert.equal(signature.unsign(fresh.slice(2), OLD_SECRET), false);
  });
});
