// The scenario every store goes through: 50 users sign in through the real app and store, the
// import runs, its files are loaded with the printed wrangler commands into local KV, and the
// gateway on that KV serves every live cookie as the right user with its data; then gateway
// logouts stick across a second run, and sessions ended in the old app are deleted from KV.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import signature from 'cookie-signature';
import {
  commonArgs, importCli, request, runLoadCommands, SECRET, signInEveryone, startApp, startGatewayOnKv,
  startTestOrigin, through, tmpDir, UA_A, UA_B,
} from './helpers.mjs';

/** The session id inside `connect.sid=s%3A<id>.<sig>`. */
export function idOf(cookie) {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return signature.unsign(value.slice(2), SECRET);
}

function assertNoIdPrinted(result, browsers) {
  for (const b of browsers) {
    const id = idOf(b.cookie);
    assert.ok(!result.stdout.includes(id) && !result.stderr.includes(id), 'no session id is printed');
  }
  assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET), 'no secret is printed');
}

function assertPrivateFiles(out) {
  assert.equal(fs.statSync(out).mode & 0o777, 0o700);
  for (const name of fs.readdirSync(out)) {
    assert.equal(fs.statSync(path.join(out, name)).mode & 0o777, 0o600, name);
  }
}

async function checkAll(gatewayUrl, browsers) {
  for (const b of browsers) {
    const seen = await through(gatewayUrl, b.cookie, b.ua ?? UA_A);
    if (b.expect === null) {
      assert.equal(seen.status, 401, `${b.why} session of ${b.user ?? 'an anonymous visitor'} is refused`);
    } else {
      assert.equal(seen.status, 200, `${b.user} keeps working: ${seen.error}`);
      assert.equal(seen.user, b.expect);
      assert.equal(seen.sub, b.expect);
      const base = b.user;
      assert.deepEqual(seen.data, { role: `role-${base}`, email: `${base}@example.com` });
    }
  }
}

/**
 * `makeStore()` → `{ store, close() }`; `sourceArgs` the import's source arguments;
 * `runImport(args)` defaults to the CLI as a process; `beforeImport()` runs before each import
 * (e.g. dumping store.all()).
 */
export async function storeScenario({ label, makeStore, sourceArgs, runImport = importCli, beforeImport = async () => {} }) {
  const work = tmpDir(label);
  const origin = await startTestOrigin();
  const { store, close } = await makeStore();
  const app = await startApp(store);
  let gateway;
  try {
    const browsers = await signInEveryone(app);

    // First run: files, loaded as printed, served by the gateway.
    await beforeImport();
    const first = await runImport([...sourceArgs, ...commonArgs(work, 1)]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /imported: 46\n/, first.stdout);
    assert.match(first.stdout, /not_required 5/);
    assert.match(first.stdout, /anonymous 5/);
    assert.match(first.stdout, /invalid_user 1/);
    assert.match(first.stdout, /Then delete the files: rm -r /);
    assert.match(first.stdout, /92 KV writes/);
    assertNoIdPrinted(first, browsers);
    assertPrivateFiles(path.join(work, 'out-1'));
    assert.equal(fs.statSync(path.join(work, 'manifest')).mode & 0o777, 0o600);
    const loaded = await runLoadCommands(first.stdout, work);
    assert.ok(loaded.length >= 1 && loaded.every((a) => a.includes('--local')));

    gateway = await startGatewayOnKv(path.join(work, 'kv'), origin.url);
    await checkAll(gateway.url, browsers);

    // User-agent binding continues: the stored User-Agent is the one bound.
    const bound = browsers.find((b) => b.user === 'user-39');
    assert.equal((await through(gateway.url, bound.cookie, UA_B)).status, 401, 'another browser with the cookie is refused');
    bound.expect = null;
    bound.why = 'user-agent mismatch';

    // A logout at the gateway, and "log out everywhere" for user-00's two browsers.
    const loggedOut = browsers.find((b) => b.user === 'user-01');
    const res = await request(gateway.url, 'POST', '/.sessiongate/logout', { headers: { cookie: loggedOut.cookie, 'user-agent': UA_A } });
    assert.equal(res.status, 200, res.body);
    loggedOut.expect = null;
    loggedOut.why = 'logged out at the gateway';
    const everywhere = browsers.find((b) => b.user === 'user-00' && !b.second);
    const all = await request(gateway.url, 'POST', '/.sessiongate/logout?scope=all', { headers: { cookie: everywhere.cookie, 'user-agent': UA_A } });
    assert.equal(all.status, 200, all.body);
    assert.equal(all.json().destroyed, 2);
    for (const b of browsers.filter((x) => x.user === 'user-00')) {
      b.expect = null;
      b.why = 'logged out everywhere';
    }
    await checkAll(gateway.url, browsers);
    await gateway.close();
    gateway = null;

    // Meanwhile in the old app: one user logs out there, one more signs in.
    const oldLogout = browsers.find((b) => b.user === 'user-02');
    await app.post('/logout', { cookie: oldLogout.cookie });
    oldLogout.expect = null;
    oldLogout.why = 'logged out in the old app';
    browsers.push({ user: 'late-user', expect: 'late-user', ua: UA_A, cookie: await app.post('/login?user=late-user') });

    // Second run: only the new session is written; the old app's logout becomes a delete; the
    // gateway's logouts are not undone.
    await beforeImport();
    const second = await runImport([...sourceArgs, ...commonArgs(work, 2)]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /imported: 1\n/, second.stdout);
    assert.match(second.stdout, /already imported by an earlier run \(never rewritten\): 45/);
    assert.match(second.stdout, /logged out there\): 1,/);
    assertNoIdPrinted(second, browsers);
    const commands = await runLoadCommands(second.stdout, work);
    assert.deepEqual(commands.map((a) => a.slice(0, 3).join(' ')), ['kv bulk put', 'kv bulk delete']);
    gateway = await startGatewayOnKv(path.join(work, 'kv'), origin.url);
    await checkAll(gateway.url, browsers);

    // A dry run reports and writes nothing.
    const dry = await runImport([...sourceArgs, ...commonArgs(work, 3), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run/);
    assert.ok(!fs.existsSync(path.join(work, 'out-3')));
    return { first, second, browsers };
  } finally {
    await gateway?.close();
    await app.close();
    await close();
    await origin.close?.();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
