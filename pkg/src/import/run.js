// One import run: read every session of the source, map it, build the gateway's entries with the
// Wasm builder, write the bulk files, then the delete file for sessions gone from the old store,
// then the manifest. Nothing is left half-written: on any failure the output directory is removed
// and the manifest is untouched.
import fs from 'node:fs';
import { createBuilder, ImportError } from './builder.js';
import { createMapper } from './map.js';
import { createOutputDir, PutFiles, readManifest, writeDeleteFiles, writeManifest } from './output.js';

export { ImportError };

/**
 * @param {object} o
 * @param {{name: string, label: string, batches(): AsyncIterable<Array<{id, session, storeExpires}>>, close(): Promise<void>}} o.source
 * @param {object} o.mapping   options of createMapper
 * @param {number} o.idleTimeout, o.absoluteTimeout  seconds, as the deployment's
 * @param {string} o.out       new directory for the files (ignored with dryRun)
 * @param {string} o.manifest  manifest path
 * @param {string} o.target    the namespace the files are for (kept in the manifest)
 * @param {number} o.perFile   sessions per put file
 * @param {boolean} o.dryRun
 * @param {number} [o.now]     import time, Unix ms
 * @param {(read: number) => void} [o.onProgress]
 */
export async function runImport(o) {
  const now = o.now ?? Date.now();
  const started = Date.now();
  const builder = await createBuilder(o.idleTimeout, o.absoluteTimeout);
  const map = createMapper(o.mapping);
  const manifest = readManifest(o.manifest, o.target);
  if (!o.dryRun) createOutputDir(o.out);
  const puts = o.dryRun ? null : new PutFiles(o.out, o.perFile);

  const counts = { read: 0, imported: 0, alreadyImported: 0, skipped: {} };
  const skip = (reason) => {
    counts.skipped[reason] = (counts.skipped[reason] ?? 0) + 1;
  };
  const live = new Set(); // ids of the manifest still signed in, same user, in the old store
  const added = [];
  try {
    try {
      for await (const batch of o.source.batches()) {
        for (const item of batch) {
          counts.read += 1;
          const mapped = map(item);
          if (mapped.skip) {
            skip(mapped.skip);
            continue;
          }
          const { old } = mapped;
          const earlier = manifest.get(old.id);
          if (earlier) {
            // Never rewritten: the gateway may have ended it since.
            if (earlier.user === old.user && old.expires > now) live.add(old.id);
            counts.alreadyImported += 1;
            continue;
          }
          let result;
          try {
            result = JSON.parse(builder.build(JSON.stringify(old), now));
          } catch {
            // The builder refuses only what is not a session object (e.g. a time past 2^53).
            skip('invalid_session');
            continue;
          }
          if (result.skip) {
            skip(result.skip);
            continue;
          }
          counts.imported += 1;
          const ttl = Math.max(...result.entries.map((e) => e.expiration_ttl));
          added.push({ id: old.id, user: old.user, keys: result.entries.map((e) => e.key), exp: now + ttl * 1000 });
          puts?.add(result.entries);
        }
        o.onProgress?.(counts.read);
      }
    } catch (error) {
      if (error instanceof ImportError && error.message.startsWith(o.source.label)) throw error;
      throw new ImportError(`${o.source.label}: ${error instanceof ImportError ? error.message : describeError(error)}`);
    } finally {
      await o.source.close().catch(() => {});
    }

    // Sessions an earlier run wrote that the old store no longer holds (logged out there).
    const deleteKeys = [];
    let deleted = 0;
    const next = new Map();
    for (const [id, entry] of manifest) {
      if (entry.exp <= now) continue; // gone from KV by its TTL: forget it
      if (!entry.deleted && !live.has(id)) {
        deleteKeys.push(...entry.keys);
        deleted += 1;
        next.set(id, { ...entry, deleted: true });
      } else next.set(id, entry);
    }
    for (const entry of added) next.set(entry.id, entry);

    let files = [];
    let deleteFiles = [];
    if (!o.dryRun) {
      puts.flush();
      files = puts.files;
      deleteFiles = writeDeleteFiles(o.out, deleteKeys, 10_000);
      if (files.length === 0 && deleteFiles.length === 0) fs.rmSync(o.out, { recursive: true, force: true });
      writeManifest(o.manifest, o.target, next);
    }
    return {
      ...counts,
      deleted,
      kvWrites: counts.imported * 2,
      kvDeletes: deleteKeys.length,
      files,
      deleteFiles,
      out: files.length || deleteFiles.length ? o.out : null,
      elapsedMs: Date.now() - started,
      dryRun: Boolean(o.dryRun),
    };
  } catch (error) {
    if (!o.dryRun) fs.rmSync(o.out, { recursive: true, force: true });
    throw error;
  }
}

/** An error's message without anything that could be a secret (URLs lose their credentials). */
export function describeError(error) {
  const text = error?.message || error?.code || String(error);
  return redact(text.split('\n')[0]);
}

export function redact(text) {
  return String(text).replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}
