// connect-dynamodb: items `{<hashKey>: "<prefix><id>", expires: <Unix s>, type, sess: "<JSON>"}`
// in one table (defaults: table `sessions`, hash key `id`, prefix `sess:`). Read with a paged Scan.
import { loadDriver } from './load.js';

export async function openDynamo({ table = 'sessions', hashKey = 'id', prefix = 'sess:', region, endpoint, label }) {
  const sdk = await loadDriver('@aws-sdk/client-dynamodb', 'the dynamodb source');
  const client = new sdk.DynamoDBClient({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: 3,
  });
  return {
    label,
    async *batches() {
      let start;
      do {
        const page = await client.send(new sdk.ScanCommand({ TableName: table, ExclusiveStartKey: start, Limit: 1000 }));
        start = page.LastEvaluatedKey;
        const batch = [];
        for (const item of page.Items ?? []) {
          const key = item[hashKey]?.S;
          if (typeof key !== 'string' || !key.startsWith(prefix)) continue;
          const expires = item.expires?.N;
          batch.push({
            id: key.slice(prefix.length),
            session: item.sess?.S ?? null,
            storeExpires: expires !== undefined && Number.isFinite(Number(expires)) ? Number(expires) * 1000 : null,
          });
        }
        yield batch;
      } while (start);
    },
    async close() {
      client.destroy();
    },
  };
}
