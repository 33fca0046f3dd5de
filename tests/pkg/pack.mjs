// Packs pkg/ with `npm pack` (what a registry would serve) and installs the tarball into a fresh,
// empty project, as a user would. The package has no dependencies, so this works offline.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../e2e/helpers.mjs';

export const TESTS = path.join(ROOT, 'tests');

export function packPackage(destination) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: path.join(ROOT, 'pkg'),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out);
  return { tarball: path.join(destination, info.filename), files: info.files.map((f) => f.path) };
}

/** A new project in a temp dir with the packed package installed; `link` names packages of tests/ to add. */
export function freshProject({ link = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiongate-pkg-'));
  const { tarball, files } = packPackage(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--loglevel=error', tarball], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const name of link) {
    fs.symlinkSync(path.join(TESTS, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir');
  }
  return { dir, tarball, files, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
