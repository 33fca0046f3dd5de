// `npm pack` gives a complete tarball (or, without the Wasm build, stops and names the command to run)
// that installs into an empty project on a machine without Rust and works there, through `import` and
// `require()`, on the oldest Node.js its `engines` admits and on this one; TypeScript declarations for
// every export; a README whose links work on the registry's page; `npm publish --dry-run` is clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from '../e2e/helpers.mjs';
import { TESTS, freshProject, pathWithoutRust, userEnv } from './pack.mjs';

const PKG = path.join(ROOT, 'pkg');
const manifest = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));

let project;
before(() => {
  project = freshProject();
});
after(() => project?.remove());

test('the tarball holds the built Wasm, the entries, the types, LICENSE and CHANGELOG, and nothing else', () => {
  const files = project.files.sort();
  for (const required of [
    'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/primitives_bg.wasm', 'dist/primitives.js',
    'dist/origin_bg.wasm', 'dist/origin.js', 'dist/gate_bg.wasm', 'dist/gate.js', 'src/node.js', 'src/workerd.js',
    'src/browser.js', 'src/gate.js', 'src/express.js', 'types/index.d.ts', 'types/origin.d.ts', 'types/gate.d.ts',
    'types/express.d.ts', 'src/bin/sessiongate.js', 'src/admin/cli.js',
  ]) {
    assert.ok(files.includes(required), `${required} in ${files.join(', ')}`);
  }
  const unexpected = files.filter((f) => !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/|src\/|types\/)/.test(f));
  assert.deepEqual(unexpected, []);
  assert.ok(!files.some((f) => f.endsWith('.rs') || f.includes('_bg.wasm.d.ts')), 'no Rust sources or bindgen internals');
  const installed = path.join(project.dir, 'node_modules/sessiongate');
  assert.ok(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8').includes('Apache License'), 'LICENSE is the Apache-2.0 text');
});

test('the installed `sessiongate` command runs `import` and `sessions`, each with its help; the admin token never as an argument', () => {
  const bin = path.join(project.dir, 'node_modules/.bin/sessiongate');
  const env = userEnv();
  const run = (...args) => spawnSync(bin, args, { cwd: project.dir, encoding: 'utf8', env });
  const help = run('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /sessiongate import <source>/);
  assert.match(help.stdout, /sessiongate sessions list\|end/);
  assert.equal(run('import', '--help').status, 0);
  const sessions = run('sessions', '--help');
  assert.equal(sessions.status, 0, sessions.stderr);
  assert.match(sessions.stdout, /SESSIONGATE_ADMIN_TOKEN/);
  const withToken = run('sessions', 'list', '--user', 'alice', '--url', 'https://gate.example', '--token', 'x'.repeat(40));
  assert.equal(withToken.status, 2);
  assert.match(withToken.stderr, /SESSIONGATE_ADMIN_TOKEN only/);
  const unknown = run('nonsense');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "nonsense"/);
});

test('package.json: repository, homepage, bugs and keywords; the version has a changelog entry', () => {
  assert.match(manifest.repository?.url ?? '', /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
  assert.equal(manifest.repository.directory, 'pkg');
  const repo = repositoryUrl();
  assert.ok(manifest.homepage.startsWith(repo), `${manifest.homepage} is in ${repo}`);
  assert.ok(manifest.bugs.url.startsWith(repo));
  assert.ok(manifest.keywords.includes('express-session') && manifest.keywords.length >= 5);
  assert.equal(manifest.license, 'Apache-2.0');
  const changelog = fs.readFileSync(path.join(PKG, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, new RegExp(`^## ${manifest.version.replace(/\./g, '\\.')}$`, 'm'), 'a changelog entry for this version');
});

/** https://github.com/owner/name of package.json's repository. */
function repositoryUrl() {
  return manifest.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
}

test("the README's links work on the registry's page: absolute, into the package's repository", () => {
  const readme = fs.readFileSync(path.join(PKG, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 0);
  const repo = repositoryUrl();
  for (const link of links) {
    if (link.startsWith('#')) continue;
    assert.match(link, /^https:\/\//, `relative link ${link} breaks on the registry's page`);
    if (link.startsWith('https://github.com/')) {
      assert.ok(link === repo || link.startsWith(`${repo}/`) || link.startsWith(`${repo}#`), `${link} is not in ${repo}`);
      const file = /\/blob\/main\/([^#]+)/.exec(link)?.[1];
      // Files named in the repository exist (LICENSE may come with the license change).
      if (file && file !== 'pkg/LICENSE') assert.ok(fs.existsSync(path.join(ROOT, file)), `${file} exists`);
    }
  }
});

test('without the Wasm build, npm pack stops and names the command to run first', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-unbuilt-'));
  try {
    for (const entry of ['package.json', 'prepack.mjs', 'README.md', 'CHANGELOG.md', 'src', 'types']) {
      fs.cpSync(path.join(PKG, entry), path.join(dir, entry), { recursive: true });
    }
    const run = spawnSync('npm', ['pack', '--dry-run'], { cwd: dir, encoding: 'utf8', env: userEnv() });
    assert.notEqual(run.status, 0, 'npm pack must fail without dist/');
    assert.match(run.stderr, /run first:\s+\.\/scripts\/build-pkg\.sh/);
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tgz')), 'no tarball');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('npm publish --dry-run is clean', () => {
  const run = spawnSync('npm', ['publish', '--dry-run'], { cwd: PKG, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  // Not being logged in to the registry is the machine's business, not the package's.
  const warnings = run.stderr.split('\n')
    .filter((line) => /\b(warn|error)\b/i.test(line))
    .filter((line) => !/requires you to be logged in/.test(line));
  assert.deepEqual(warnings, []);
  assert.match(run.stderr, new RegExp(`sessiongate@${manifest.version.replace(/\./g, '\\.')}`));
});

/** The lowest Node.js version `engines.node` admits (its first comparator). */
function lowestAdmitted(range) {
  const version = /(\d+\.\d+\.\d+)/.exec(range.split('||')[0])?.[1];
  assert.ok(version, `engines.node ${range}`);
  return version;
}

/** The oldest Node.js the package admits (fetched by scripts/test-tools.sh on linux-x64, where CI runs). */
function oldestNode() {
  const version = lowestAdmitted(manifest.engines.node);
  if (process.platform !== 'linux' || process.arch !== 'x64') return [];
  const node = path.join(TESTS, `.tmp/node-${version}/bin/node`);
  assert.ok(fs.existsSync(node), `${node} missing: scripts/test-tools.sh fetches the Node.js that engines.node admits first (${version})`);
  assert.equal(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim(), `v${version}`);
  return [node];
}

test('installed into an empty project without Rust, every Node entry works through import and require(), on the oldest admitted Node and on this one', () => {
  const env = userEnv();
  const rust = spawnSync('sh', ['-c', 'command -v cargo || command -v rustc || command -v rustup'], { env, encoding: 'utf8' });
  assert.ok(rust.status !== 0 && rust.stdout === '', `no cargo, rustc or rustup on the PATH: ${rust.stdout}`);
  const checks = `
    // cookie-signature's own test vector.
    assert.equal(sign('hello', 'tobiiscool'), 'hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI');
    assert.equal(unsign('hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI', 'tobiiscool'), 'hello');
    assert.equal(unsign('hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI', 'luna'), false);
    assert.equal(createSigner(['a', 'tobiiscool']).unsign(sign('x', 'tobiiscool')), 'x');
    assert.equal(parseCookie('sid=s%3Aabc; a=1').sid, 's:abc');
    assert.equal(serializeCookie('sid', 's:a', { httpOnly: true }), 'sid=s%3Aa; HttpOnly');
    assert.match(generateSessionId(), /^[A-Za-z0-9_-]{43}$/);
    const secret = 'an-assertion-secret-of-at-least-32-bytes';
    const previous = 'the-previous-assertion-secret-32-bytes!';
    assert.equal(verifyAssertion(mintAssertion({ user: 'zoe' }, secret), secret).user, 'zoe');
    assert.equal(createAssertionVerifier({ secret: [secret, previous], audience: 'api' })
      .verify(mintAssertion({ user: 'yan', audience: ['web', 'api'] }, previous)).user, 'yan');
    assert.throws(() => createAssertionVerifier({ secret: 42 }), (e) => e instanceof TypeError && !/TypeError/.test(e.message));
    const run = (options, headers) => {
      const req = { headers };
      const res = { statusCode: 200, setHeader() {}, end(body) { this.body = body; } };
      let passed;
      sessiongate(options)(req, res, (err) => { passed = err ?? true; });
      return { req, res, passed };
    };
    const none = run({ secret }, {});
    assert.equal(none.res.statusCode, 401);
    assert.equal(JSON.parse(none.res.body).error, 'assertion_missing');
    const ok = run({ secret }, { 'x-sessiongate-assertion': mintAssertion({ user: 'ann' }, secret) });
    assert.equal(ok.passed, true);
    assert.equal(ok.req.sessiongate.user, 'ann');
    assert.equal('user' in ok.req, false);
    const passed = run({ secret, passErrors: true }, {}).passed;
    assert.ok(passed instanceof AssertionError && passed.status === 401 && passed.code === 'missing');
    assert.equal(expressDefault, sessiongate);
    console.log('consumer ok');
  `;
  fs.writeFileSync(path.join(project.dir, 'consumer.mjs'), `
    import assert from 'node:assert/strict';
    import { sign, unsign, parseCookie, serializeCookie, generateSessionId, createSigner } from 'sessiongate';
    import { verifyAssertion, mintAssertion, createAssertionVerifier } from 'sessiongate/origin';
    import expressDefault, { sessiongate, AssertionError } from 'sessiongate/express';
    ${checks}
  `);
  fs.writeFileSync(path.join(project.dir, 'consumer.cjs'), `
    const assert = require('node:assert/strict');
    const { sign, unsign, parseCookie, serializeCookie, generateSessionId, createSigner } = require('sessiongate');
    const { verifyAssertion, mintAssertion, createAssertionVerifier } = require('sessiongate/origin');
    const { default: expressDefault, sessiongate, AssertionError } = require('sessiongate/express');
    ${checks}
  `);
  for (const node of [process.execPath, ...oldestNode()]) {
    for (const consumer of ['consumer.mjs', 'consumer.cjs']) {
      const run = spawnSync(node, [consumer], { cwd: project.dir, encoding: 'utf8', env });
      assert.equal(run.status, 0, `${node} ${consumer}: ${run.stderr}`);
      assert.equal(run.stdout.trim(), 'consumer ok', `${node} ${consumer}`);
      assert.doesNotMatch(run.stderr, /Warning/, `${node} ${consumer} warns: ${run.stderr}`);
    }
  }
  assert.ok(pathWithoutRust().length > 0);
});

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
  const installed = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  for (const [entry, names] of Object.entries(runtime)) {
    const typesFile = path.join(pkgDir, installed.exports[entry].types);
    const declared = declaredExports(ts, typesFile);
    const values = declared.filter((n) => !typeOnly(declared).includes(n));
    assert.deepEqual(values, [...names].sort(), `${entry}: declared values vs runtime exports`);
  }

  fs.writeFileSync(path.join(project.dir, 'consumer.ts'), `
    import { sign, unsign, parseCookie, serializeCookie, generateSessionId, createSigner, type Signer } from 'sessiongate';
    import { verifyAssertion, mintAssertion, createAssertionVerifier, AssertionError, type VerifiedAssertion } from 'sessiongate/origin';
    import sessiongate, { login, logout, type LogoutScope } from 'sessiongate/express';
    import { createGate, type Gate } from 'sessiongate/gate';
    const signed: string = sign('v', ['a', new Uint8Array(4)]);
    const value: string | false = unsign(signed, 'a');
    const signer: Signer = createSigner('k');
    const cookies: Record<string, string> = parseCookie('a=1');
    const header: string = serializeCookie('a', 'b', { sameSite: 'lax', expires: new Date(), maxAge: 1 });
    const id: string = generateSessionId();
    const verified: VerifiedAssertion = verifyAssertion(mintAssertion({ user: 'u', audience: ['a', 'b'] }, 's'), ['s', 't'], { audience: 'a' });
    const aud: string | string[] | undefined = verified.claims.aud;
    const error = new AssertionError('wrong_audience');
    const status: 401 = error.status;
    const verifier = createAssertionVerifier({ secret: ['s', 't', 'u'], audience: 'api', clockSkewSeconds: 1 });
    const middleware = sessiongate({ secret: ['s', 't'], audience: ['api'], optional: true, setUser: true, passErrors: true });
    declare const req: Express.Request;
    const who: string | undefined = req.sessiongate?.user;
    declare const env: { SESSIONS: { get(k: string): Promise<unknown>; put(k: string, v: string): Promise<void>; delete(k: string): Promise<void>; list(): Promise<unknown> } };
    const gate: Gate = createGate({ kv: env.SESSIONS, SESSION_SECRET: 's', ASSERTION_SECRET: 'a', ASSERTION_AUDIENCE: 'api' });
    declare const res: { statusCode: number; setHeader(name: string, value: string): void; json(body: unknown): void };
    interface Profile { role: string; name: string }
    declare const profile: Profile;
    login(res, 'alice', profile).json({ ok: true });
    login(res, 'bob');
    const scope: LogoutScope = 'all';
    logout(res, scope).json({ ok: true });
    logout(res);
    // @ts-expect-error the scope is 'session' or 'all'
    logout(res, 'everywhere');
    // @ts-expect-error the user id is a string
    login(res, 42);
    export const all = [value, signer, cookies, header, id, verified, aud, status, verifier, middleware, who, gate];
    // @ts-expect-error unsign returns string | false, not string
    export const wrong: string = unsign(signed, 'a');
    // @ts-expect-error the package does not declare req.user (Passport's), nor set it unless asked
    export const user = req.user;
  `);
  fs.writeFileSync(path.join(project.dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], skipLibCheck: false },
    files: ['consumer.ts'],
  }));
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.'], { cwd: project.dir, encoding: 'utf8' });
});
