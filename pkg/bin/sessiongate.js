#!/usr/bin/env node
// The package's command line: `sessiongate <command> …`. Each command lives in its own module and
// is loaded only when asked for.
import process from 'node:process';

const COMMANDS = {
  sessions: () => import('../src/admin/cli.js'),
};

const [command, ...args] = process.argv.slice(2);
const load = COMMANDS[command];
if (!load) {
  process.stderr.write(
    `usage: sessiongate <command> …\ncommands: ${Object.keys(COMMANDS).join(', ')}\n` +
      '  sessiongate sessions --help\n',
  );
  process.exit(command === undefined || command === '--help' ? 0 : 2);
}
const { main } = await load();
process.exitCode = await main(args, {
  env: process.env,
  fetch: globalThis.fetch,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
