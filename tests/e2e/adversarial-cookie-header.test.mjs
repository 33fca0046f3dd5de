// Adversarial catalogue, class "cookie header": how the real Worker reads the Cookie header
// (jshttp/cookie 0.7 rules, as express-session does). Every refusal here happens without a KV read.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import signature from 'cookie-signature';
import {
  COOKIE, SESSION_SECRET, UA, errorCode, request, seedSession, signedCookie, originAndGateway,
} from './helpers.mjs';

const { origin, gateway } = await originAndGateway({ countKv: true });
/** A seeded session whose signature contains `+` and `/` (the characters encoding changes). */
let id;
let signed; // `s:<id>.<sig>`, not encoded
before(async () => {
  for (let i = 0; ; i += 1) {
    const candidate = `cookie-header-${i}`.padEnd(43, 'x');
    const sig = signature.sign(candidate, SESSION_SECRET).split('.').pop();
    if (sig.includes('+') && sig.includes('/')) {
      id = candidate;
      break;
    }
  }
  signed = `s:${signature.sign(id, SESSION_SECRET)}`;
  await seedSession(await gateway.kv(), id, { user: 'alice' });
});

const encoded = () => encodeURIComponent(signed);
/** GET /echo with these Cookie header lines (a string is one line) and the bound User-Agent. */
function get(cookieLines) {
  const headers = [['user-agent', UA], ...[cookieLines].flat().map((line) => ['cookie', line])];
  return request(gateway.url, 'GET', '/echo', { headers });
}
async function passes(cookieLines, message) {
  const res = await get(cookieLines);
  assert.equal(res.status, 200, `${message}: ${res.status} ${res.body}`);
  assert.equal(res.json().headers['x-sessiongate-user'], 'alice', message);
  return res;
}
/** Refused with `code`, the origin not called, and no KV operation at all. */
async function refused(cookieLines, code, message = String(cookieLines)) {
  const calls = origin.requests.length;
  gateway.kvOps.length = 0;
  const res = await get(cookieLines);
  assert.equal(res.status, 401, `${message}: ${res.status} ${res.body}`);
  assert.equal(errorCode(res), code, message);
  assert.equal(origin.requests.length, calls, `${message}: not forwarded`);
  assert.deepEqual(gateway.kvOps, [], `${message}: no KV operation`);
  return res;
}

describe('cookie header: absent or empty', () => {
  test('cookie header: missing', () => refused([], 'missing_session'));
  test('cookie header: empty', () => refused('', 'missing_session'));
  test('cookie header: only whitespace and separators', () => refused(' ; ;\t;', 'missing_session'));
  test('cookie header: other cookies only', () => refused('a=1; b=2', 'missing_session'));
  test('cookie header: session name without "="', () => refused(`${COOKIE}; a=1`, 'missing_session'));
  test('cookie header: session cookie with an empty value', () => refused(`${COOKIE}=`, 'invalid_session_cookie'));
  test('cookie header: session cookie of two quotes', () => refused(`${COOKIE}=""`, 'invalid_session_cookie'));
});

describe('cookie header: names', () => {
  test('cookie header: the name is case-sensitive', () => refused(`${COOKIE.toUpperCase()}=${encoded()}`, 'missing_session'));
  test('cookie header: names that merely contain the session name do not count', async () => {
    await refused(`x${COOKIE}=${encoded()}`, 'missing_session');
    await refused(`${COOKIE}x=${encoded()}`, 'missing_session');
    await refused(`${COOKIE}.sig=${encoded()}`, 'missing_session');
  });
  test('cookie header: spaces and tabs around name and value are trimmed', () => passes(` \t${COOKIE} \t= \t${encoded()} \t; a=1`, 'trimmed'));
});

describe('cookie header: duplicates', () => {
  const forged = `${COOKIE}=${encodeURIComponent(`s:${signature.sign('F'.repeat(43), 'not-the-secret-0123456789abcdefghij')}`)}`;
  test('cookie header: duplicate session cookie, valid first', () => passes(`${COOKIE}=${encoded()}; ${forged}`, 'valid first'));
  test('cookie header: duplicate session cookie, valid second (the first wins, as in jshttp/cookie)', () => refused(`${forged}; ${COOKIE}=${encoded()}`, 'invalid_session_cookie'));
  test('cookie header: duplicate session cookie, empty first', () => refused(`${COOKIE}=; ${COOKIE}=${encoded()}`, 'invalid_session_cookie'));
  test('cookie header: duplicate session cookie, two valid sessions: the first one\'s user', async () => {
    const bobId = 'cookie-header-bob'.padEnd(43, 'b');
    await seedSession(await gateway.kv(), bobId, { user: 'bob' });
    const res = await get(`${signedCookie(id)}; ${signedCookie(bobId)}`);
    assert.equal(res.json().headers['x-sessiongate-user'], 'alice');
    assert.ok(!(res.json().headers.cookie ?? '').includes(`${COOKIE}=`), 'neither session cookie is forwarded');
    const reversed = await get(`${signedCookie(bobId)}; ${signedCookie(id)}`);
    assert.equal(reversed.json().headers['x-sessiongate-user'], 'bob');
  });
  // workerd joins repeated header lines with ", " (the fetch Headers rule), which is not the
  // cookie separator: the pair after the comma becomes part of the first value. That fails
  // closed in both orders (an HTTP/1.1 client sends one Cookie line; HTTP/2 cookie crumbs are
  // joined with "; " by Cloudflare before the Worker sees them).
  test('cookie header: two Cookie lines, session in the first: refused, no KV read', () => refused([`${COOKIE}=${encoded()}`, 'a=1'], 'invalid_session_cookie'));
  test('cookie header: two Cookie lines, session in the second: refused, no KV read', () => refused(['a=1', `${COOKIE}=${encoded()}`], 'missing_session'));
  test('cookie header: two Cookie lines with a session each: refused, no KV read', () => refused([`${COOKIE}=${encoded()}`, forged], 'invalid_session_cookie'));
});

describe('cookie header: quoting', () => {
  test('cookie header: a double-quoted value is unquoted once', () => passes(`${COOKIE}="${encoded()}"`, 'quoted'));
  test('cookie header: an opening quote only', () => refused(`${COOKIE}="${encoded()}`, 'invalid_session_cookie'));
  test('cookie header: a closing quote only', () => refused(`${COOKIE}=${encoded()}"`, 'invalid_session_cookie'));
  test('cookie header: doubled quotes', () => refused(`${COOKIE}=""${encoded()}""`, 'invalid_session_cookie'));
  test('cookie header: single quotes are not quotes', () => refused(`${COOKIE}='${encoded()}'`, 'invalid_session_cookie'));
});

describe('cookie header: percent-encoding', () => {
  const sig = () => signed.split('.').pop();
  const body = () => signed.slice(0, signed.length - sig().length);
  test('cookie header: fully encoded (s%3A, %2B, %2F) as express-session writes it', () => passes(`${COOKIE}=${encoded()}`, 'encoded'));
  test('cookie header: not encoded at all (s:, raw + and /)', () => passes(`${COOKIE}=${signed}`, 'raw'));
  test('cookie header: lowercase hex escapes', () => passes(`${COOKIE}=${encoded().replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())}`, 'lowercase'));
  test('cookie header: %2B and + are the same; a space or %20 is not a +', async () => {
    assert.ok(sig().includes('+'));
    await passes(`${COOKIE}=s%3A${body().slice(2)}${sig().replaceAll('+', '%2B')}`, '%2B');
    await passes(`${COOKIE}=s%3A${body().slice(2)}${sig()}`, 'raw +');
    await refused(`${COOKIE}=s%3A${body().slice(2)}${sig().replaceAll('+', '%20')}`, 'invalid_session_cookie', '%20 for +');
    await refused(`${COOKIE}=s%3A${body().slice(2)}${sig().replaceAll('+', ' ')}`, 'invalid_session_cookie', 'space for +');
  });
  test('cookie header: an invalid escape keeps the value raw, which is then not s:…', async () => {
    await refused(`${COOKIE}=${encoded()}%ZZ`, 'invalid_session_cookie', '%ZZ');
    await refused(`${COOKIE}=${encoded()}%`, 'invalid_session_cookie', 'lone %');
    await refused(`${COOKIE}=${encoded()}%E2%82`, 'invalid_session_cookie', 'truncated UTF-8');
    await refused(`${COOKIE}=s%3${encoded().slice(4)}`, 'invalid_session_cookie', 's%3 without its second digit');
  });
  test('cookie header: double encoding (s%253A, %252B) decodes once only', async () => {
    await refused(`${COOKIE}=${encodeURIComponent(encoded())}`, 'invalid_session_cookie', 'double');
    await refused(`${COOKIE}=s%3A${body().slice(2)}${sig().replaceAll('+', '%252B')}`, 'invalid_session_cookie', '%252B');
  });
  test('cookie header: overlong and surrogate UTF-8 escapes are not decoded', async () => {
    await refused(`${COOKIE}=s%C0%BA${encoded().slice(4)}`, 'invalid_session_cookie', 'overlong :');
    await refused(`${COOKIE}=${encoded()}%ED%A0%80`, 'invalid_session_cookie', 'surrogate');
  });
  test('cookie header: a bad escape in another cookie does not disturb the session cookie', () => passes(`a=%ZZ; b=%; ${COOKIE}=${encoded()}`, 'neighbour'));
});

describe('cookie header: size', () => {
  test('cookie header: 200 other cookies (about 6 KB) before the session cookie', () => {
    const filler = Array.from({ length: 200 }, (_, i) => `c${i}=${'v'.repeat(20)}`).join('; ');
    return passes(`${filler}; ${COOKIE}=${encoded()}`, 'many cookies');
  });
  test('cookie header: a huge header (200 KB) is refused by the runtime, never forwarded, no KV read', async () => {
    const calls = origin.requests.length;
    gateway.kvOps.length = 0;
    const res = await get(`x=${'y'.repeat(200_000)}; ${COOKIE}=${encoded()}`);
    assert.equal(res.status, 431, res.body);
    assert.equal(origin.requests.length, calls);
    assert.deepEqual(gateway.kvOps, []);
  });
  test('cookie header: a huge session cookie value is refused without a KV read', () => refused(`${COOKIE}=s%3A${'A'.repeat(20_000)}.${'B'.repeat(43)}`, 'invalid_session_cookie', 'huge value'));
});
