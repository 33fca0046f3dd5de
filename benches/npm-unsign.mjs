// Benchmark (not a test): the npm package's `unsign` vs `cookie-signature`'s, in one Node process,
// on the same inputs (express-session style session cookies: `s:` stripped, 32-character ids, one
// secret string, 90% valid). Prints ns/call, calls/s and the ratio to cookie-signature as a Markdown table. Run: node benches/npm-unsign.mjs
// (after scripts/build-pkg.sh; uses tests/node_modules for cookie-signature).
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import * as sessiongate from '../pkg/src/node.js';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const cookieSignature = require('cookie-signature');

const SECRET = 'keyboard cat but at least thirty-two bytes long';
const inputs = Array.from({ length: 1000 }, (_, i) => {
  const signed = cookieSignature.sign(randomBytes(24).toString('base64url'), SECRET);
  return i % 10 === 9 ? `${signed.slice(0, -1)}A` : signed;
});

/**
 * ns per call of each implementation: warm-up, then rounds of 100k calls interleaved across the
 * implementations (so a busy neighbour slows all of them alike), best round kept.
 */
function measure(implementations, rounds = 9, calls = 100_000) {
  let sink = 0;
  const best = implementations.map(() => Infinity);
  for (const [, unsign] of implementations) {
    for (let i = 0; i < 50_000; i++) sink += unsign(inputs[i % inputs.length], SECRET) === false ? 0 : 1;
  }
  for (let round = 0; round < rounds; round++) {
    implementations.forEach(([, unsign], k) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) sink += unsign(inputs[i % inputs.length], SECRET) === false ? 0 : 1;
      best[k] = Math.min(best[k], Number(process.hrtime.bigint() - start) / calls);
    });
  }
  if (sink === 0) throw new Error('nothing verified');
  return implementations.map(([name], k) => ({ name, nsPerCall: best[k], opsPerSecond: 1e9 / best[k] }));
}

// Same verdicts first: a benchmark of a wrong answer is worthless.
for (const input of inputs) {
  if (sessiongate.unsign(input, SECRET) !== cookieSignature.unsign(input, SECRET)) throw new Error(`verdicts differ on ${input}`);
}
const signer = sessiongate.createSigner(SECRET);
const [theirs, ours, prepared] = measure([
  ['cookie-signature 1.0.7 unsign', cookieSignature.unsign],
  ['sessiongate unsign (Wasm)', sessiongate.unsign],
  ['sessiongate createSigner().unsign', (input) => signer.unsign(input)],
]);

console.log(`# unsign, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('| implementation | ns/call | calls/s | vs cookie-signature |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of [theirs, ours, prepared]) {
  console.log(`| ${r.name} | ${r.nsPerCall.toFixed(0)} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${(theirs.nsPerCall / r.nsPerCall).toFixed(2)}x |`);
}
