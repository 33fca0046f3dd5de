// Benchmark (not a test): `sessiongate import redis` of 100,000 connect-redis sessions from a local
// redis-server into bulk files. Target: under 30 s. Needs pkg/dist (scripts/build-pkg.sh), the npm
// packages of tests/ and redis-server (scripts/ensure-store-servers.sh).
//   node benches/import.mjs [sessions, default 100000]
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT, TESTS, startRedis, tmpDir } from '../tests/import/helpers.mjs';

const total = Number(process.argv[2] ?? 100_000);
const fromTests = createRequire(path.join(TESTS, 'package.json'));
const { createClient } = await import(pathToFileURL(fromTests.resolve('redis')).href);

const redis = await startRedis();
const work = tmpDir('bench');
try {
  const client = createClient({ url: redis.url });
  await client.connect();
  const fill = Date.now();
  const expires = new Date(Date.now() + 86_400_000).toISOString();
  for (let start = 0; start < total; start += 5000) {
    const multi = client.multi();
    for (let i = start; i < Math.min(total, start + 5000); i += 1) {
      const id = randomBytes(24).toString('base64url'); // express-session's uid-safe(24)
      const sess = {
        cookie: { originalMaxAge: 86_400_000, expires, secure: true, httpOnly: true, path: '/', sameSite: 'lax' },
        passport: { user: `user-${i}` },
        role: i % 10 === 0 ? 'admin' : 'member',
        email: `user-${i}@example.com`,
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
      };
      multi.set(`sess:${id}`, JSON.stringify(sess), { EX: 86_400 });
    }
    await multi.exec();
  }
  await client.quit();
  console.log(`filled ${total.toLocaleString('en-US')} sessions in ${((Date.now() - fill) / 1000).toFixed(1)} s`);

  const started = process.hrtime.bigint();
  const { stdout } = await promisify(execFile)(process.execPath, [
    path.join(ROOT, 'pkg/src/bin/sessiongate.js'), 'import', 'redis', '--url', redis.url,
    '--data', 'role,email', '--user-agent-field', 'userAgent',
    '--out', path.join(work, 'out'), '--manifest', path.join(work, 'manifest'),
  ], { cwd: TESTS, maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const imported = Number(/imported: ([\d,]+)/.exec(stdout)[1].replace(/,/g, ''));
  const bytes = fs.readdirSync(path.join(work, 'out')).reduce((n, f) => n + fs.statSync(path.join(work, 'out', f)).size, 0);
  console.log(`sessiongate import redis: ${imported.toLocaleString('en-US')} sessions into ${fs.readdirSync(path.join(work, 'out')).length} files `
    + `(${(bytes / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s (${Math.round(imported / seconds).toLocaleString('en-US')} sessions/s); target < 30 s`);
} finally {
  await redis.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
