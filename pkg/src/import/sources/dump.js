// A JSON dump of `store.all()`: the MemoryStore's `{id: session}` object, or an array of sessions
// carrying their `id` (connect-redis and others). Also any store with all().
import fs from 'node:fs';
import { ImportError } from '../builder.js';

export async function openDump({ file, label }) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ImportError(`${label}: cannot read it: ${error.code ?? error.message}`);
  }
  let dump;
  try {
    dump = JSON.parse(text);
  } catch {
    throw new ImportError(`${label}: not JSON (expected the output of JSON.stringify of store.all())`);
  }
  let items;
  if (Array.isArray(dump)) {
    items = dump.map((s) => {
      const { id, ...session } = s && typeof s === 'object' ? s : {};
      return { id: typeof id === 'string' ? id : '', session: s && typeof s === 'object' ? session : s, storeExpires: null };
    });
  } else if (dump && typeof dump === 'object') {
    items = Object.entries(dump).map(([id, session]) => ({ id, session, storeExpires: null }));
  } else {
    throw new ImportError(`${label}: expected an object of sessions by id, or an array of sessions with an "id"`);
  }
  return {
    label,
    async *batches() {
      for (let i = 0; i < items.length; i += 1000) yield items.slice(i, i + 1000);
    },
    async close() {},
  };
}
