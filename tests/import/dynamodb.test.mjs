// connect-dynamodb (table, hash key and prefix options) in dynalite → sessiongate import → local KV → gateway.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import session from 'express-session';
import connectDynamo from 'connect-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynalite } from './helpers.mjs';
import { storeScenario } from './scenario.mjs';

// dynalite accepts any credentials; the import reads them from the environment like the SDK does.
const ENV = { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1' };
let dynamo;
before(async () => {
  dynamo = await startDynalite();
});
after(async () => {
  await dynamo?.stop();
});

test('connect-dynamodb (table app-sessions, hash key sid, prefix app:): every live session comes over', async () => {
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const DynamoDBStore = connectDynamo(session);
  const store = new DynamoDBStore({ client, table: 'app-sessions', hashKey: 'sid', prefix: 'app:' });
  const { first } = await storeScenario({
    label: 'dynamo',
    makeStore: async () => ({ store, close: async () => client.destroy() }),
    sourceArgs: ['dynamodb', '--table', 'app-sessions', '--hash-key', 'sid', '--prefix', 'app:', '--endpoint', dynamo.endpoint],
    runImport: async (args) => {
      const { importCli } = await import('./helpers.mjs');
      return importCli(args, { env: ENV });
    },
  });
  // connect-dynamodb keeps expired items until it reaps: they are read and counted.
  assert.match(first.stdout, /expired 5/);
});
