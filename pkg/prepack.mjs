// Runs before `npm pack` and `npm publish` (not part of the package): refuses to pack an incomplete
// package, saying the one thing to do first.
import fs from 'node:fs';

const generated = ['primitives', 'origin', 'gate'].flatMap((name) => [`dist/${name}.js`, `dist/${name}_bg.wasm`]);
const missing = generated.filter((file) => !fs.existsSync(file));
if (missing.length > 0) {
  console.error(
    `sessiongate: the Wasm build is missing (${missing.join(', ')}). From the repository root, run first:\n` +
      '  ./scripts/build-pkg.sh',
  );
  process.exit(1);
}
if (!fs.existsSync('LICENSE')) {
  if (fs.existsSync('../LICENSE')) {
    fs.copyFileSync('../LICENSE', 'LICENSE');
  } else {
    console.error('sessiongate: no LICENSE to pack (neither pkg/LICENSE nor the repository root\'s LICENSE). Add the license text first.');
    process.exit(1);
  }
}
