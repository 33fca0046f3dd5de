// express-session's MemoryStore, dumped with store.all() → sessiongate import dump → local KV → gateway.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import session from 'express-session';
import { importCli, tmpDir } from './helpers.mjs';
import { storeScenario } from './scenario.mjs';

test('MemoryStore (a JSON dump of store.all()): every live session comes over; logouts stick across runs', async () => {
  const store = new session.MemoryStore();
  const dumpDir = tmpDir('memory-dump');
  const file = path.join(dumpDir, 'sessions.json');
  await storeScenario({
    label: 'memory',
    makeStore: async () => ({ store, close: async () => fs.rmSync(dumpDir, { recursive: true, force: true }) }),
    sourceArgs: ['dump', '--file', file],
    // What an app would run: fs.writeFileSync(file, JSON.stringify(await all())).
    beforeImport: () => new Promise((resolve, reject) => {
      store.all((error, sessions) => {
        if (error) return reject(error);
        fs.writeFileSync(file, JSON.stringify(sessions), { mode: 0o600 });
        return resolve();
      });
    }),
  });
});

test('a dump that is not JSON, or sessions that are not JSON objects: refused or skipped by reason', async () => {
  const work = tmpDir('bad-dump');
  const bad = path.join(work, 'bad.json');
  fs.writeFileSync(bad, 'not json');
  const refused = await importCli(['dump', '--file', bad, '--out', path.join(work, 'o1'), '--manifest', path.join(work, 'm')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /dump source .*bad\.json: not JSON/);
  assert.ok(!fs.existsSync(path.join(work, 'o1')));

  const odd = path.join(work, 'odd.json');
  const live = new Date(Date.now() + 3_600_000).toISOString();
  fs.writeFileSync(odd, JSON.stringify([
    { id: 'Axv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', cookie: { expires: live }, passport: { user: 'ok' } },
    { id: 'Bxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', cookie: { expires: live }, passport: { user: ['a'] } },
    { id: 'Cxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', cookie: { expires: live }, passport: { user: 'bad\nuser' } },
    { id: 'Dxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', cookie: { expires: live }, passport: { user: 'big' }, blob: 'x'.repeat(3000) },
    { id: 'short', cookie: { expires: live }, passport: { user: 'ok' } },
    'a string',
  ]));
  const result = await importCli(['dump', '--file', odd, '--data', 'blob', '--out', path.join(work, 'o2'), '--manifest', path.join(work, 'm')]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /imported: 1\n/);
  assert.match(result.stdout, /skipped: {2}5 \(data_too_large 1, invalid_id 1, invalid_user 2, not_json 1\)/);
  const [put] = fs.readdirSync(path.join(work, 'o2'));
  const entries = JSON.parse(fs.readFileSync(path.join(work, 'o2', put), 'utf8'));
  assert.deepEqual(entries.map((e) => e.key.split(':')[0]), ['user', 'sess'], 'the index entry comes before its record');
  assert.equal(JSON.parse(entries[1].value).imported, true);
  fs.rmSync(work, { recursive: true, force: true });
});
