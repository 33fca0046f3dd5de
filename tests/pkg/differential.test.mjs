// The package's primitives against the packages they replace, on the same inputs: every verdict
// of `unsign` and every output of `sign` must equal cookie-signature 1.0.7's (what express-session
// uses), `parseCookie` must equal cookie 0.7.2's `parse`, and `serializeCookie` its `serialize`
// (same string, or a TypeError with the same message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import cookieSignature from 'cookie-signature';
import cookie from 'cookie';
import * as sg from '../../pkg/src/node.js';

/** Deterministic pseudo-random source, so a failure can be replayed. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const secrets = [
  'keyboard cat',
  'a-secret-of-at-least-thirty-two-bytes!!',
  '',
  'ünïcödé sécret 🔑',
  'lone \uD800 surrogate',
  Buffer.from('raw buffer secret'),
  new Uint8Array(randomBytes(32)),
  new DataView(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer, 2, 4),
  new Uint16Array([0x4142, 0x4344]),
  createSecretKey(Buffer.from('a KeyObject secret')),
];

function values(random) {
  const fixed = [
    '', 'a', 'hello', 'tobi', 's:abc', 'dots.in.the.value', '.', '..', 'trailing.', '.leading',
    'wYw8-Kb-TwTMYhkXnQr6qGMr2DDaiMHR', 'ünïcödé', '🍪 cookie', 'lone \uDC00 low', 'high \uD83D',
    'space and\ttab', '%2B+%20', 'x'.repeat(4096),
  ];
  const alphabet = 'abcXYZ019.+/=-_:%; "\\é🍪\uD800';
  for (let i = 0; i < 150; i++) {
    let v = '';
    const length = Math.floor(random() * 40);
    for (let j = 0; j < length; j++) v += alphabet[Math.floor(random() * alphabet.length)] ?? '';
    fixed.push(v);
  }
  return fixed;
}

/** Signed strings and their corruptions. */
function signedCorpus(value, secret, random) {
  const good = cookieSignature.sign(value, secret);
  const dot = good.lastIndexOf('.');
  const signature = good.slice(dot + 1);
  const flipAt = Math.floor(random() * good.length);
  const flipped = good.slice(0, flipAt) + String.fromCharCode(good.charCodeAt(flipAt) ^ 1) + good.slice(flipAt + 1);
  const urlSafe = signature.replace(/\+/g, '-').replace(/\//g, '_');
  return [
    good,
    flipped,
    `${good}=`,
    `${good}==`,
    good.slice(0, -1),
    good.slice(1),
    `${good}x`,
    `x${good}`,
    `${good} `,
    ` ${good}`,
    `${good}.`,
    `${good}.${signature}`,
    value.length ? `${value.slice(0, -1)}.${signature}` : `.${signature}`,
    `${value}.${urlSafe}`,
    `${value}.${signature.slice(0, -1)}A`,
    `${value}.${signature.toLowerCase()}`,
    `${value}${signature}`,
    `${value}.`,
    value,
    `s:${good}`,
    good.replace('.', '..'),
    `${value}.${signature}\n`,
    `${value}.${signature}\u0000`,
  ];
}

test('sign: identical output to cookie-signature for every value and secret type', () => {
  const random = prng(1);
  let compared = 0;
  for (const secret of secrets) {
    for (const value of values(random)) {
      assert.equal(sg.sign(value, secret), cookieSignature.sign(value, secret), JSON.stringify(value));
      compared++;
    }
  }
  assert.ok(compared > 1500);
});

test('unsign: same verdict as cookie-signature on valid and malformed inputs', () => {
  const random = prng(2);
  let accepted = 0;
  let refused = 0;
  for (const secret of secrets) {
    for (const value of values(random)) {
      for (const input of signedCorpus(value, secret, random)) {
        const expected = cookieSignature.unsign(input, secret);
        assert.equal(sg.unsign(input, secret), expected, `input ${JSON.stringify(input)}`);
        if (expected === false) refused++;
        else accepted++;
      }
    }
  }
  // Both sides of the verdict are exercised, not just refusals.
  assert.ok(accepted > 1500 && refused > 20000, `accepted ${accepted}, refused ${refused}`);
});

test('unsign: a value signed with another secret is refused by both', () => {
  const random = prng(3);
  for (const value of values(random).slice(0, 60)) {
    const signed = cookieSignature.sign(value, 'one secret');
    assert.equal(cookieSignature.unsign(signed, 'another secret'), false);
    assert.equal(sg.unsign(signed, 'another secret'), false);
  }
});

test('unsign with several secrets: accepted when any one is (rotation)', () => {
  const random = prng(4);
  const ring = ['new secret', Buffer.from('old secret'), 'older secret'];
  for (const value of values(random).slice(0, 80)) {
    for (const signer of [...ring, 'unknown secret']) {
      for (const input of signedCorpus(value, signer, random).slice(0, 6)) {
        const expected = ring.map((s) => cookieSignature.unsign(input, s)).find((r) => r !== false) ?? false;
        assert.equal(sg.unsign(input, ring), expected);
      }
    }
  }
  assert.equal(sg.sign('v', ring), cookieSignature.sign('v', 'new secret'), 'the first secret signs');
});

test('argument errors: TypeError with cookie-signature\'s messages', () => {
  const cases = [
    [() => cookieSignature.sign(1, 's'), () => sg.sign(1, 's')],
    [() => cookieSignature.sign('v', null), () => sg.sign('v', null)],
    [() => cookieSignature.unsign(undefined, 's'), () => sg.unsign(undefined, 's')],
    [() => cookieSignature.unsign('v.x', undefined), () => sg.unsign('v.x', undefined)],
  ];
  for (const [theirs, ours] of cases) {
    let expected;
    try {
      theirs();
    } catch (error) {
      expected = error;
    }
    assert.ok(expected instanceof TypeError);
    assert.throws(ours, { name: 'TypeError', message: expected.message });
  }
  // A secret of a type neither accepts: both throw a TypeError (messages differ: Node's own).
  assert.throws(() => cookieSignature.sign('v', 42), TypeError);
  assert.throws(() => sg.sign('v', 42), TypeError);
  assert.throws(() => sg.unsign('v.x', []), TypeError);
});

test('createSigner: same verdicts as the one-shot functions', () => {
  const random = prng(5);
  const signer = sg.createSigner(['primary secret', 'previous secret']);
  for (const value of values(random).slice(0, 80)) {
    for (const input of signedCorpus(value, 'previous secret', random)) {
      assert.equal(signer.unsign(input), sg.unsign(input, ['primary secret', 'previous secret']));
    }
    assert.equal(signer.sign(value), cookieSignature.sign(value, 'primary secret'));
  }
});

test('the signature really is HMAC-SHA256 (not just agreement of two implementations)', () => {
  const mac = createHmac('sha256', 'k').update('v').digest('base64').replace(/=+$/, '');
  assert.equal(sg.sign('v', 'k'), `v.${mac}`);
});

// Object.prototype names are left out: cookie 0.7.2 returns a plain object, where assigning
// `__proto__` changes the prototype instead of adding a key; parseCookie's object has no prototype.
const cookieHeaders = [
  '', 'a', '=', '==', 'a=', '=b', 'a=1', 'a=1;b=2', ' a = 1 ;\tb=2\t', 'a=1; a=2', 'a=2; a=1',
  'a="quoted"', 'a="', 'a=""', 'a="x', 'a=x"', 'a=%20', 'a=%2B+', 'a=%zz', 'a=%', 'a=%E2%82%AC',
  'a=%E2%82', 'a=%25252B', 'no-equals; a=1', 'a=1;;b=2', ';a=1', 'a=1;', 'a=b=c', 'sid=s%3Aabc.def',
  'a=1; b', 'b; a=1', 'é=ü', 'a=🍪', 'x=' + 'y'.repeat(5000), 'a=1,b=2', 'a=\u0000', ' = ', 'a\t=\t1',
];

test('parseCookie: same object as cookie.parse', () => {
  const random = prng(6);
  const alphabet = 'ab=; "%2B\t,é';
  const generated = [];
  for (let i = 0; i < 3000; i++) {
    let header = '';
    const length = Math.floor(random() * 24);
    for (let j = 0; j < length; j++) header += alphabet[Math.floor(random() * alphabet.length)];
    generated.push(header);
  }
  for (const header of [...cookieHeaders, ...generated]) {
    assert.deepEqual({ ...sg.parseCookie(header) }, { ...cookie.parse(header) }, JSON.stringify(header));
  }
  assert.equal(Object.getPrototypeOf(sg.parseCookie('a=1')), null);
  assert.throws(() => sg.parseCookie(undefined), { name: 'TypeError', message: 'argument str must be a string' });
});

function outcome(f) {
  try {
    return { value: f() };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

test('serializeCookie: same string or same TypeError as cookie.serialize', () => {
  const names = ['sid', '__Host-sid', 'a b', '', 'é', 'a;b', "!#$%&'*+-.^_`|~"];
  const cookieValues = ['', 'plain', 's:abc.d+/e', 'a b', 'ünï', '🍪', 'lone \uD800', '"q"', 'a;b'];
  const optionSets = [
    undefined,
    {},
    { maxAge: 3600 },
    { maxAge: 1.9 },
    { maxAge: -1.5 },
    { maxAge: 0 },
    { maxAge: Infinity },
    { maxAge: NaN },
    { maxAge: '60' },
    { domain: 'example.com' },
    { domain: '.example.com' },
    { domain: 'bad_domain.com' },
    { domain: 'a..b' },
    { path: '/' },
    { path: '/a;b' },
    { path: '/é' },
    { expires: new Date(0) },
    { expires: new Date(1795000000123) },
    { expires: new Date(NaN) },
    { expires: 'Thu, 01 Jan 1970' },
    { httpOnly: true, secure: true, partitioned: true },
    { priority: 'High' },
    { priority: 'urgent' },
    { priority: true },
    { sameSite: true },
    { sameSite: 'Lax' },
    { sameSite: 'NONE' },
    { sameSite: 'sometimes' },
    { sameSite: 1 },
    { encode: (v) => v },
    { encode: 'no' },
    {
      maxAge: 60, domain: 'example.com', path: '/app', expires: new Date(0), httpOnly: true,
      secure: true, partitioned: true, priority: 'low', sameSite: 'strict',
    },
  ];
  let compared = 0;
  for (const name of names) {
    for (const value of cookieValues) {
      for (const options of optionSets) {
        const theirs = outcome(() => cookie.serialize(name, value, options));
        const ours = outcome(() => sg.serializeCookie(name, value, options));
        assert.deepEqual(ours, theirs, JSON.stringify({ name, value, options }));
        compared++;
      }
    }
  }
  assert.equal(compared, names.length * cookieValues.length * optionSets.length);
});
