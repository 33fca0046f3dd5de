// connect-pg-simple (table and schema options) and a custom sessions table through --query, in
// Debian's PostgreSQL → sessiongate import → local KV → gateway.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import connectPgSimple from 'connect-pg-simple';
import session from 'express-session';
import signature from 'cookie-signature';
import {
  commonArgs, importCli, runLoadCommands, SECRET, startGatewayOnKv, startPostgres, startTestOrigin, through, tmpDir, UA_A,
} from './helpers.mjs';
import { storeScenario } from './scenario.mjs';

let postgres;
before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
});

test('connect-pg-simple (schema app, table user_sessions): every live session comes over; logouts stick', async () => {
  const pool = new pg.Pool({ connectionString: postgres.url });
  await pool.query('CREATE SCHEMA app');
  const PgStore = connectPgSimple(session);
  const { first } = await storeScenario({
    label: 'pg',
    makeStore: async () => ({
      store: new PgStore({ pool, schemaName: 'app', tableName: 'user_sessions', createTableIfMissing: true, pruneSessionInterval: false }),
      close: () => pool.end(),
    }),
    sourceArgs: ['postgres', '--url', postgres.url, '--schema', 'app', '--table', 'user_sessions'],
  });
  // connect-pg-simple keeps expired rows until it prunes: they are read and counted.
  assert.match(first.stdout, /expired 5/);
});

test('a custom sessions table through --query (sub and expires_at columns)', async () => {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  await client.query('CREATE TABLE app_sessions (sid text PRIMARY KEY, sub text, expires_at timestamptz, plan text)');
  const ids = ['Pxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uA1', 'Pxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uA2', 'Pxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uA3'];
  await client.query(`INSERT INTO app_sessions VALUES
    ($1, 'ann', now() + interval '1 hour', 'pro'), ($2, 'ben', now() + interval '2 hours', 'free'),
    ($3, 'cid', now() - interval '1 minute', 'pro')`, ids);
  await client.end();
  const work = tmpDir('pg-query');
  const origin = await startTestOrigin();
  const result = await importCli([
    'postgres', '--url', postgres.url,
    '--query', 'SELECT sid AS id, sub AS user, expires_at AS expires, plan FROM app_sessions',
    '--data', 'plan', ...commonArgs(work, 1).slice(4),
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /imported: 2\n/);
  assert.match(result.stdout, /expired 1/);
  await runLoadCommands(result.stdout, work);
  const gateway = await startGatewayOnKv(path.join(work, 'kv'), origin.url);
  try {
    const cookie = (id) => `connect.sid=${encodeURIComponent(`s:${signature.sign(id, SECRET)}`)}`;
    const ann = await through(gateway.url, cookie(ids[0]), UA_A);
    assert.deepEqual([ann.status, ann.user, ann.data], [200, 'ann', { plan: 'pro' }]);
    assert.equal((await through(gateway.url, cookie(ids[1]), UA_A)).user, 'ben');
    assert.equal((await through(gateway.url, cookie(ids[2]), UA_A)).status, 401);
  } finally {
    await gateway.close();
    await origin.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('a misconfigured source (no such table): the error names it, exit 1, nothing written', async () => {
  const work = tmpDir('pg-bad');
  const result = await importCli(['postgres', '--url', postgres.url, '--table', 'nope',
    '--out', path.join(work, 'out'), '--manifest', path.join(work, 'manifest')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /postgres source postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/postgres \(table nope\): relation "nope" does not exist/);
  assert.ok(!fs.existsSync(path.join(work, 'out')));
  fs.rmSync(work, { recursive: true, force: true });
});
