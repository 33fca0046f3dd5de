// connect-redis (with an app prefix) in Debian's redis-server → sessiongate import → local KV → gateway.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createClient } from 'redis';
import { RedisStore } from 'connect-redis';
import { freePort, importCli, startRedis, tmpDir } from './helpers.mjs';
import { storeScenario } from './scenario.mjs';

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

test('connect-redis: every live session comes over under its id; logouts stick across runs', async () => {
  const client = createClient({ url: redis.url });
  await client.connect();
  // Other keys of the same Redis, and damaged values under the prefix: never read / counted.
  await client.set('other:sess:Qxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', '{"passport":{"user":"intruder"}}');
  await client.set('myapp:sess:Zxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', '{not json', { EX: 3600 });
  const { first } = await storeScenario({
    label: 'redis',
    makeStore: async () => ({ store: new RedisStore({ client, prefix: 'myapp:sess:' }), close: () => client.quit() }),
    sourceArgs: ['redis', '--url', redis.url, '--prefix', 'myapp:sess:'],
  });
  assert.match(first.stdout, /not_json 1/);
  // 58 sessions under the prefix, plus the 5 expired ones while Redis still holds them:
  // connect-redis rounds their TTL up to whole seconds, so they may outlive the scenario's wait
  // by a moment. The import reads them and skips them as expired either way.
  const read = Number(/read: {5}(\d+) sessions/.exec(first.stdout)?.[1]);
  const expired = Number(/expired (\d+)/.exec(first.stdout)?.[1] ?? 0);
  assert.ok(expired === 0 || expired === 5, first.stdout);
  assert.equal(read - expired, 58, first.stdout);
});

test('an unreachable source: a clear error naming it, exit 1, nothing written', async () => {
  const work = tmpDir('redis-down');
  const port = await freePort();
  const result = await importCli(['redis', '--url', `redis://admin:hunter2-password@127.0.0.1:${port}`,
    '--out', path.join(work, 'out'), '--manifest', path.join(work, 'manifest')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`redis source redis://\\*\\*\\*@127.0.0.1:${port}`));
  assert.match(result.stderr, /Nothing was written/);
  assert.ok(!result.stderr.includes('hunter2'), 'the password is never printed');
  assert.ok(!fs.existsSync(path.join(work, 'out')) && !fs.existsSync(path.join(work, 'manifest')));
  fs.rmSync(work, { recursive: true, force: true });
});

test('a driver that is not installed: the command says which package to install', async () => {
  const work = tmpDir('no-driver');
  const result = await importCli(['mongo', '--url', 'mongodb://127.0.0.1:1', '--out', path.join(work, 'out'),
    '--manifest', path.join(work, 'manifest')], { cwd: work });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /needs the npm package "mongodb": install it/);
  fs.rmSync(work, { recursive: true, force: true });
});
