#!/usr/bin/env node
// `npx sessiongate <command>`: `import` (see `sessiongate import --help`) and `sessions` (see
// `sessiongate sessions --help`). Each command's module is loaded only when asked for.
import process from 'node:process';

const [command, ...rest] = process.argv.slice(2);
const help =
  'Usage: sessiongate import <source> [options]      (sessiongate import --help)\n' +
  '       sessiongate sessions list|end --user <user> --url <gateway URL>   (sessiongate sessions --help)\n';
if (command === 'import') {
  const { main } = await import('../import/cli.js');
  process.exitCode = await main(rest);
} else if (command === 'sessions') {
  const { main } = await import('../admin/cli.js');
  process.exitCode = await main(rest, {
    env: process.env,
    fetch: globalThis.fetch,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
} else if (command === undefined || command === '--help' || command === '-h') {
  process.stdout.write(help);
} else {
  process.stderr.write(`sessiongate: unknown command "${command}"\n${help}`);
  process.exitCode = 2;
}
