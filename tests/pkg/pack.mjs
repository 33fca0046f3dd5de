// Packs pkg/ with `npm pack` (what a registry would serve) and installs the tarball into a fresh,
// empty project, as a user would: with a PATH on which there is no Rust toolchain (the package must
// not need one). The package has no dependencies, so this works offline.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../e2e/helpers.mjs';

export const TESTS = path.join(ROOT, 'tests');

/** process.env.PATH without the directories that hold cargo, rustc or rustup. */
export function pathWithoutRust() {
  return process.env.PATH.split(path.delimiter)
    .filter((dir) => dir && !['cargo', 'rustc', 'rustup'].some((tool) => fs.existsSync(path.join(dir, tool))))
    .join(path.delimiter);
}

/** The environment of a user who has Node.js and npm but no Rust. */
export function userEnv() {
  return { ...process.env, PATH: pathWithoutRust(), CARGO_HOME: '/nonexistent', RUSTUP_HOME: '/nonexistent' };
}

export function packPackage(destination) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: path.join(ROOT, 'pkg'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out.slice(out.indexOf('[')));
  return { tarball: path.join(destination, info.filename), files: info.files.map((f) => f.path) };
}

/** A new project in a temp dir with the packed package installed; `link` names packages of tests/ to add. */
export function freshProject({ link = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-pkg-'));
  const { tarball, files } = packPackage(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--loglevel=error', tarball], {
    cwd: dir,
    env: userEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const name of link) {
    fs.symlinkSync(path.join(TESTS, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  return { dir, tarball, files, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
