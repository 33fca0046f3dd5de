// One user with many sessions, through the real Worker in workerd with local KV behind a wrapper
// that counts every KV operation: "sign out all other sessions", the sessions API's pages and
// signing out one session beyond the first page, and "log out everywhere" (the built-in endpoint
// and the origin's `Sessiongate-Logout: all`) within Workers KV's limit of 1,000 operations per
// invocation, repeated while sessions remain. Sessions are seeded straight into KV (the record and
// its index entry, docs/kv-layout.md) so that hundreds of them take seconds, not hundreds of logins.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import {
  ASSERTION_SECRET, UA, clearsCookie, controlRequest, errorCode, originAndGateway, request, seedSession,
  signedCookie,
} from './helpers.mjs';

// `/control` is public (a login route); `/private/control` needs a session and answers with the
// control headers the request asks for (here `Sessiongate-Logout: all`).
const { gateway } = await originAndGateway({ countKv: true, vars: { PUBLIC_PATHS: '/health,/control' } });

const GATEWAY_PATH = '/.sessiongate';
/** Workers KV: at most 1,000 operations per invocation; a bulk read (≤ 100 keys) is one. */
const KV_OPERATION_LIMIT = 1000;
const BULK_READ_MAX_KEYS = 100;
/** Safety stop for the "repeat while sessions remain" loops. */
const MAX_CALLS = 20;

/**
 * Seeds `count` sessions of `user` straight into KV (record and index entry), a little apart in
 * last activity so the listing order is stable; returns their ids, the most recently active first.
 */
async function seedUser(user, count) {
  const kv = await gateway.kv();
  const now = Date.now();
  const ids = Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
  for (let start = 0; start < count; start += 100) {
    await Promise.all(ids.slice(start, start + 100).map((id, i) => {
      const lastSeen = now - (start + i) * 1000;
      return seedSession(kv, id, { user, overrides: { created: lastSeen, last_seen: lastSeen } });
    }));
  }
  return ids;
}

/** A session's handle as the API shows it: HMAC-SHA256 of the id under ASSERTION_SECRET, 22 chars. */
const handleOf = (id) => createHmac('sha256', ASSERTION_SECRET)
  .update(`sessiongate/session-handle/v1:${id}`).digest('base64url').slice(0, 22);

/** A call to the built-in endpoints as the sessions page makes it (same origin, the browser's UA). */
const call = (method, path, cookie) => request(gateway.url, method, `${GATEWAY_PATH}${path}`, {
  headers: { cookie, 'user-agent': UA, origin: gateway.url, 'sec-fetch-site': 'same-origin' },
});

/** One page of the sessions API. */
async function listPage(cookie, offset) {
  const res = await call('GET', `/api/sessions${offset === undefined ? '' : `?offset=${offset}`}`, cookie);
  assert.equal(res.status, 200, res.body);
  return res.json();
}

/** 'valid' when the gateway lets a request with the session's cookie through, else its error code. */
async function statusOf(id) {
  const res = await request(gateway.url, 'GET', '/echo', { headers: { cookie: signedCookie(id), 'user-agent': UA } });
  return res.status === 200 ? 'valid' : (errorCode(res) ?? `HTTP ${res.status}`);
}

/** statusOf for every id, 50 requests at a time. */
async function statusesOf(ids) {
  const out = [];
  for (let start = 0; start < ids.length; start += 50) {
    out.push(...await Promise.all(ids.slice(start, start + 50).map(statusOf)));
  }
  return out;
}

/** "3 valid, 2 session_expired": how often each value occurs in `values`. */
function tally(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${n} ${v}`).join(', ');
}

/** Asserts that every one of `ids` is refused with 401 unknown_session (`statuses`: already asked). */
async function assertAllRefused(ids, what, statuses = null) {
  statuses ??= await statusesOf(ids);
  const notRefused = statuses.filter((s) => s !== 'unknown_session');
  assert.equal(notRefused.length, 0,
    `${notRefused.length} of the ${ids.length} ${what} are not refused with unknown_session (${tally(notRefused)})`);
}

/**
 * Sends one request and returns it with the KV operations it made, the work it left to
 * `waitUntil` included (that counts against the same invocation): the count is taken once no
 * operation has arrived for 250 ms. Tests in a file run one at a time, so nothing else is counted.
 */
async function counted(send) {
  const mark = gateway.kvOps.length;
  const res = await send();
  for (let seen = -1; seen !== gateway.kvOps.length;) {
    seen = gateway.kvOps.length;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { res, ops: gateway.kvOps.slice(mark) };
}

/** Asserts that `ops` (as the wrapper reports them) fit in one Worker invocation. */
function assertWithinKvLimit(ops, what) {
  const kinds = ops.map((op) => (op.startsWith('get-bulk:') ? 'get-bulk' : op));
  assert.ok(ops.length <= KV_OPERATION_LIMIT,
    `${what}: ${ops.length} KV operations (${tally(kinds)}), more than the ${KV_OPERATION_LIMIT} one invocation may make`);
  const tooWide = ops.filter((op) => op.startsWith('get-bulk:') && Number(op.slice('get-bulk:'.length)) > BULK_READ_MAX_KEYS);
  assert.deepEqual(tooWide, [], `${what}: bulk reads of more than ${BULK_READ_MAX_KEYS} keys`);
}

describe('many sessions of one user', () => {
  test('revoke-others with 150 other sessions ends every one of them (repeating while some remain); this one stays', async (t) => {
    const [current, ...others] = await seedUser('many-revoke', 151);
    const cookie = signedCookie(current);
    assert.deepEqual(await statusesOf([current, others[0], others.at(-1)]), ['valid', 'valid', 'valid'],
      'the seeded sessions are accepted');

    const answers = [];
    const kvOpsPerCall = [];
    let body;
    let afterFirst;
    do {
      const { res, ops } = await counted(() => call('POST', '/api/sessions/revoke-others', cookie));
      assert.equal(res.status, 200, res.body);
      body = res.json();
      answers.push(body);
      kvOpsPerCall.push(ops.length);
      assertWithinKvLimit(ops, `revoke-others, call ${answers.length}`);
      if (answers.length === 1) {
        // Counted now, before any later call: the first answer's `revoked` is what it ended.
        afterFirst = await statusesOf(others);
        const ended = afterFirst.filter((s) => s === 'unknown_session').length;
        assert.equal(body.revoked, ended, `the first answer says revoked ${body.revoked}, ${ended} sessions are refused`);
      }
      if (answers.length > 1) {
        assert.ok(body.remaining < answers.at(-2).remaining, `remaining goes down: ${JSON.stringify(answers)}`);
      }
    } while (body.remaining > 0 && answers.length < MAX_CALLS);

    await assertAllRefused(others, `other sessions after revoke-others (answers: ${JSON.stringify(answers)})`,
      answers.length === 1 ? afterFirst : null);
    assert.equal(await statusOf(current), 'valid', 'the current session stays valid');
    assert.equal(body.remaining, 0, `the last answer leaves nothing: ${JSON.stringify(answers)}`);
    assert.equal(answers.reduce((sum, a) => sum + a.revoked, 0), 150, `revoked in all: ${JSON.stringify(answers)}`);
    for (const a of answers) assert.deepEqual(Object.keys(a).sort(), ['ok', 'remaining', 'revoked']);
    t.diagnostic(`answers: ${JSON.stringify(answers)}, KV operations per call: ${kvOpsPerCall}`);
  });

  describe('the sessions API with 151 sessions (the listing first, then one is signed out)', () => {
    let ids;
    before(async () => {
      ids = await seedUser('many-pages', 151);
    });

    test('the sessions API pages reach all 151 sessions: 100 then 51, distinct handles, this one first', async () => {
      const [current] = ids;
      const cookie = signedCookie(current);
      const first = await listPage(cookie);
      assert.equal(first.user, 'many-pages');
      assert.equal(first.total, 151, 'total counts every session');
      assert.equal(first.offset, 0);
      assert.equal(first.sessions.length, 100, 'a page holds 100 sessions');
      assert.equal(first.next, 100, 'a second page follows');
      assert.equal(first.complete, true);
      assert.equal(first.sessions[0].current, true, 'this session comes first');
      assert.equal(first.sessions[0].id, handleOf(current), 'handles are the HMAC this test computes');

      const second = await listPage(cookie, first.next);
      assert.equal(second.total, 151);
      assert.equal(second.offset, 100);
      assert.equal(second.sessions.length, 51);
      assert.equal(second.next, null, 'the last page');
      assert.equal(second.complete, true);
      assert.ok(second.sessions.every((s) => !s.current));

      const listed = [...first.sessions, ...second.sessions].map((s) => s.id);
      assert.equal(new Set(listed).size, 151, 'no session is listed twice');
      assert.deepEqual(new Set(listed), new Set(ids.map(handleOf)), 'the pages list exactly the seeded sessions');
      const pastTheEnd = await listPage(cookie, 200);
      assert.deepEqual(pastTheEnd.sessions, []);
      assert.equal(pastTheEnd.next, null);
    });

    test('DELETE of a session listed only on the second page signs it out', async () => {
      const [current, ...others] = ids;
      const cookie = signedCookie(current);
      const first = await listPage(cookie);
      const onFirstPage = new Set(first.sessions.map((s) => s.id));
      // Read before the DELETE; checked after it, so that the DELETE's own answer is what a build
      // without paging fails on.
      const second = first.next === null || first.next === undefined ? { sessions: [] } : await listPage(cookie, first.next);
      const target = others.find((id) => !onFirstPage.has(handleOf(id)));
      assert.ok(target, 'some session is not on the first page');
      assert.equal(await statusOf(target), 'valid', 'the session to sign out is valid before');

      const res = await call('DELETE', `/api/sessions/${handleOf(target)}`, cookie);
      assert.equal(res.status, 200, `DELETE of a second-page session: ${res.status} ${res.body}`);
      assert.deepEqual(res.json(), { ok: true, revoked: 1, current: false });
      assert.equal(await statusOf(target), 'unknown_session', 'the signed-out session is refused');
      assert.ok(second.sessions.some((s) => s.id === handleOf(target)), 'it was listed on the second page');
      assert.equal(await statusOf(current), 'valid', 'the current session stays valid');
      assert.equal((await listPage(cookie)).total, 150, 'one session fewer');
    });
  });

  test('logout?scope=all with 400 sessions: each call within 1,000 KV operations, repeated while some remain; all refused, cookie cleared by the last call only', async (t) => {
    const ids = await seedUser('many-logout', 400);
    const [current] = ids;
    const cookie = signedCookie(current);
    assert.equal(await statusOf(ids.at(-1)), 'valid', 'the seeded sessions are accepted');

    const calls = [];
    let body;
    do {
      const { res, ops } = await counted(() => call('POST', '/logout?scope=all', cookie));
      const n = calls.length + 1;
      assertWithinKvLimit(ops, `logout?scope=all, call ${n}`);
      assert.equal(res.status, 200, res.body);
      body = res.json();
      calls.push({ ...body, kvOps: ops.length, clearsCookie: clearsCookie(res) });
      if (body.remaining > 0) {
        assert.equal(clearsCookie(res), false, `call ${n} leaves ${body.remaining} sessions and keeps the cookie`);
        assert.equal(await statusOf(current), 'valid', `after call ${n} the current session stays valid for the next call`);
        if (calls.length > 1) assert.ok(body.remaining < calls.at(-2).remaining, `remaining goes down: ${JSON.stringify(calls)}`);
      }
    } while (body.remaining > 0 && calls.length < MAX_CALLS);
    t.diagnostic(`calls: ${JSON.stringify(calls)}`);

    assert.equal(body.remaining, 0, `the last call leaves nothing: ${JSON.stringify(calls)}`);
    assert.ok(calls.at(-1).clearsCookie, 'the last call clears the cookie');
    assert.deepEqual(calls.slice(0, -1).filter((c) => c.clearsCookie), [], 'no earlier call clears it');
    assert.equal(calls.reduce((sum, c) => sum + c.destroyed, 0), 400, `destroyed in all: ${JSON.stringify(calls)}`);
    await assertAllRefused(ids, `sessions after logout?scope=all (calls: ${JSON.stringify(calls)})`);
  });

  test('the origin\'s Sessiongate-Logout: all with 400 sessions: within 1,000 KV operations per response, x-sessiongate-logout-remaining while some remain; repeating it ends every session', async (t) => {
    const ids = await seedUser('many-origin-logout', 400);
    const [current] = ids;
    const cookie = signedCookie(current);
    assert.equal(await statusOf(ids.at(-1)), 'valid', 'the seeded sessions are accepted');

    const calls = [];
    let remaining;
    do {
      const { res, ops } = await counted(() => controlRequest(gateway.url, '/private/control', { logout: 'all', cookie }));
      const n = calls.length + 1;
      assertWithinKvLimit(ops, `Sessiongate-Logout: all, response ${n}`);
      assert.equal(res.status, 200, res.body);
      const header = res.headers['x-sessiongate-logout-remaining'];
      remaining = header === undefined ? 0 : Number(header);
      calls.push({ remaining: header ?? null, kvOps: ops.length, clearsCookie: clearsCookie(res) });
      if (header === undefined) {
        assert.ok(clearsCookie(res), `response ${n} announces nothing left and clears the cookie`);
      } else {
        assert.match(header, /^[1-9][0-9]*$/, `response ${n}: x-sessiongate-logout-remaining`);
        assert.equal(clearsCookie(res), false, `response ${n} keeps the cookie while ${header} remain`);
        assert.equal(await statusOf(current), 'valid', `after response ${n} the current session stays valid`);
        if (calls.length > 1 && calls.at(-2).remaining !== null) {
          assert.ok(remaining < Number(calls.at(-2).remaining), `remaining goes down: ${JSON.stringify(calls)}`);
        }
      }
    } while (remaining > 0 && calls.length < MAX_CALLS);
    t.diagnostic(`responses: ${JSON.stringify(calls)}`);

    assert.equal(remaining, 0, `the last response leaves nothing: ${JSON.stringify(calls)}`);
    await assertAllRefused(ids, `sessions after Sessiongate-Logout: all (responses: ${JSON.stringify(calls)})`);
  });
});
