/** `moxts setaccountpassword ACCOUNT` and `moxts setadminpassword`. */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { Store } from '../store/index.js';
import { hashPassword } from '../auth/password.js';
import { nullLogger } from '../log/logger.js';
import { globalOptions, UserError } from './context.js';
import { readPassword, writeFileAtomic } from './files.js';
import { withConfigErrors } from './serve-cmd.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';

/** Set an account's password: through the running server, or directly when none runs. */
export async function setAccountPassword(configPath: string, account: string, password: string): Promise<'server' | 'direct'> {
  const loaded = await withConfigErrors(() => loadConfig(configPath));
  if (!loaded.dynamic.Accounts[account]) throw new UserError(`no account ${JSON.stringify(account)} in ${loaded.dynamicPath}`);
  try {
    await ctlCall(ctlPath(loaded.static.DataDir), 'setaccountpassword', { account, password });
    return 'server';
  } catch (e) {
    if (!(e instanceof CtlUnavailableError)) throw new UserError((e as Error).message);
  }
  const store = await Store.open({ dataDir: loaded.static.DataDir, log: nullLogger() });
  try {
    store.account(account).setPassword(await hashPassword(password));
  } finally {
    await store.close();
  }
  return 'direct';
}

/** Write the admin password hash to AdminPasswordFile (mode 0600). */
export async function setAdminPassword(configPath: string, password: string): Promise<string> {
  const loaded = await withConfigErrors(() => loadConfig(configPath));
  const file = loaded.static.AdminPasswordFile;
  if (!file) throw new UserError(`no AdminPasswordFile in ${loaded.staticPath}`);
  await writeFileAtomic(file, JSON.stringify(await hashPassword(password)) + '\n', 0o600);
  return file;
}

export function registerPasswords(program: Command): void {
  program
    .command('setaccountpassword')
    .argument('<account>', 'account name')
    .description('set the password of an account (prompted twice on a terminal, else the first line of stdin)')
    .action(async (account: string, _opts, cmd: Command) => {
      const pw = await readPassword('new password: ');
      const how = await setAccountPassword(globalOptions(cmd).config, account, pw);
      process.stdout.write(`password for account ${account} set${how === 'server' ? ' (through the running server)' : ''}\n`);
    });
  program
    .command('setadminpassword')
    .description('set the admin password for the web admin (prompted twice on a terminal, else the first line of stdin)')
    .action(async (_opts, cmd: Command) => {
      const pw = await readPassword('new admin password: ');
      const file = await setAdminPassword(globalOptions(cmd).config, pw);
      process.stdout.write(`admin password hash written to ${file}\n`);
    });
}
