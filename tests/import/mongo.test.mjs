// connect-mongo. No MongoDB server can be installed here: its documents are written by
// connect-mongo's own code (MongoStore, with its crypto option) into a stub collection, and the
// import's mongo source reads that collection → local KV → gateway. The real driver path
// (MongoClient) is the only part not run here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import MongoStore from 'connect-mongo';
import { main } from '../../pkg/src/import/cli.js';
import { TESTS, tmpDir } from './helpers.mjs';
import { storeScenario } from './scenario.mjs';

// The import loads kruptein (an optional dependency, like every driver) from the working directory's
// project, as `npx sessiongate import` run in an app's directory does.
process.chdir(TESTS);

const CRYPTO_SECRET = 'Mongo-Crypto-Secret-42!?';

/** The few collection methods connect-mongo and the import use, over a Map of documents. */
class StubCollection {
  docs = new Map();

  async createIndex() {
    return 'expires_1';
  }

  async updateOne(filter, update, options = {}) {
    const existing = this.docs.get(filter._id);
    if (!existing && !options.upsert) return { matchedCount: 0, upsertedCount: 0 };
    const doc = structuredClone({ ...(existing ?? { _id: filter._id, ...update.$setOnInsert }), ...update.$set });
    this.docs.set(filter._id, doc);
    return { matchedCount: existing ? 1 : 0, upsertedCount: existing ? 0 : 1 };
  }

  async findOne(query) {
    const doc = this.docs.get(query._id);
    if (!doc || (doc.expires && doc.expires <= new Date())) return null;
    return structuredClone(doc);
  }

  async deleteOne(filter) {
    return { deletedCount: this.docs.delete(filter._id) ? 1 : 0 };
  }

  find() {
    const docs = [...this.docs.values()].map((d) => structuredClone(d));
    return (async function* cursor() {
      yield* docs;
    })();
  }
}

function stubClient(collection) {
  return { db: () => ({ collection: () => collection }) };
}

/** `sessiongate import` in this process, with the stub collection injected as the source's. */
function inProcess(collection, env = {}) {
  return async (args) => {
    let stdout = '';
    let stderr = '';
    const saved = {};
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    try {
      const code = await main(args, {
        out: { write: (s) => { stdout += s; } },
        err: { write: (s) => { stderr += s; }, isTTY: false },
        inject: { mongoCollection: collection },
      });
      return { code, stdout, stderr };
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
}

test('connect-mongo with its crypto option: decrypted with its secret; every live session comes over', async () => {
  const collection = new StubCollection();
  const store = MongoStore.create({ client: stubClient(collection), crypto: { secret: CRYPTO_SECRET } });
  const { first } = await storeScenario({
    label: 'mongo',
    makeStore: async () => ({ store, close: async () => {} }),
    sourceArgs: ['mongo', '--url', 'mongodb://stub.invalid/app', '--crypto-secret-env', 'APP_MONGO_CRYPTO'],
    runImport: inProcess(collection, { APP_MONGO_CRYPTO: CRYPTO_SECRET }),
  });
  assert.match(first.stdout, /expired 5/);
  const sample = [...collection.docs.values()][0];
  assert.equal(typeof sample.session, 'string');
  assert.ok(!sample.session.startsWith('{'), 'the stub holds what connect-mongo encrypted');
});

test('connect-mongo: encrypted sessions without the secret are refused with a clear message; a wrong secret too', async () => {
  const collection = new StubCollection();
  const store = MongoStore.create({ client: stubClient(collection), crypto: { secret: CRYPTO_SECRET } });
  await new Promise((resolve, reject) => store.set('Mxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', {
    cookie: { expires: new Date(Date.now() + 3_600_000).toISOString(), originalMaxAge: 3_600_000 },
    passport: { user: 'ann' },
  }, (e) => (e ? reject(e) : resolve())));
  const work = tmpDir('mongo-crypto');
  const base = ['mongo', '--url', 'mongodb://stub.invalid/app', '--out', path.join(work, 'out'), '--manifest', path.join(work, 'm')];
  const without = await inProcess(collection)(base);
  assert.equal(without.code, 1);
  assert.match(without.stderr, /mongo source mongodb:\/\/stub\.invalid\/app \(collection sessions\): the sessions are encrypted \(connect-mongo's crypto option\): pass --crypto-secret-env/);
  assert.match(without.stderr, /Nothing was written/);
  const wrong = await inProcess(collection, { K: 'Wrong-Secret-99!?' })([...base, '--crypto-secret-env', 'K']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /no encrypted session could be decrypted/);
  assert.ok(!fs.existsSync(path.join(work, 'out')) && !fs.existsSync(path.join(work, 'm')));
  const right = await inProcess(collection, { K: CRYPTO_SECRET })([...base, '--crypto-secret-env', 'K']);
  assert.equal(right.code, 0, right.stderr);
  assert.match(right.stdout, /imported: 1\n/);
  fs.rmSync(work, { recursive: true, force: true });
});

test('connect-mongo with stringify: false (sessions stored as objects)', async () => {
  const collection = new StubCollection();
  const store = MongoStore.create({ client: stubClient(collection), stringify: false });
  await new Promise((resolve, reject) => store.set('Oxv1yjq3V2wFQ8XoVQ1ulC6qC0Cj0uAH', {
    cookie: { expires: new Date(Date.now() + 3_600_000).toISOString(), originalMaxAge: 3_600_000 },
    passport: { user: 'obi' },
  }, (e) => (e ? reject(e) : resolve())));
  assert.equal(typeof [...collection.docs.values()][0].session, 'object');
  const work = tmpDir('mongo-objects');
  const result = await inProcess(collection)(['mongo', '--url', 'mongodb://stub.invalid/app', '--out', path.join(work, 'out'), '--manifest', path.join(work, 'm')]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /imported: 1\n/);
  fs.rmSync(work, { recursive: true, force: true });
});
