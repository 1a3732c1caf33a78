/**
 * The `moxts` program: builds the commander program from the command groups and
 * runs it. No protocol logic lives here; each command wires dependencies and calls into modules.
 */
import { Command, CommanderError } from 'commander';
import { registerServe } from './serve-cmd.js';
import { registerLocalserve } from './localserve-cmd.js';
import { registerQuickstart } from './quickstart-cmd.js';
import { registerConfig } from './config-cmd.js';
import { registerPasswords } from './password-cmd.js';
import { registerVersion } from './version-cmd.js';
import { registerQueue } from './queue-cmd.js';
import { registerQueueWebhook } from './webhook-cmd.js';
import { registerWebhookConfig } from './webhook-config-cmd.js';
import { registerDsn } from './dsn-cmd.js';
import { UserError } from './context.js';

/**
 * mox spells long options with one dash (`-dir`, `-initonly`); commander reads those as bundles of
 * short flags. Rewrite a single-dash word of two or more letters to the double-dash form. Our
 * commands define no bundled short flags, so this is unambiguous.
 */
export function normaliseArgs(argv: string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const a of argv) {
    if (a === '--') passthrough = true;
    if (!passthrough && /^-[a-zA-Z][a-zA-Z0-9-]+(=.*)?$/.test(a)) out.push(`-${a}`);
    else out.push(a);
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command('moxts')
    .description('moxts: a complete, self-hosted mail server in the style of mox')
    .option('--config <file>', 'path to mox.conf (domains.conf sits beside it)', process.env.MOXCONF ?? 'config/mox.conf')
    .option('--loglevel <level>', 'log level: error, warn, info, debug, trace, traceauth, tracedata')
    .showHelpAfterError()
    .exitOverride();
  registerServe(program);
  registerLocalserve(program);
  registerQuickstart(program);
  registerConfig(program);
  registerWebhookConfig(program);
  registerPasswords(program);
  registerQueue(program);
  registerQueueWebhook(program);
  registerDsn(program);
  registerVersion(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(normaliseArgs(argv), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof UserError) {
      process.stderr.write(`moxts: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`moxts: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
