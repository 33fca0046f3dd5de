// Files for `wrangler kv bulk put` / `wrangler kv bulk delete`, and the import manifest. Every file
// is created new (never overwritten) with mode 0600: they hold session ids.
import fs from 'node:fs';
import path from 'node:path';
import { ImportError } from './builder.js';

/** Creates `dir` (it must not exist yet), mode 0700. */
export function createOutputDir(dir) {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if (error.code === 'EEXIST') {
      throw new ImportError(`output directory ${dir} already exists: each run writes into a new directory (--out)`);
    }
    throw new ImportError(`cannot create the output directory ${dir}: ${error.message}`);
  }
}

function writeNew(file, text) {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes entries (`{key, value, expiration_ttl, metadata?}`, as the builder made them) into
 * `<dir>/put-0001.json`, … at most `perFile` sessions each, a session's entries always in one file
 * and in the builder's order (index entry, then record). One file in memory at a time.
 */
export class PutFiles {
  constructor(dir, perFile) {
    this.dir = dir;
    this.perFile = perFile;
    this.files = [];
    this.lines = [];
    this.sessions = 0;
  }

  add(entries) {
    for (const entry of entries) this.lines.push(JSON.stringify(entry));
    this.sessions += 1;
    if (this.sessions === this.perFile) this.flush();
  }

  flush() {
    if (this.sessions === 0) return;
    const file = path.join(this.dir, `put-${String(this.files.length + 1).padStart(4, '0')}.json`);
    writeNew(file, `[\n${this.lines.join(',\n')}\n]\n`);
    this.files.push({ file, sessions: this.sessions, keys: this.lines.length });
    this.lines = [];
    this.sessions = 0;
  }
}

/** `<dir>/delete-0001.json`, … arrays of keys, at most `perFile` keys each. */
export function writeDeleteFiles(dir, keys, perFile) {
  const files = [];
  for (let start = 0; start < keys.length; start += perFile) {
    const chunk = keys.slice(start, start + perFile);
    const file = path.join(dir, `delete-${String(files.length + 1).padStart(4, '0')}.json`);
    writeNew(file, `${JSON.stringify(chunk, null, 0).replace(/","/g, '",\n"')}\n`);
    files.push({ file, keys: chunk.length });
  }
  return files;
}

const MANIFEST_VERSION = 1;

/**
 * The manifest of what earlier runs wrote: one JSON line per session
 * (`{"id","user","keys","exp","deleted"?}`; `keys` are the KV keys the builder made, `exp` when
 * they expire in KV, Unix ms), after a header line naming the namespace it is for.
 */
export function readManifest(file, target) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return new Map();
    throw new ImportError(`cannot read the manifest ${file}: ${error.message}`);
  }
  const lines = text.split('\n').filter(Boolean);
  let header;
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    header = null;
  }
  if (header?.sessiongate_import_manifest !== MANIFEST_VERSION) {
    throw new ImportError(`${file} is not a sessiongate import manifest`);
  }
  if (header.target !== target) {
    throw new ImportError(
      `the manifest ${file} is for ${header.target}, not ${target}: keep one manifest per KV namespace (--manifest)`,
    );
  }
  const entries = new Map();
  for (const [n, line] of lines.slice(1).entries()) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      throw new ImportError(`the manifest ${file} is damaged at line ${n + 2}`);
    }
    entries.set(entry.id, entry);
  }
  return entries;
}

/** Replaces the manifest in one rename (mode 0600). */
export function writeManifest(file, target, entries) {
  const tmp = `${file}.${process.pid}.tmp`;
  const lines = [JSON.stringify({ sessiongate_import_manifest: MANIFEST_VERSION, target })];
  for (const entry of entries.values()) lines.push(JSON.stringify(entry));
  fs.rmSync(tmp, { force: true });
  writeNew(tmp, `${lines.join('\n')}\n`);
  fs.renameSync(tmp, file);
}
