// Drivers are optional peer dependencies of the package: loaded only by the source that needs
// them, with a clear message when missing.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ImportError } from '../builder.js';

/**
 * Imports `name` from the operator's project (the current directory) or from the package's. With
 * `via`, the copy that package `via` of the project depends on comes first (connect-mongo pins its
 * own kruptein, whose format other versions do not read).
 */
export async function loadDriver(name, what, via = null) {
  const fromCwd = createRequire(path.join(process.cwd(), 'noop.js'));
  let resolved = name;
  const candidates = [];
  if (via) {
    try {
      candidates.push(createRequire(fromCwd.resolve(via)));
    } catch {
      /* not installed: the project's own copy */
    }
  }
  candidates.push(fromCwd);
  for (const require of candidates) {
    try {
      resolved = pathToFileURL(require.resolve(name)).href;
      break;
    } catch {
      /* next */
    }
  }
  try {
    return await import(resolved);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND') {
      throw new ImportError(`${what} needs the npm package "${name}": install it (npm install ${name}) and run again`);
    }
    throw error;
  }
}
