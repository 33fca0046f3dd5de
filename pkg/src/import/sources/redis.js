// connect-redis: one string key per session, `<prefix><id>` (default prefix `sess:`), holding the
// session as JSON, with the store's TTL. Read with SCAN (never KEYS), values and TTLs pipelined.
import { loadDriver } from './load.js';

function globEscape(text) {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export async function openRedis({ url, prefix = 'sess:', scanCount = 1000, label }) {
  const { createClient } = await loadDriver('redis', 'the redis source');
  const client = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  let failure = null;
  client.on('error', (error) => {
    failure ??= error;
  });
  await client.connect();
  return {
    label,
    async *batches() {
      for await (const keys of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: scanCount })) {
        if (failure) throw failure;
        const list = Array.isArray(keys) ? keys : [keys];
        if (list.length === 0) continue;
        const [values, ttls] = await Promise.all([
          client.mGet(list),
          Promise.all(list.map((k) => client.pTTL(k))),
        ]);
        const now = Date.now();
        const batch = [];
        for (let i = 0; i < list.length; i += 1) {
          if (values[i] === null || ttls[i] === -2) continue; // gone since the scan saw it
          batch.push({
            id: list[i].slice(prefix.length),
            session: values[i],
            storeExpires: ttls[i] >= 0 ? now + ttls[i] : null,
          });
        }
        yield batch;
      }
    },
    async close() {
      if (client.isOpen) await client.quit().catch(() => client.destroy?.());
    },
  };
}
