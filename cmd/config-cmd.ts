/**
 * `moxts config ...`: test, describe-static, describe-domains, dnsrecords, account add|rm|list,
 * domain add|rm. Edits go through config/write.ts (validated before writing, atomic), then the
 * running server (if any) is told to reload.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import { loadConfig, loadStatic, dynamicPathFor } from '../config/load.js';
import { describeStatic, describeDomains } from '../config/describe.js';
import { addAccount, removeAccount, addDomain, removeDomain } from '../config/write.js';
import { findDomain } from '../config/lookup.js';
import { parseAddress } from '../config/address.js';
import { domainRecords } from '../dns/records.js';
import { dkimTxtRecord, generateDkimKey, type DkimKeyAlgorithm } from '../auth/dkim-keys.js';
import { globalOptions, UserError } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { exists, writeFileAtomic } from './files.js';
import { ctlCall, ctlPath, CtlUnavailableError } from './ctl.js';
import { accountDir } from '../store/paths.js';

/** Tell a running server to reload domains.conf now; returns false when none runs. */
async function notifyServer(dataDir: string, cmd: string, args: Record<string, unknown> = {}): Promise<boolean> {
  try {
    await ctlCall(ctlPath(dataDir), cmd, args);
    return true;
  } catch (e) {
    if (e instanceof CtlUnavailableError) return false;
    throw new UserError(`the running server refused: ${(e as Error).message}`);
  }
}

/** The zone-file records for one configured domain. */
export async function dnsRecordsFor(configPath: string, domainName: string): Promise<string> {
  const loaded = await withConfigErrors(() => loadConfig(configPath));
  const found = findDomain(loaded.dynamic, domainName);
  if (!found) throw new UserError(`domain ${JSON.stringify(domainName)} is not in ${loaded.dynamicPath}`);
  const dkim: { selector: string; txt: string }[] = [];
  for (const [selector, sel] of Object.entries(found.domain.DKIM?.Selectors ?? {})) {
    dkim.push({ selector, txt: dkimTxtRecord(await readFile(sel.PrivateKeyFile, 'utf8')) });
  }
  const ips = new Set<string>();
  for (const l of Object.values(loaded.static.Listeners)) {
    if (!l.SMTP?.Enabled) continue;
    for (const ip of [...(l.NATIPs ?? l.IPs)]) if (isIP(ip) && ip !== '0.0.0.0' && ip !== '::') ips.add(ip);
  }
  return (
    domainRecords({
      domain: found.key,
      hostname: loaded.static.Hostname,
      ips: [...ips],
      dkim,
      dmarcLocalpart: found.domain.DMARC?.Localpart,
      tlsrptLocalpart: found.domain.TLSRPT?.Localpart,
      mtastsPolicyId: found.domain.MTASTS?.PolicyID,
      clientSettingsDomain: found.domain.ClientSettingsDomain,
    }).join('\n') + '\n'
  );
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
      const stat = await withConfigErrors(() => loadStatic(g.config));
      await withConfigErrors(() => addAccount({ path: dynamicPathFor(g.config), static: stat }, name, address));
      const told = await notifyServer(stat.DataDir, 'reload');
      process.stdout.write(`account ${name} added${told ? ' (server reloaded)' : ''}; set a password with "moxts setaccountpassword ${name}"\n`);
    });
  account
    .command('rm')
    .argument('<account>')
    .description('remove an account from domains.conf and delete its messages')
    .action(async (name: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const stat = await withConfigErrors(() => loadStatic(g.config));
      await withConfigErrors(() => removeAccount({ path: dynamicPathFor(g.config), static: stat }, name));
      const told = await notifyServer(stat.DataDir, 'reload');
      if (told) await notifyServer(stat.DataDir, 'accountremoved', { account: name });
      else await fsp.rm(accountDir(stat.DataDir, name), { recursive: true, force: true });
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

  const domain = config.command('domain').description('manage domains in domains.conf');
  domain
    .command('add')
    .argument('<domain>')
    .argument('<account>', 'account for the postmaster of the domain; created if it does not exist')
    .argument('[localpart]', 'localpart for the address in the new account', 'postmaster')
    .description('add a domain with new DKIM keys (ed25519 and RSA-2048); prints the DNS records to publish')
    .action(async (domainName: string, accountName: string, localpart: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const stat = await withConfigErrors(() => loadStatic(g.config));
      const addr = parseAddress(`${localpart}@${domainName}`);
      if (!addr) throw new UserError(`invalid domain or localpart: ${localpart}@${domainName}`);
      const loaded = await withConfigErrors(() => loadConfig(g.config));
      if (findDomain(loaded.dynamic, addr.domain)) throw new UserError(`domain ${addr.domain} already exists`);
      const year = new Date().getUTCFullYear();
      const configDir = loaded.configDir;
      const selectors: Record<string, { PrivateKeyFile: string; Expiration: string }> = {};
      const written: string[] = [];
      try {
        for (const [sel, alg] of [
          [`${year}a`, 'ed25519'],
          [`${year}b`, 'rsa'],
        ] as Array<[string, DkimKeyAlgorithm]>) {
          const rel = `dkim/${addr.domain}.${sel}.${alg}.pem`;
          // Never overwrite a key file: it may be published in DNS for a domain removed earlier.
          if (await exists(join(configDir, rel))) throw new UserError(`DKIM key file ${rel} already exists; move it away first`);
          await writeFileAtomic(join(configDir, rel), generateDkimKey(alg), 0o600);
          written.push(join(configDir, rel));
          selectors[sel] = { PrivateKeyFile: rel, Expiration: '72h' };
        }
        await withConfigErrors(() =>
          addDomain({ path: dynamicPathFor(g.config), static: stat }, addr.domain, {
            dkim: { selectors, sign: Object.keys(selectors) },
            account: accountName,
            localpart: addr.localpart,
            reportAddresses: true,
          }),
        );
      } catch (e) {
        await Promise.all(written.map((f) => fsp.rm(f, { force: true })));
        throw e;
      }
      const told = await notifyServer(stat.DataDir, 'reload');
      process.stdout.write(`domain ${addr.domain} added${told ? ' (server reloaded)' : ''}. DNS records to publish:\n\n`);
      process.stdout.write(await dnsRecordsFor(g.config, addr.domain));
    });
  domain
    .command('rm')
    .argument('<domain>')
    .description('remove a domain; refused while accounts still have addresses in it')
    .action(async (domainName: string, _o, cmd: Command) => {
      const g = globalOptions(cmd);
      const stat = await withConfigErrors(() => loadStatic(g.config));
      await withConfigErrors(() => removeDomain({ path: dynamicPathFor(g.config), static: stat }, domainName));
      const told = await notifyServer(stat.DataDir, 'reload');
      process.stdout.write(`domain ${domainName} removed${told ? ' (server reloaded)' : ''}\n`);
    });
}
