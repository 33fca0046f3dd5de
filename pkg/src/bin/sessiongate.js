#!/usr/bin/env node
// `npx sessiongate <command>`: today one command, `import` (see `sessiongate import --help`).
const [command, ...rest] = process.argv.slice(2);
if (command === 'import') {
  const { main } = await import('../import/cli.js');
  process.exitCode = await main(rest);
} else {
  const help = 'Usage: sessiongate import <source> [options]   (sessiongate import --help)\n';
  if (command === undefined || command === '--help' || command === '-h') process.stdout.write(help);
  else {
    process.stderr.write(`sessiongate: unknown command "${command}"\n${help}`);
    process.exitCode = 2;
  }
}
