/** `moxts version`. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

export function moxtsVersion(): string {
  // dist/cmd/version-cmd.js → ../../package.json
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version of moxts')
    .action(() => {
      process.stdout.write(`moxts ${moxtsVersion()} (node ${process.versions.node})\n`);
    });
}
