/**
 * The config edits behind `moxts config ...` and the admin pages: one function per action, each
 * editing domains.conf through config/write.ts (validated, atomic) and then telling the running
 * server through `notify` (the CLI: over the ctl socket; the server's own admin pages: the ctl
 * handlers in-process). Refusals are UserError (the CLI prints them; adminConfigOps turns them into
 * the pages' FormError).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { loadConfig, loadStatic, dynamicPathFor } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import * as write from '../config/write.js';
import { findDomain } from '../config/lookup.js';
import { parseAddress } from '../config/address.js';
import { domainRecords, expectedRecords, type DomainRecordsInput, type ExpectedRecord } from '../dns/records.js';
import { dkimTxtRecord, generateDkimKeyAsync, type DkimKeyAlgorithm } from '../auth/dkim-keys.js';
import { accountDir } from '../store/paths.js';
import { FormError } from '../web/ui.js';
import type { AdminConfigOps, AccountLimits, CtlCall } from '../web/admin/deps.js';
import { UserError } from './context.js';
import { withConfigErrors } from './serve-cmd.js';
import { exists, writeFileAtomic } from './files.js';

/** Tell the running server (ctl command); false when no server runs. */
export type Notify = (cmd: string, args?: Record<string, unknown>) => Promise<boolean>;

async function domainsFile(configPath: string): Promise<write.DomainsFile & { dataDir: string }> {
  const stat = await withConfigErrors(() => loadStatic(configPath));
  return { path: dynamicPathFor(configPath), static: stat, dataDir: stat.DataDir };
}

/** What domainRecords needs for one configured domain. */
export async function domainRecordsInput(configPath: string, domainName: string): Promise<DomainRecordsInput> {
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
  return {
    domain: found.key,
    hostname: loaded.static.Hostname,
    ips: [...ips],
    dkim,
    dmarcLocalpart: found.domain.DMARC?.Localpart,
    tlsrptLocalpart: found.domain.TLSRPT?.Localpart,
    mtastsPolicyId: found.domain.MTASTS?.PolicyID,
    clientSettingsDomain: found.domain.ClientSettingsDomain,
  };
}

/** The zone-file records for one configured domain (`moxts config dnsrecords`). */
export async function dnsRecordsFor(configPath: string, domainName: string): Promise<string> {
  return domainRecords(await domainRecordsInput(configPath, domainName)).join('\n') + '\n';
}

/** The records of dnsRecordsFor that a live check compares (dns/check.ts). */
export async function expectedRecordsFor(configPath: string, domainName: string): Promise<ExpectedRecord[]> {
  return expectedRecords(await domainRecordsInput(configPath, domainName));
}

/** Write a new DKIM private key file below the config dir; never overwrites (the old key may still be published). */
async function newDkimKeyFile(configDir: string, domain: string, selector: string, alg: DkimKeyAlgorithm): Promise<{ rel: string; abs: string }> {
  const rel = `dkim/${domain}.${selector}.${alg}.pem`;
  const abs = join(configDir, rel);
  if (await exists(abs)) throw new UserError(`DKIM key file ${rel} already exists; move it away first`);
  await writeFileAtomic(abs, await generateDkimKeyAsync(alg), 0o600);
  return { rel, abs };
}

/**
 * `config domain add DOMAIN ACCOUNT [LOCALPART]`: two new DKIM keys (ed25519 and RSA-2048,
 * selectors <year>a and <year>b, both signing), DMARC/TLS report addresses for the account, and
 * the account created with LOCALPART@DOMAIN when it does not exist. Returns the domain's
 * normalised name and whether a server was told.
 */
export async function addDomainWithKeys(configPath: string, domainName: string, accountName: string, localpart = 'postmaster', notify: Notify, now = new Date()): Promise<{ domain: string; reloaded: boolean }> {
  const f = await domainsFile(configPath);
  const addr = parseAddress(`${localpart}@${domainName}`);
  if (!addr) throw new UserError(`invalid domain or localpart: ${localpart}@${domainName}`);
  if (!accountName) throw new UserError('an account name is required');
  const loaded = await withConfigErrors(() => loadConfig(configPath));
  if (findDomain(loaded.dynamic, addr.domain)) throw new UserError(`domain ${addr.domain} already exists`);
  const year = now.getUTCFullYear();
  const selectors: Record<string, { PrivateKeyFile: string; Expiration: string }> = {};
  const written: string[] = [];
  try {
    for (const [sel, alg] of [
      [`${year}a`, 'ed25519'],
      [`${year}b`, 'rsa'],
    ] as Array<[string, DkimKeyAlgorithm]>) {
      const k = await newDkimKeyFile(loaded.configDir, addr.domain, sel, alg);
      written.push(k.abs);
      selectors[sel] = { PrivateKeyFile: k.rel, Expiration: '72h' };
    }
    await withConfigErrors(() =>
      write.addDomain(f, addr.domain, {
        dkim: { selectors, sign: Object.keys(selectors) },
        account: accountName,
        localpart: addr.localpart,
        reportAddresses: true,
      }),
    );
  } catch (e) {
    await Promise.all(written.map((p) => rm(p, { force: true })));
    throw e;
  }
  return { domain: addr.domain, reloaded: await notify('reload') };
}

/** `config domain rm DOMAIN`: refused while accounts or addresses use it. */
export async function removeDomainOp(configPath: string, domain: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.removeDomain(f, domain));
  return notify('reload');
}

/** `config dkim add DOMAIN SELECTOR`: a new key file and selector; `sign` also signs with it. */
export async function addDkimSelectorOp(configPath: string, domain: string, selector: string, alg: DkimKeyAlgorithm, sign: boolean, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  const loaded = await withConfigErrors(() => loadConfig(configPath));
  const d = findDomain(loaded.dynamic, domain);
  if (!d) throw new UserError(`no such domain ${JSON.stringify(domain)}`);
  if (Object.hasOwn(d.domain.DKIM?.Selectors ?? {}, selector)) throw new UserError(`domain ${d.key} already has selector ${selector}`);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/.test(selector)) throw new UserError(`not a valid selector name: ${JSON.stringify(selector)} (letters, digits and "-")`);
  const k = await newDkimKeyFile(loaded.configDir, d.key, selector, alg);
  try {
    await withConfigErrors(() => write.addDkimSelector(f, d.key, selector, { PrivateKeyFile: k.rel, Expiration: '72h' }, sign));
  } catch (e) {
    await rm(k.abs, { force: true });
    throw e;
  }
  return notify('reload');
}

/** `config dkim rm DOMAIN SELECTOR`: the key file stays on disk. */
export async function removeDkimSelectorOp(configPath: string, domain: string, selector: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.removeDkimSelector(f, domain, selector));
  return notify('reload');
}

/** `config account add NAME ADDRESS`. */
export async function addAccountOp(configPath: string, name: string, address: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.addAccount(f, name, address));
  return notify('reload');
}

/**
 * `config account rm NAME`: out of domains.conf (with the report settings of domains delivering to
 * it), then its messages (by the server, or here when none runs).
 */
export async function removeAccountOp(configPath: string, name: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  // Domains' DMARC/TLS report settings delivering to the account go with it: reports have nowhere
  // else to go, and a domain added with "config domain add" could otherwise never be removed (its
  // account is in use by the domain's reports, the domain by its account).
  await withConfigErrors(() =>
    write.editDomainsFile(f, (doc, cur) => {
      if (!Object.hasOwn(cur.Accounts, name)) throw new UserError(`no such account ${JSON.stringify(name)}`);
      doc.deleteIn(['Accounts', name]);
      for (const [key, d] of Object.entries(cur.Domains)) {
        if (d.DMARC?.Account === name) doc.deleteIn(['Domains', key, 'DMARC']);
        if (d.TLSRPT?.Account === name) doc.deleteIn(['Domains', key, 'TLSRPT']);
      }
    }),
  );
  const told = await notify('reload');
  if (told) await notify('accountremoved', { account: name });
  else await rm(accountDir(f.dataDir, name), { recursive: true, force: true });
  return told;
}

/** `config address add ADDRESS ACCOUNT`. */
export async function addAddressOp(configPath: string, account: string, address: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.addAddress(f, account, address));
  return notify('reload');
}

/** `config address rm ADDRESS`. */
export async function removeAddressOp(configPath: string, address: string, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.removeAddress(f, address));
  return notify('reload');
}

/** `config account limits NAME`: set (or with undefined, reset to the default) send limits and quota. */
export async function setAccountLimitsOp(configPath: string, account: string, limits: AccountLimits, notify: Notify): Promise<boolean> {
  const f = await domainsFile(configPath);
  await withConfigErrors(() => write.setAccountFields(f, account, limits));
  return notify('reload');
}

/** A refusal as the pages show it: the config problems without file paths, or the CLI's message. */
function formError(e: unknown): unknown {
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof ConfigError) return new FormError(cause.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
  if (e instanceof ConfigError) return new FormError(e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
  if (e instanceof UserError) return new FormError(e.message);
  return e;
}

/** The admin pages' config operations: the functions above, told through the server's own ctl handlers. */
export function adminConfigOps(configPath: string, ctl: CtlCall): AdminConfigOps {
  const notify: Notify = async (cmd, args) => {
    await ctl(cmd, args);
    return true;
  };
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (e) {
        throw formError(e);
      }
    };
  return {
    addDomain: wrap(async (domain: string, account: string, localpart?: string) => void (await addDomainWithKeys(configPath, domain, account, localpart || 'postmaster', notify))),
    removeDomain: wrap(async (domain: string) => void (await removeDomainOp(configPath, domain, notify))),
    dnsRecords: wrap((domain: string) => dnsRecordsFor(configPath, domain)),
    expectedRecords: wrap((domain: string) => expectedRecordsFor(configPath, domain)),
    addDkimSelector: wrap(async (domain: string, selector: string, alg: DkimKeyAlgorithm, sign: boolean) => void (await addDkimSelectorOp(configPath, domain, selector, alg, sign, notify))),
    removeDkimSelector: wrap(async (domain: string, selector: string) => void (await removeDkimSelectorOp(configPath, domain, selector, notify))),
    addAccount: wrap(async (name: string, address: string) => void (await addAccountOp(configPath, name, address, notify))),
    removeAccount: wrap(async (name: string) => void (await removeAccountOp(configPath, name, notify))),
    addAddress: wrap(async (account: string, address: string) => void (await addAddressOp(configPath, account, address, notify))),
    removeAddress: wrap(async (address: string) => void (await removeAddressOp(configPath, address, notify))),
    setAccountLimits: wrap(async (account: string, limits: AccountLimits) => void (await setAccountLimitsOp(configPath, account, limits, notify))),
  };
}
