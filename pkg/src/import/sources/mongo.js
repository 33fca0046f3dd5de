// connect-mongo: documents `{_id: <id>, expires: Date, session: <JSON text, or the object with
// stringify: false>}`. Sessions encrypted with its `crypto` option (kruptein, AES-256-GCM by
// default) are decrypted the way connect-mongo does, with that option's secret.
import { promisify } from 'node:util';
import { loadDriver } from './load.js';
import { ImportError } from '../builder.js';

// connect-mongo's defaults for its `crypto` option.
const CRYPTO_DEFAULTS = {
  algorithm: 'aes-256-gcm',
  hashing: 'sha512',
  encodeas: 'base64',
  key_size: 32,
  iv_size: 16,
  at_size: 16,
};

function isJsonText(text) {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('"') || t.startsWith('[');
}

/**
 * `collectionObject` (a driver collection, or anything with an async-iterable `find()`) replaces
 * `url`/`db` when given, e.g. in tests.
 */
export async function openMongo({ url, db, collection: collectionName = 'sessions', cryptoSecret = null, collectionObject: injected, label }) {
  let client = null;
  let collection;
  if (injected) {
    collection = injected;
  } else {
    const mongodb = await loadDriver('mongodb', 'the mongo source');
    client = new mongodb.MongoClient(url, { serverSelectionTimeoutMS: 5000 });
    await client.connect();
    collection = client.db(db).collection(collectionName);
  }
  let decrypt = null;
  if (cryptoSecret) {
    const kruptein = (await loadDriver('kruptein', 'decrypting connect-mongo sessions', 'connect-mongo')).default;
    const instance = kruptein({ ...CRYPTO_DEFAULTS, secret: cryptoSecret });
    const get = promisify(instance.get).bind(instance);
    decrypt = async (text) => {
      const plain = await get(cryptoSecret, text);
      return typeof plain === 'string' ? plain : JSON.stringify(plain);
    };
  }
  return {
    label,
    async *batches() {
      let batch = [];
      let decrypted = 0;
      let undecryptable = 0;
      for await (const doc of collection.find({})) {
        let session = doc.session;
        if (typeof session === 'string' && !isJsonText(session)) {
          if (!decrypt) {
            throw new ImportError(
              `${label}: the sessions are encrypted (connect-mongo's crypto option): pass --crypto-secret-env NAME, ` +
                'an environment variable holding that option\'s secret',
            );
          }
          try {
            session = await decrypt(session);
          } catch {
            session = null;
          }
          if (typeof session !== 'string') {
            undecryptable += 1;
            batch.push({ id: String(doc._id), skip: 'not_decryptable' });
            continue;
          }
          decrypted += 1;
        }
        // stringify: true stores JSON text; with crypto, the decrypted text may itself hold JSON text.
        if (typeof session === 'string') {
          try {
            const parsed = JSON.parse(session);
            if (typeof parsed === 'string') session = parsed;
          } catch {
            /* the mapper counts it as not JSON */
          }
        }
        batch.push({ id: String(doc._id), session, storeExpires: doc.expires ?? null });
        if (batch.length === 1000) {
          yield batch;
          batch = [];
        }
      }
      yield batch;
      if (undecryptable > 0 && decrypted === 0) {
        throw new ImportError(
          `${label}: no encrypted session could be decrypted with the given secret (a wrong secret, or crypto ` +
            'options other than connect-mongo\'s defaults)',
        );
      }
    },
    async close() {
      await client?.close();
    },
  };
}
