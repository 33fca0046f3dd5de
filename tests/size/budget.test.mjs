// Size budget of the Wasm binaries (not a timing: a size). The Worker's Wasm is its cold start, and
// the npm primitives' Wasm is what a browser or a Node origin downloads. gzip at level 9, as a CDN
// would serve it. Run after scripts/build-worker.sh and scripts/build-pkg.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT } from '../e2e/helpers.mjs';

// Decimal kilobytes: the stricter reading of the budget.
const KB = 1000;
const budgets = [
  { file: 'build/index_bg.wasm', what: 'the Worker', gzipBudget: 150 * KB },
  { file: 'pkg/dist/primitives_bg.wasm', what: 'the npm primitives', gzipBudget: 40 * KB },
];

for (const { file, what, gzipBudget } of budgets) {
  test(`${what} (${file}) is at most ${gzipBudget / KB} KB gzip`, () => {
    const bytes = fs.readFileSync(path.join(ROOT, file)); // missing file: the test fails
    const gzip = zlib.gzipSync(bytes, { level: 9 }).length;
    console.log(`${file}: ${bytes.length} bytes raw, ${gzip} bytes gzip (budget ${gzipBudget})`);
    assert.ok(bytes.length > 1000, `${file} looks empty`);
    assert.ok(gzip <= gzipBudget, `${file} is ${gzip} bytes gzip, over the budget of ${gzipBudget}`);
  });
}

/** Names of the functions a Wasm module imports from its JavaScript glue. */
function importsOf(file) {
  const module = new WebAssembly.Module(fs.readFileSync(path.join(ROOT, file)));
  return WebAssembly.Module.imports(module).map((i) => i.name);
}

const RUNTIME_BINDING = /fetch|header|request|response|kv|stream|waituntil/i;

test('the npm primitives import no Worker runtime bindings (only randomness and error plumbing)', () => {
  const imports = importsOf('pkg/dist/primitives_bg.wasm');
  assert.deepEqual(imports.filter((name) => RUNTIME_BINDING.test(name)), []);
  assert.ok(imports.some((name) => name.includes('getRandomValues')), 'session ids use Web Crypto');
  assert.ok(imports.length <= 8, `unexpected imports: ${imports.join(', ')}`);
  // The same check does see them where they are: the embeddable gate talks to KV and fetch.
  assert.ok(importsOf('pkg/dist/gate_bg.wasm').some((name) => RUNTIME_BINDING.test(name)));
});
