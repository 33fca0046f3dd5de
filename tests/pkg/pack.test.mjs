// `npm pack` gives a tarball that installs into an empty project and works there, with TypeScript
// declarations for every export of every entry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { TESTS, freshProject } from './pack.mjs';

let project;
before(() => {
  project = freshProject();
});
after(() => project?.remove());

test('the tarball holds the built Wasm, the entries and the types, and nothing else', () => {
  const files = project.files.sort();
  for (const required of [
    'package.json', 'README.md', 'dist/primitives_bg.wasm', 'dist/primitives.js', 'dist/origin_bg.wasm',
    'dist/origin.js', 'dist/gate_bg.wasm', 'dist/gate.js', 'src/node.js', 'src/workerd.js', 'src/browser.js',
    'src/gate.js', 'src/express.js', 'types/index.d.ts', 'types/origin.d.ts', 'types/gate.d.ts', 'types/express.d.ts',
  ]) {
    assert.ok(files.includes(required), `${required} in ${files.join(', ')}`);
  }
  const unexpected = files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/|src\/|types\/)/.test(f));
  assert.deepEqual(unexpected, []);
  assert.ok(!files.some((f) => f.endsWith('.rs') || f.includes('_bg.wasm.d.ts')), 'no Rust sources or bindgen internals');
});

test('installed into an empty project, every Node entry works, on this Node and on Node 18', () => {
  const script = `
    import assert from 'node:assert/strict';
    import { sign, unsign, parseCookie, serializeCookie, generateSessionId, createSigner } from 'sessiongate';
    import { verifyAssertion, mintAssertion } from 'sessiongate/origin';
    import { sessiongate } from 'sessiongate/express';
    // cookie-signature's own test vector.
    assert.equal(sign('hello', 'tobiiscool'), 'hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI');
    assert.equal(unsign('hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI', 'tobiiscool'), 'hello');
    assert.equal(unsign('hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI', 'luna'), false);
    assert.equal(createSigner(['a', 'tobiiscool']).unsign(sign('x', 'tobiiscool')), 'x');
    assert.equal(parseCookie('sid=s%3Aabc; a=1').sid, 's:abc');
    assert.equal(serializeCookie('sid', 's:a', { httpOnly: true }), 'sid=s%3Aa; HttpOnly');
    assert.match(generateSessionId(), /^[A-Za-z0-9_-]{43}$/);
    const secret = 'an-assertion-secret-of-at-least-32-bytes';
    assert.equal(verifyAssertion(mintAssertion({ user: 'zoe' }, secret), secret).user, 'zoe');
    const req = { headers: {} };
    const res = { statusCode: 200, setHeader() {}, end(body) { this.body = body; } };
    sessiongate({ secret })(req, res, () => assert.fail('no assertion must not pass'));
    assert.equal(res.statusCode, 401);
    console.log('consumer ok');
  `;
  fs.writeFileSync(path.join(project.dir, 'consumer.mjs'), script);
  for (const node of [process.execPath, ...oldestNode()]) {
    const out = execFileSync(node, ['consumer.mjs'], { cwd: project.dir, encoding: 'utf8' });
    assert.equal(out.trim(), 'consumer ok', node);
  }
});

/** Node.js 18 (fetched by scripts/ensure-tools.sh on linux-x64, where CI runs). */
function oldestNode() {
  const node18 = path.join(TESTS, '.tmp/node-18.20.8/bin/node');
  if (process.platform !== 'linux' || process.arch !== 'x64') return [];
  assert.ok(fs.existsSync(node18), `${node18} missing: run scripts/ensure-tools.sh`);
  assert.match(execFileSync(node18, ['--version'], { encoding: 'utf8' }), /^v18\./);
  return [node18];
}

/** Export names declared by a .d.ts, through the TypeScript compiler's own checker. */
function declaredExports(ts, file) {
  const program = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const symbol = checker.getSymbolAtLocation(source);
  return checker.getExportsOfModule(symbol).map((s) => s.name)
    .filter((name) => !['Secret', 'Secrets'].includes(name))
    .sort();
}

test('TypeScript declarations: every runtime export is declared, and a strict consumer type-checks', async () => {
  const require = createRequire(path.join(TESTS, 'package.json'));
  const ts = require('typescript');
  const pkgDir = path.join(project.dir, 'node_modules/sessiongate');
  const typeOnly = (names) => names.filter((n) => /^[A-Z]/.test(n) && !['AssertionError'].includes(n));
  const runtime = {
    '.': Object.keys(await import(path.join(pkgDir, 'src/node.js'))),
    './origin': Object.keys(await import(path.join(pkgDir, 'src/origin-node.js'))),
    './express': Object.keys(await import(path.join(pkgDir, 'src/express.js'))),
    // The gate entry imports a .wasm module, which only Workers bundlers load: read its exports.
    './gate': [...fs.readFileSync(path.join(pkgDir, 'src/gate.js'), 'utf8').matchAll(/^export function (\w+)/gm)].map((m) => m[1]),
  };
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  for (const [entry, names] of Object.entries(runtime)) {
    const typesFile = path.join(pkgDir, manifest.exports[entry].types);
    const declared = declaredExports(ts, typesFile);
    const values = declared.filter((n) => !typeOnly(declared).includes(n));
    assert.deepEqual(values, [...names].sort(), `${entry}: declared values vs runtime exports`);
  }

  fs.writeFileSync(path.join(project.dir, 'consumer.ts'), `
    import { sign, unsign, parseCookie, serializeCookie, generateSessionId, createSigner, type Signer } from 'sessiongate';
    import { verifyAssertion, mintAssertion, createAssertionVerifier, AssertionError, type VerifiedAssertion } from 'sessiongate/origin';
    import sessiongate from 'sessiongate/express';
    import { createGate, type Gate } from 'sessiongate/gate';
    const signed: string = sign('v', ['a', new Uint8Array(4)]);
    const value: string | false = unsign(signed, 'a');
    const signer: Signer = createSigner('k');
    const cookies: Record<string, string> = parseCookie('a=1');
    const header: string = serializeCookie('a', 'b', { sameSite: 'lax', expires: new Date(), maxAge: 1 });
    const id: string = generateSessionId();
    const verified: VerifiedAssertion = verifyAssertion(mintAssertion({ user: 'u' }, 's'), 's');
    const code = new AssertionError('expired').code;
    const verifier = createAssertionVerifier({ secret: 's', clockSkewSeconds: 1 });
    const middleware = sessiongate({ secret: 's', optional: true });
    declare const env: { SESSIONS: { get(k: string): Promise<unknown>; put(k: string, v: string): Promise<void>; delete(k: string): Promise<void>; list(): Promise<unknown> } };
    const gate: Gate = createGate({ kv: env.SESSIONS, SESSION_SECRET: 's', ASSERTION_SECRET: 'a' });
    export const all = [value, signer, cookies, header, id, verified, code, verifier, middleware, gate];
    // @ts-expect-error unsign returns string | false, not string
    export const wrong: string = unsign(signed, 'a');
  `);
  fs.writeFileSync(path.join(project.dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: false },
    files: ['consumer.ts'],
  }));
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.'], { cwd: project.dir, encoding: 'utf8' });
});
