// The gateway's own record builder (Rust, `src/store/import.rs`), compiled to Wasm as
// dist/import.js + import_bg.wasm (feature `js-import`): every KV entry an import writes comes from
// it, never from a JavaScript copy of the layout.
import { readFileSync } from 'node:fs';
import init, { ImportBuilder } from '../../dist/import.js';

let ready;

/** An ImportBuilder for the deployment's IDLE_TIMEOUT and ABSOLUTE_TIMEOUT (seconds). */
export async function createBuilder(idleTimeoutSeconds, absoluteTimeoutSeconds) {
  ready ??= init({ module_or_path: readFileSync(new URL('../../dist/import_bg.wasm', import.meta.url)) });
  await ready;
  try {
    return new ImportBuilder(idleTimeoutSeconds, absoluteTimeoutSeconds);
  } catch (error) {
    throw new ImportError(String(error?.message ?? error));
  }
}

/** An error whose message is meant for the operator as is (no stack trace). */
export class ImportError extends Error {}
