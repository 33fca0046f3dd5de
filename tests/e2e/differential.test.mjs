// Differential catalogue: for a corpus of Cookie headers (hand-written and generated), the real
// Worker's decision must equal what express-session would decide with the real `cookie` (0.7.2)
// `parse` and `cookie-signature` (1.0.7) `unsign`: take the cookie by name, require the `s:`
// prefix, unsign with each secret, look the id up in the store. Sessions are seeded in KV for the
// store's ids, so "signature valid and id known" means "authenticated as that id's user".
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import cookie from 'cookie';
import signature from 'cookie-signature';
import {
  COOKIE, OLD_SECRET, SESSION_SECRET, UA, request, seedSession, originAndGateway,
} from './helpers.mjs';

const SECRETS = [SESSION_SECRET, OLD_SECRET];
const STRANGER = 'e2e-unrelated-secret-0123456789abcdefgh';
/** id → user of the sessions in the store. */
const STORE = new Map([
  ['differential-alice-00000000000000000000000', 'alice'],
  ['differential-bob-0000000000000000000000000', 'bob'],
  ['d'.repeat(22), 'short'],
  ['Z_-9'.repeat(16), 'long'],
]);
const UNKNOWN_IDS = ['differential-nobody-000000000000000000000', 'x'.repeat(21), 'y'.repeat(65), 'dotted.id.000000000000000000000000000000'];

/** express-session's `getcookie` + store lookup: the user, or null. */
function expressSessionUser(cookieLines) {
  // Node joins repeated Cookie lines with "; " (and `if (header)` skips an empty one).
  const header = cookieLines.length ? cookieLines.join('; ') : undefined;
  if (!header) return null;
  const raw = cookie.parse(header)[COOKIE];
  if (!raw || raw.substr(0, 2) !== 's:') return null;
  for (const secret of SECRETS) {
    const id = signature.unsign(raw.slice(2), secret);
    if (id !== false) return STORE.get(id) ?? null;
  }
  return null;
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const signedValue = (id, secret = SESSION_SECRET) => `s:${signature.sign(id, secret)}`;
const enc = encodeURIComponent;

/** Hand-written cases: [label, Cookie lines]. */
function handWritten() {
  const [alice, bob] = STORE.keys();
  const a = signedValue(alice);
  const b = signedValue(bob);
  const sig = a.split('.').pop();
  return [
    ['no header', []],
    ['empty header', ['']],
    ['one character', ['a']],
    ['encoded', [`${COOKIE}=${enc(a)}`]],
    ['raw', [`${COOKIE}=${a}`]],
    ['quoted', [`${COOKIE}="${enc(a)}"`]],
    ['half quoted', [`${COOKIE}="${enc(a)}`]],
    ['padded with spaces and tabs', [` \t${COOKIE} \t=\t ${enc(a)} \t`]],
    ['previous secret', [`${COOKIE}=${enc(signedValue(alice, OLD_SECRET))}`]],
    ['stranger secret', [`${COOKIE}=${enc(signedValue(alice, STRANGER))}`]],
    ['no prefix', [`${COOKIE}=${enc(signature.sign(alice, SESSION_SECRET))}`]],
    ['uppercase prefix', [`${COOKIE}=S%3A${enc(a.slice(2))}`]],
    ['double encoded', [`${COOKIE}=${enc(enc(a))}`]],
    ['invalid escape after', [`${COOKIE}=${enc(a)}%ZZ`]],
    ['space for plus', [`${COOKIE}=${enc(a).replaceAll('%2B', ' ')}`]],
    ['%20 for plus', [`${COOKIE}=${enc(a).replaceAll('%2B', '%20')}`]],
    ['padded signature', [`${COOKIE}=${enc(`${a}=`)}`]],
    ['base64url signature', [`${COOKIE}=${enc(a.replaceAll('+', '-').replaceAll('/', '_'))}`]],
    ['transplanted signature', [`${COOKIE}=${enc(`s:${bob}.${sig}`)}`]],
    ['two sessions, alice first', [`${COOKIE}=${enc(a)}; ${COOKIE}=${enc(b)}`]],
    ['two sessions, bob first', [`${COOKIE}=${enc(b)}; ${COOKIE}=${enc(a)}`]],
    ['forged first', [`${COOKIE}=s%3Aforged.sig; ${COOKIE}=${enc(a)}`]],
    ['empty first', [`${COOKIE}=; ${COOKIE}=${enc(a)}`]],
    ['name without "=" first', [`${COOKIE}; ${COOKIE}=${enc(a)}`]],
    ['neighbours with bad escapes', [`x=%; y="%ZZ; ${COOKIE}=${enc(a)}; z=%E0%A4%A`]],
    ['semicolon without space', [`a=1;${COOKIE}=${enc(a)};b=2`]],
    ['trailing semicolons', [`${COOKIE}=${enc(a)};;;`]],
    ['uppercase name', [`${COOKIE.toUpperCase()}=${enc(a)}`]],
    ['prefixed name', [`x${COOKIE}=${enc(a)}`]],
    ['value with "=" inside', [`${COOKIE}=${enc(a)}=x`]],
    ['comma-joined pairs', [`a=1, ${COOKIE}=${enc(a)}`]],
    ['22-character id', [`${COOKIE}=${enc(signedValue('d'.repeat(22)))}`]],
    ['64-character id', [`${COOKIE}=${enc(signedValue('Z_-9'.repeat(16)))}`]],
    ['21-character id', [`${COOKIE}=${enc(signedValue('x'.repeat(21)))}`]],
    ['dotted id', [`${COOKIE}=${enc(signedValue('dotted.id.000000000000000000000000000000'))}`]],
    ['latin-1 neighbour', [`caf\u00e9=cr\u00e8me; ${COOKIE}=${enc(a)}`]],
    // Two Cookie lines: Node joins them with "; ", workerd with ", " (see the cookie-header class).
    ['two lines, session first', [`${COOKIE}=${enc(a)}`, 'x=1']],
    ['two lines, session second', ['x=1', `${COOKIE}=${enc(a)}`]],
  ];
}

/** Generated cases: a signed value (genuine or not) through random encodings and mutations. */
function generated(count, seed) {
  const random = prng(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const ids = [...STORE.keys(), ...UNKNOWN_IDS];
  const secrets = [SESSION_SECRET, SESSION_SECRET, OLD_SECRET, STRANGER];
  const noise = ['', ' ', '\t', ';', '=', '"', '%', '%2', '%25', '%3A', '%2B', '+', '/', '.', ',', 'A', 's:', 's%3A'];
  const encodings = [
    (v) => enc(v),
    (v) => v,
    (v) => v.replace(':', '%3A'),
    (v) => enc(v).replace(/%[0-9A-F]{2}/g, (e) => (random() < 0.5 ? e.toLowerCase() : e)),
    (v) => `"${enc(v)}"`,
    (v) => enc(enc(v)),
  ];
  const mutations = [
    (v) => v,
    (v) => v,
    (v) => v.slice(0, Math.floor(random() * v.length)),
    (v) => {
      const i = Math.floor(random() * v.length);
      return v.slice(0, i) + pick(noise) + v.slice(i + 1);
    },
    (v) => {
      const i = Math.floor(random() * (v.length + 1));
      return v.slice(0, i) + pick(noise) + v.slice(i);
    },
    (v) => `${pick(noise)}${v}${pick(noise)}`,
  ];
  const cases = [];
  for (let n = 0; n < count; n += 1) {
    const value = mutations[Math.floor(random() * mutations.length)](
      encodings[Math.floor(random() * encodings.length)](signedValue(pick(ids), pick(secrets))),
    );
    const name = pick([COOKIE, COOKIE, COOKIE, ` ${COOKIE}`, `${COOKIE} `, COOKIE.toUpperCase()]);
    const pair = `${name}=${value}`;
    const other = pick(['', 'a=1', 'theme=dark', `${COOKIE}=`, `${COOKIE}=s%3Ax.y`, 'b=%ZZ', `${COOKIE}=${enc(signedValue(pick(ids)))}`]);
    const line = !other ? pair : random() < 0.5 ? `${other}; ${pair}` : `${pair}; ${other}`;
    cases.push([`generated #${n}`, [line]]);
  }
  return cases;
}

const { origin, gateway } = await originAndGateway({
  vars: { SESSION_SECRETS_PREVIOUS: JSON.stringify([OLD_SECRET]) },
});
before(async () => {
  const kv = await gateway.kv();
  for (const [id, user] of STORE) await seedSession(kv, id, { user });
});

/** The gateway's decision: the user the origin saw, or null for a 401. */
async function gatewayUser(cookieLines) {
  const headers = [['user-agent', UA], ...cookieLines.map((line) => ['cookie', line])];
  const res = await request(gateway.url, 'GET', '/echo', { headers });
  if (res.status === 401) return null;
  assert.equal(res.status, 200, `${JSON.stringify(cookieLines)}: ${res.status} ${res.body}`);
  return res.json().headers['x-sessiongate-user'];
}

async function compare(cases) {
  const disagreements = [];
  let authenticated = 0;
  for (const [label, lines] of cases) {
    const expected = expressSessionUser(lines);
    const actual = await gatewayUser(lines);
    if (actual !== null) authenticated += 1;
    // Several Cookie lines are joined differently (", " by workerd): there the gateway may only
    // refuse more, never accept what express-session would refuse or accept as someone else.
    const agrees = lines.length > 1 ? actual === null || actual === expected : actual === expected;
    if (!agrees) disagreements.push(`${label}: ${JSON.stringify(lines)} express-session=${expected} gateway=${actual}`);
  }
  return { disagreements, authenticated };
}

describe('differential: the gateway decides like express-session with cookie and cookie-signature', () => {
  test('differential: hand-written Cookie headers', async (t) => {
    const cases = handWritten();
    const { disagreements, authenticated } = await compare(cases);
    t.diagnostic(`${cases.length} cases, ${authenticated} accepted`);
    assert.deepEqual(disagreements, []);
    assert.ok(authenticated >= 10, `the corpus exercises accepted cookies too (${authenticated})`);
  });

  test('differential: 600 generated Cookie headers (seeded PRNG)', async (t) => {
    const cases = generated(600, 20261123);
    const { disagreements, authenticated } = await compare(cases);
    t.diagnostic(`${cases.length} cases, ${authenticated} accepted`);
    assert.deepEqual(disagreements, []);
    // Both verdicts must be well represented, or the comparison proves little.
    assert.ok(authenticated >= 60, `accepted: ${authenticated}`);
    assert.ok(cases.length - authenticated >= 200, `refused: ${cases.length - authenticated}`);
  });
});
