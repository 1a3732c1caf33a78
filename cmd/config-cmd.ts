/**
 * `moxts config ...`: test, describe-static, describe-domains, dnsrecords, account
 * add|rm|list|limits, address add|rm, domain add|rm, dkim add|rm. The edits are the functions of
 * cmd/config-ops.ts (also used by the admin pages): config/write.ts (validated before writing,
 * atomic), then the running server (if any) is told over the ctl socket to reload.
 */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { loadConfig, loadStatic } from '../config/load.js';
import { describeStatic, describeDomains } from '../config/describe.js';
import type { AccountLimits } from '../web/admin/deps.js';
import { globalOptions, UserError } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';
import {
  addAccountOp,
  addAddressOp,
  addDkimSelectorOp,
  addDomainWithKeys,
  dnsRecordsFor,
  removeAccountOp,
  removeAddressOp,
  removeDkimSelectorOp,
  removeDomainOp,
  setAccountLimitsOp,
  type Notify,
} from './config-ops.js';

export { dnsRecordsFor } from './config-ops.js';

/** Tell a running server (over the ctl socket); false when none runs. */
function cliNotify(configPath: string): Notify {
  return async (cmd, args = {}) => {
    const stat = await withConfigErrors(() => loadStatic(configPath));
    try {
      await ctlCall(ctlPath(stat.DataDir), cmd, args);
      return true;
    } catch (e) {
      if (e instanceof CtlUnavailableError) return false;
      throw new UserError(`the running server refused: ${(e as Error).message}`);
    }
  };
}

/** Number option: empty or "default" → undefined (the default), else a non-negative integer. */
function limitOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === 'default') return undefined;
  if (!/^\d+$/.test(v)) throw new UserError(`--${name}: not a non-negative whole number: ${JSON.stringify(v)}`);
  return Number(v);
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('check, describe and edit the configuration');

  config
    .command('test')
    .description('validate mox.conf and domains.conf; prints every problem with file, line and key')
    .action(async (_o, cmd: Command) => {
      const g = globalOptions(cmd);
      const loaded = await withConfigErrors(() => loadConfig(g.config));
      process.stdout.write(`config OK: ${relative(process.cwd(), loaded.staticPath) || loaded.staticPath}, ${relative(process.cwd(), loaded.dynamicPath) || loaded.dynamicPath}\n`);
    });

  config
    .command('describe-static')
    .description('print an annotated mox.conf template, generated from the schema')
    .action(() => void process.stdout.write(describeStatic()));

  config
    .command('describe-domains')
    .description('print an annotated domains.conf template, generated from the schema')
    .action(() => void process.stdout.write(describeDomains()));

  config
    .command('dnsrecords')
    .argument('<domain>')
    .description('print the DNS records to publish for a domain, as a zone file')
    .action(async (domain: string, _o, cmd: Command) => {
      process.stdout.write(await dnsRecordsFor(globalOptions(cmd).config, domain));
    });

  const account = config.command('account').description('manage accounts in domains.conf');
  account
    .command('add')
    .argument('<account>', 'account name')
    .argument('<address>', 'first email address of the account; its domain must be configured')
    .description('add an account; set its password with "moxts setaccountpassword"')
    .action(async (name: string, address: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const told = await addAccountOp(g.config, name, address, cliNotify(g.config));
      process.stdout.write(`account ${name} added${told ? ' (server reloaded)' : ''}; set a password with "moxts setaccountpassword ${name}"\n`);
    });
  account
    .command('rm')
    .argument('<account>')
    .description('remove an account from domains.conf (and DMARC/TLS report settings delivering to it) and delete its messages')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      await removeAccountOp(g.config, name, cliNotify(g.config));
      process.stdout.write(`account ${name} removed\n`);
    });
  account
    .command('list')
    .description('list accounts with their addresses')
    .action(async (_o, cmd: Command) => {
      const loaded = await withConfigErrors(() => loadConfig(globalOptions(cmd).config));
      for (const [name, a] of Object.entries(loaded.dynamic.Accounts).sort(([x], [y]) => x.localeCompare(y))) {
        process.stdout.write(`${name}\t${Object.keys(a.Destinations).join(', ')}\n`);
      }
    });

  account
    .command('limits')
    .argument('<account>')
    .option('--max-outgoing-messages-per-day <n>', 'MaxOutgoingMessagesPerDay; "default" removes the setting')
    .option('--max-first-time-recipients-per-day <n>', 'MaxFirstTimeRecipientsPerDay; "default" removes the setting')
    .option('--quota-message-size <bytes>', 'QuotaMessageSize (0: unlimited); "default" removes the setting')
    .description('set the send limits and quota of an account (options not given are left alone)')
    .action(async (name: string, o: { maxOutgoingMessagesPerDay?: string; maxFirstTimeRecipientsPerDay?: string; quotaMessageSize?: string }, cmd: Command) => {
      const g = globalOptions(cmd);
      const limits: AccountLimits = {};
      if (o.maxOutgoingMessagesPerDay !== undefined) limits.MaxOutgoingMessagesPerDay = limitOption('max-outgoing-messages-per-day', o.maxOutgoingMessagesPerDay);
      if (o.maxFirstTimeRecipientsPerDay !== undefined) limits.MaxFirstTimeRecipientsPerDay = limitOption('max-first-time-recipients-per-day', o.maxFirstTimeRecipientsPerDay);
      if (o.quotaMessageSize !== undefined) limits.QuotaMessageSize = limitOption('quota-message-size', o.quotaMessageSize);
      if (!Object.keys(limits).length) throw new UserError('nothing to set; see --help');
      const told = await setAccountLimitsOp(g.config, name, limits, cliNotify(g.config));
      process.stdout.write(`limits of ${name} set${told ? ' (server reloaded)' : ''}\n`);
    });

  const domain = config.command('domain').description('manage domains in domains.conf');
  domain
    .command('add')
    .argument('<domain>')
    .argument('<account>', 'account for the postmaster of the domain; created if it does not exist')
    .argument('[localpart]', 'localpart for the address in the new account', 'postmaster')
    .description('add a domain with new DKIM keys (ed25519 and RSA-2048); prints the DNS records to publish')
    .action(async (domainName: string, accountName: string, localpart: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const r = await addDomainWithKeys(g.config, domainName, accountName, localpart, cliNotify(g.config));
      process.stdout.write(`domain ${r.domain} added${r.reloaded ? ' (server reloaded)' : ''}. DNS records to publish:\n\n`);
      process.stdout.write(await dnsRecordsFor(g.config, r.domain));
    });
  domain
    .command('rm')
    .argument('<domain>')
    .description('remove a domain; refused while accounts still have addresses in it')
    .action(async (domainName: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const told = await removeDomainOp(g.config, domainName, cliNotify(g.config));
      process.stdout.write(`domain ${domainName} removed${told ? ' (server reloaded)' : ''}\n`);
    });

  const dkim = config.command('dkim').description('manage the DKIM selectors of a domain');
  dkim
    .command('add')
    .argument('<domain>')
    .argument('<selector>')
    .option('--algorithm <ed25519|rsa>', 'key type', 'ed25519')
    .option('--no-sign', 'do not sign with it yet (publish the key first)')
    .description('add a selector with a new private key; prints the DNS records to publish')
    .action(async (domainName: string, selector: string, o: { algorithm: string; sign: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      if (o.algorithm !== 'ed25519' && o.algorithm !== 'rsa') throw new UserError('--algorithm must be ed25519 or rsa');
      const told = await addDkimSelectorOp(g.config, domainName, selector, o.algorithm, o.sign, cliNotify(g.config));
      process.stdout.write(`selector ${selector} added${told ? ' (server reloaded)' : ''}. DNS records to publish:\n\n`);
      process.stdout.write(await dnsRecordsFor(g.config, domainName));
    });
  dkim
    .command('rm')
    .argument('<domain>')
    .argument('<selector>')
    .description('remove a selector from the config (its key file is kept)')
    .action(async (domainName: string, selector: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const told = await removeDkimSelectorOp(g.config, domainName, selector, cliNotify(g.config));
      process.stdout.write(`selector ${selector} removed${told ? ' (server reloaded)' : ''}\n`);
    });

  const address = config.command('address').description("manage accounts' addresses in domains.conf");
  address
    .command('add')
    .argument('<address>', 'localpart@domain, or @domain for a catchall')
    .argument('<account>')
    .description('add an address to an account')
    .action(async (addr: string, accountName: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const told = await addAddressOp(g.config, accountName, addr, cliNotify(g.config));
      process.stdout.write(`address ${addr} added to ${accountName}${told ? ' (server reloaded)' : ''}\n`);
    });
  address
    .command('rm')
    .argument('<address>')
    .description('remove an address from its account (not the last one)')
    .action(async (addr: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const told = await removeAddressOp(g.config, addr, cliNotify(g.config));
      process.stdout.write(`address ${addr} removed${told ? ' (server reloaded)' : ''}\n`);
    });
}
