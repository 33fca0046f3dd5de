// `sessiongate import <source> [options]`: the command line around runImport.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ImportError, redact, runImport } from './run.js';

export const USAGE = `Usage: sessiongate import <source> [options]

Copies every signed-in session of an express-session store into files for
\`wrangler kv bulk put\`, under the same session ids, so existing cookies keep working.

Sources
  redis      connect-redis          --url redis://host:6379 [--prefix sess:]
  postgres   connect-pg-simple      --url postgres://… [--table session] [--schema public]
             or any table           --url postgres://… --query "SELECT … AS id, … AS user, … AS expires …"
  dynamodb   connect-dynamodb       [--table sessions] [--hash-key id] [--prefix sess:] [--region r] [--endpoint url]
  mongo      connect-mongo          --url mongodb://… [--db name] [--collection sessions] [--crypto-secret-env NAME]
  dump       JSON of store.all()    --file sessions.json   (MemoryStore and any store with all())
  --url-env NAME reads the URL from an environment variable instead (keeps passwords out of ps).

Mapping
  --user PATH              where the user is (default passport.user; with --query: user)
  --require PATH=JSON      only sessions where PATH equals JSON count as signed in (repeatable)
  --data NAME[=PATH],…     fields passed on to the origin in the assertion's data (repeatable)
  --user-agent-field PATH  the User-Agent the app stored, so user-agent binding continues

Gateway (must match the deployment)
  --idle-timeout S         IDLE_TIMEOUT (default 1800)
  --absolute-timeout S     ABSOLUTE_TIMEOUT (default 86400)
  --binding NAME | --namespace-id ID   the KV namespace (default binding SESSIONS)
  --remote | --local       where the printed commands load the files (default --remote)
  --env NAME, --config FILE, --persist-to DIR   passed on to the printed wrangler commands

Output
  --out DIR                a new directory for the files (default sessiongate-import-<time>)
  --manifest FILE          what earlier runs wrote (default sessiongate-import.manifest)
  --per-file N             sessions per file (default 5000)
  --dry-run                read and count only: no file, no manifest change
`;

const OPTIONS = {
  url: { type: 'string' },
  'url-env': { type: 'string' },
  prefix: { type: 'string' },
  table: { type: 'string' },
  schema: { type: 'string' },
  query: { type: 'string' },
  'hash-key': { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  db: { type: 'string' },
  collection: { type: 'string' },
  'crypto-secret-env': { type: 'string' },
  file: { type: 'string' },
  user: { type: 'string' },
  require: { type: 'string', multiple: true },
  data: { type: 'string', multiple: true },
  'user-agent-field': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'absolute-timeout': { type: 'string' },
  binding: { type: 'string' },
  'namespace-id': { type: 'string' },
  remote: { type: 'boolean' },
  local: { type: 'boolean' },
  env: { type: 'string' },
  config: { type: 'string' },
  'persist-to': { type: 'string' },
  out: { type: 'string' },
  manifest: { type: 'string' },
  'per-file': { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

class UsageError extends Error {}

function wholeNumber(text, name, fallback, max = 31_536_000) {
  if (text === undefined) return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${name} must be a whole number from 1 to ${max}`);
  }
  return Number(text);
}

function parseRequire(text) {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--require ${text}: expected PATH=JSON, e.g. mfaPending=false`);
  try {
    return [text.slice(0, eq), JSON.parse(text.slice(eq + 1))];
  } catch {
    throw new UsageError(`--require ${text}: the value after = must be JSON (a string needs quotes: role="admin")`);
  }
}

function parseData(list) {
  return list.flatMap((text) => text.split(',')).filter(Boolean).map((field) => {
    const eq = field.indexOf('=');
    const [name, at] = eq > 0 ? [field.slice(0, eq), field.slice(eq + 1)] : [field.split('.').pop(), field];
    return [name, at];
  });
}

function shellQuote(text) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function sourceOptions(source, v) {
  const url = v['url-env'] !== undefined ? process.env[v['url-env']] : v.url;
  if (v['url-env'] !== undefined && !url) throw new UsageError(`--url-env ${v['url-env']}: that environment variable is empty`);
  const shownUrl = url === undefined ? '' : ` ${redact(url)}`;
  switch (source) {
    case 'redis': {
      if (!url) throw new UsageError('the redis source needs --url (or --url-env)');
      const prefix = v.prefix ?? 'sess:';
      return { kind: 'redis', url, prefix, label: `redis source${shownUrl} (prefix "${prefix}")` };
    }
    case 'postgres': {
      if (!url) throw new UsageError('the postgres source needs --url (or --url-env)');
      if (v.query && (v.table || v.schema)) throw new UsageError('--query replaces --table and --schema: give one or the other');
      const what = v.query ? 'query' : `table ${v.schema ? `${v.schema}.` : ''}${v.table ?? 'session'}`;
      return { kind: 'postgres', url, table: v.table, schema: v.schema, query: v.query, label: `postgres source${shownUrl} (${what})` };
    }
    case 'dynamodb': {
      const table = v.table ?? 'sessions';
      return {
        kind: 'dynamodb', table, hashKey: v['hash-key'], prefix: v.prefix, region: v.region, endpoint: v.endpoint,
        label: `dynamodb source (table ${table}${v.endpoint ? ` at ${redact(v.endpoint)}` : ''})`,
      };
    }
    case 'mongo': {
      if (!url) throw new UsageError('the mongo source needs --url (or --url-env)');
      let cryptoSecret = null;
      if (v['crypto-secret-env'] !== undefined) {
        cryptoSecret = process.env[v['crypto-secret-env']];
        if (!cryptoSecret) throw new UsageError(`--crypto-secret-env ${v['crypto-secret-env']}: that environment variable is empty`);
      }
      const collection = v.collection ?? 'sessions';
      return { kind: 'mongo', url, db: v.db, collection, cryptoSecret, label: `mongo source${shownUrl} (collection ${collection})` };
    }
    case 'dump':
      if (!v.file) throw new UsageError('the dump source needs --file (JSON of store.all())');
      return { kind: 'dump', file: v.file, label: `dump source ${v.file}` };
    default:
      throw new UsageError(`unknown source "${source}": redis, postgres, dynamodb, mongo or dump`);
  }
}

/** Opens a source from its options; `inject` lets tests hand the mongo source a collection. */
export async function openSource(options, inject = {}) {
  try {
    switch (options.kind) {
      case 'redis':
        return await (await import('./sources/redis.js')).openRedis(options);
      case 'postgres':
        return await (await import('./sources/postgres.js')).openPostgres(options);
      case 'dynamodb':
        return await (await import('./sources/dynamodb.js')).openDynamo(options);
      case 'mongo':
        return await (await import('./sources/mongo.js')).openMongo({ ...options, collectionObject: inject.mongoCollection });
      default:
        return await (await import('./sources/dump.js')).openDump(options);
    }
  } catch (error) {
    if (error instanceof ImportError && error.message.startsWith(options.label)) throw error;
    const { describeError } = await import('./run.js');
    throw new ImportError(`${options.label}: ${error instanceof ImportError ? error.message : describeError(error)}`);
  }
}

const number = (n) => n.toLocaleString('en-US');

/**
 * Runs `sessiongate import` with `argv` (after the word `import`). Writes the summary to `out`
 * and errors and progress to `err`. Returns the exit status.
 */
export async function main(argv, { out = process.stdout, err = process.stderr, inject = {}, now } = {}) {
  let v;
  let positionals;
  try {
    ({ values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    err.write(`sessiongate import: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    out.write(USAGE);
    return 0;
  }
  let settings;
  try {
    if (positionals.length !== 1) throw new UsageError('give exactly one source: redis, postgres, dynamodb, mongo or dump');
    if (v.remote && v.local) throw new UsageError('--remote and --local: choose one');
    if (v.binding && v['namespace-id']) throw new UsageError('--binding and --namespace-id: choose one');
    if (v['persist-to'] && !v.local) throw new UsageError('--persist-to goes with --local');
    const source = sourceOptions(positionals[0], v);
    const mode = v.local ? 'local' : 'remote';
    const namespace = v['namespace-id'] ? ['--namespace-id', v['namespace-id']] : ['--binding', v.binding ?? 'SESSIONS'];
    const flags = [...namespace, `--${mode}`];
    if (v.env) flags.push('--env', v.env);
    if (v.config) flags.push('--config', path.resolve(v.config));
    if (v['persist-to']) flags.push('--persist-to', path.resolve(v['persist-to']));
    const stamp = new Date(now ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    settings = {
      source,
      flags,
      mapping: {
        user: v.user ?? (source.query ? 'user' : 'passport.user'),
        require: (v.require ?? []).map(parseRequire),
        data: parseData(v.data ?? []),
        userAgent: v['user-agent-field'] ?? null,
      },
      idleTimeout: wholeNumber(v['idle-timeout'], '--idle-timeout', 1800),
      absoluteTimeout: wholeNumber(v['absolute-timeout'], '--absolute-timeout', 86400),
      out: path.resolve(v.out ?? `sessiongate-import-${stamp}`),
      manifest: path.resolve(v.manifest ?? 'sessiongate-import.manifest'),
      target: `${namespace.join(' ')}${v.env ? ` --env ${v.env}` : ''} (${mode})`,
      perFile: wholeNumber(v['per-file'], '--per-file', 5000, 5000),
      dryRun: Boolean(v['dry-run']),
    };
    if (settings.absoluteTimeout < settings.idleTimeout) throw new UsageError('--absolute-timeout must be at least --idle-timeout');
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    err.write(`sessiongate import: ${error.message}\n(sessiongate import --help for the options)\n`);
    return 2;
  }

  const tty = Boolean(err.isTTY);
  const started = Date.now();
  let lastDraw = 0;
  const onProgress = (read) => {
    const t = Date.now();
    if (!tty || t - lastDraw < 200) return;
    lastDraw = t;
    const rate = Math.round(read / Math.max((t - started) / 1000, 0.001));
    err.write(`\r\x1b[K  read ${number(read)} sessions (${number(rate)}/s)`);
  };
  let summary;
  try {
    const source = await openSource(settings.source, inject);
    summary = await runImport({ ...settings, source, onProgress, now });
  } catch (error) {
    if (tty) err.write('\r\x1b[K');
    if (!(error instanceof ImportError)) {
      const { describeError } = await import('./run.js');
      err.write(`sessiongate import failed: ${describeError(error)}\n`);
    } else err.write(`sessiongate import failed: ${error.message}\n`);
    err.write(
      settings.dryRun
        ? 'Nothing was written (dry run).\n'
        : `Nothing was written: no file is left in ${settings.out}, and the manifest ${settings.manifest} is unchanged.\n`,
    );
    return 1;
  }
  if (tty) err.write('\r\x1b[K');
  out.write(formatSummary(summary, settings));
  return 0;
}

function formatSummary(s, settings) {
  const lines = [];
  const secs = (s.elapsedMs / 1000).toFixed(1);
  lines.push(`sessiongate import from the ${settings.source.label}${s.dryRun ? ' (dry run: nothing written)' : ''}`);
  lines.push(`  read:     ${number(s.read)} sessions in ${secs} s`);
  lines.push(`  imported: ${number(s.imported)}${s.dryRun ? ' (would be)' : ''}`);
  if (s.alreadyImported) lines.push(`  already imported by an earlier run (never rewritten): ${number(s.alreadyImported)}`);
  const skipped = Object.entries(s.skipped).sort(([a], [b]) => a.localeCompare(b));
  const skippedTotal = skipped.reduce((n, [, c]) => n + c, 0);
  lines.push(`  skipped:  ${number(skippedTotal)}${skipped.length ? ` (${skipped.map(([r, c]) => `${r} ${number(c)}`).join(', ')})` : ''}`);
  if (s.deleted) {
    lines.push(`  gone from the old store since an earlier run (logged out there): ${number(s.deleted)}, to delete from KV`);
  }
  lines.push('');
  const writes = `${number(s.kvWrites)} KV writes${s.kvDeletes ? ` and ${number(s.kvDeletes)} KV deletes` : ''}`;
  lines.push(`Cost: ${writes} (2 writes per session; Workers KV's Free plan allows 1,000 writes and 1,000 deletes a day).`);
  if (s.kvWrites > 1000 || s.kvDeletes > 1000) lines.push('  That is more than the Free plan allows in one day: load the files on a paid plan, or over several days.');
  if (s.dryRun) {
    lines.push('');
    return `${lines.join('\n')}\n`;
  }
  lines.push('');
  if (!s.out) {
    lines.push('Nothing to load.');
  } else {
    lines.push(`Files in ${s.out} (mode 0600: they hold session ids):`);
    for (const f of s.files) lines.push(`  ${path.basename(f.file)}  ${number(f.sessions)} sessions`);
    for (const f of s.deleteFiles) lines.push(`  ${path.basename(f.file)}  ${number(f.keys)} keys to delete`);
    lines.push('');
    lines.push(`Load them into ${settings.target} (each file can be retried on its own):`);
    const flags = settings.flags.map(shellQuote).join(' ');
    for (const f of s.files) lines.push(`  npx wrangler kv bulk put ${flags} ${shellQuote(f.file)}`);
    for (const f of s.deleteFiles) lines.push(`  npx wrangler kv bulk delete ${flags} --force ${shellQuote(f.file)}`);
    lines.push('');
    lines.push(`Then delete the files: rm -r ${shellQuote(s.out)}`);
    lines.push('Load them before the next run: the manifest counts them as loaded.');
  }
  lines.push(`Manifest of imported sessions: ${settings.manifest} (mode 0600; keep it for the next run, it holds session ids).`);
  return `${lines.join('\n')}\n`;
}
