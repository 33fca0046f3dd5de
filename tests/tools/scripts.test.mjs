// The shell scripts are shellcheck-clean and use no GNU-only flags, so that the build and dev scripts
// have a chance on macOS and the BSDs (only Linux is tested here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const scripts = [
  ...fs.readdirSync(path.join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/${f}`),
  '.ci/run',
];

test('shellcheck finds nothing in the scripts', () => {
  const run = spawnSync('shellcheck', ['--external-sources', '--severity=style', ...scripts], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.ok(!run.error, `shellcheck could not run (scripts/test-tools.sh installs it): ${run.error}`);
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

// GNU-only spellings, with what to use instead.
const gnuOnly = [
  [/\bsed\s+(?:-[a-zA-Z]+\s+)*-i(?:\s|'')/, "sed -i without a suffix (GNU) or with '' (BSD): use sed -i.bak and remove the .bak"],
  [/\breadlink\s+-[a-zA-Z]*f/, 'readlink -f: use cd "$(dirname …)" && pwd'],
  [/\bgrep\s+(?:-[a-zA-Z]+\s+)*-[a-zA-Z]*P/, 'grep -P: use grep -E or awk'],
  [/\bstat\s+(?:-[a-zA-Z]+\s+)*-c\b/, 'stat -c: use wc -c or ls'],
  [/\bstat\s+--/, 'stat --long-options'],
  [/\bdate\s+(?:-[a-zA-Z]+\s+)*-d\b/, 'date -d'],
  [/\bxargs\s+(?:-[a-zA-Z]+\s+)*-r\b|--no-run-if-empty/, 'xargs -r'],
  [/\bsort\s+(?:-[a-zA-Z]+\s+)*-V\b/, 'sort -V'],
  [/\bfind\b[^\n|;]*-printf/, 'find -printf'],
  [/\bcp\s+(?:-[a-zA-Z]+\s+)*--/, 'cp --long-options'],
  [/\bmktemp\s+--/, 'mktemp --long-options'],
  [/\bgrep\s+--(?!-)/, 'grep --long-options'],
  [/\bhead\s+-c\s*-|\btail\s+-n\s*\+?\d+\s*-/, 'negative head/tail counts'],
  [/(?<![-\w./=])(?:timeout|nproc|realpath|sha256sum|md5sum)\b/, 'a GNU coreutils command macOS lacks'],
];

// bench.sh is a Linux-only tool (valgrind, /proc, Debian packages), said so in its header.
const portable = scripts.filter((s) => s !== 'scripts/bench.sh');

test('no GNU-only flags or commands in the scripts', () => {
  const found = [];
  for (const script of portable) {
    const lines = fs.readFileSync(path.join(ROOT, script), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/^\s*#.*$/, '');
      for (const [pattern, why] of gnuOnly) {
        if (pattern.test(code)) found.push(`${script}:${i + 1}: ${why}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, []);
});
