/**
 * `moxts quickstart user@domain`: writes mox.conf, domains.conf, DKIM keys (ed25519 and RSA-2048),
 * a self-signed certificate, the admin password file and the data dir with the account; prints
 * the passwords and the DNS records to publish.
 */
import type { Command } from 'commander';
import { join, resolve, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { promises as fsp } from 'node:fs';
import { Store } from '../store/index.js';
import { hashPassword } from '../auth/password.js';
import { generateDkimKey, dkimTxtRecord, type DkimKeyAlgorithm } from '../auth/dkim-keys.js';
import { parseAddress } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import { domainRecords } from '../dns/records.js';
import { nullLogger } from '../log/logger.js';
import { UserError } from './context.js';
import { exists, writeFileAtomic } from './files.js';
import { configYaml, quickstartConfig, type GeneratedFiles } from './genconfig.js';

/** Generated passwords: 12 random bytes, base64url, 16 characters — about 96 bits. */
export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}

export interface QuickstartOptions {
  address: string;
  /** Config directory to create (default "config"); data goes to "<dir>/../data". */
  dir: string;
  hostname?: string;
  /** Public IPs to listen on (default 0.0.0.0 and ::); specific IPs are also put in SPF/A records. */
  ips?: string[];
  now?: Date;
}

export interface QuickstartResult {
  configPath: string;
  accountName: string;
  address: string;
  password: string;
  adminPassword: string;
  zone: string;
}

export async function quickstart(o: QuickstartOptions): Promise<QuickstartResult> {
  const addr = parseAddress(o.address);
  if (!addr) throw new UserError(`invalid address ${JSON.stringify(o.address)}; expected user@domain`);
  const domain = addr.domain;
  const hostname = (o.hostname ?? `mail.${domain}`).toLowerCase().replace(/\.$/, '');
  const dir = resolve(o.dir);
  const configPath = join(dir, 'mox.conf');
  if (await exists(configPath)) throw new UserError(`${configPath} already exists; not overwriting`);
  const now = o.now ?? new Date();
  const year = now.getUTCFullYear();
  // Two selectors, both used for signing: ed25519 for modern verifiers, RSA for the rest (rfc8463:5).
  const selectors: Array<{ name: string; alg: DkimKeyAlgorithm }> = [
    { name: `${year}a`, alg: 'ed25519' },
    { name: `${year}b`, alg: 'rsa' },
  ];
  const files: GeneratedFiles = {
    certFile: `${hostname}.crt`,
    keyFile: `${hostname}.key`,
    adminPasswordFile: 'adminpasswd',
    dkimKeyFiles: Object.fromEntries(selectors.map((s) => [s.name, `dkim/${domain}.${s.name}.${s.alg}.pem`])),
  };
  const ips = o.ips?.length ? o.ips : ['0.0.0.0', '::'];
  for (const ip of ips) if (!isIP(ip)) throw new UserError(`invalid IP ${JSON.stringify(ip)}`);
  const accountName = addr.localpart.toLowerCase().replace(/[^a-z0-9._-]/g, '') || 'admin';
  const password = generatePassword();
  const adminPassword = generatePassword();

  await fsp.mkdir(dir, { recursive: true, mode: 0o750 });
  const dkimTxt: { selector: string; txt: string }[] = [];
  for (const s of selectors) {
    const pem = generateDkimKey(s.alg);
    await writeFileAtomic(join(dir, files.dkimKeyFiles[s.name]!), pem, 0o600);
    dkimTxt.push({ selector: s.name, txt: dkimTxtRecord(pem) });
  }
  const { generateSelfSignedCert } = await import('./tls-selfsigned.js');
  const cert = await generateSelfSignedCert([hostname], now);
  await writeFileAtomic(join(dir, files.certFile), cert.certPem);
  await writeFileAtomic(join(dir, files.keyFile), cert.keyPem, 0o600);
  await writeFileAtomic(join(dir, files.adminPasswordFile), JSON.stringify(await hashPassword(adminPassword)) + '\n', 0o600);
  const mtastsPolicyId = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  const cfg = quickstartConfig({
    address: { localpart: addr.localpart, domain },
    accountName,
    hostname,
    publicIPs: ips,
    internalIPs: ['127.0.0.1', '::1'],
    dkimSelectors: selectors.map((s) => s.name),
    files,
    mtastsPolicyId,
  });
  await writeFileAtomic(
    join(dir, 'domains.conf'),
    configYaml(`domains.conf for ${domain}, written by "moxts quickstart". Domains and accounts; reloaded on change.\nSee "moxts config describe-domains" for every key.`, cfg.dynamic),
  );
  await writeFileAtomic(
    configPath,
    configYaml(
      `mox.conf for ${hostname}, written by "moxts quickstart". Changes need a restart.\nThe TLS certificate is self-signed: replace ${files.certFile}/${files.keyFile} with a real one.\nSee "moxts config describe-static" for every key.`,
      cfg.static,
    ),
  );
  // Validate what we wrote with the real loader, then create the account and its password.
  const loaded = await loadConfig(configPath);
  const store = await Store.open({ dataDir: loaded.static.DataDir, log: nullLogger() });
  try {
    store.account(accountName).setPassword(await hashPassword(password));
  } finally {
    await store.close();
  }
  const publishIPs = ips.filter((ip) => ip !== '0.0.0.0' && ip !== '::');
  const zone = domainRecords({ domain, hostname, ips: publishIPs, dkim: dkimTxt, mtastsPolicyId }).join('\n') + '\n';
  return { configPath, accountName, address: `${addr.localpart}@${domain}`, password, adminPassword, zone };
}

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .argument('<address>', 'the first email address, e.g. you@example.com; its localpart names the account')
    .description('create a config for a domain and account, print the passwords and the DNS records to publish')
    .option('--dir <dir>', 'config directory to create; data goes next to it in ../data', 'config')
    .option('--hostname <host>', 'host name of this mail server (default mail.<domain>)')
    .option('--ip <ips>', 'comma-separated public IPs to listen on (default all: 0.0.0.0 and ::)')
    .action(async (address: string, opts: { dir: string; hostname?: string; ip?: string }) => {
      const r = await quickstart({
        address,
        dir: opts.dir,
        hostname: opts.hostname,
        ips: opts.ip?.split(',').map((s) => s.trim()).filter(Boolean),
      });
      const rel = relative(process.cwd(), r.configPath) || r.configPath;
      process.stdout.write(
        [
          `Config written to ${rel} (and domains.conf beside it); data directory created.`,
          '',
          `Account "${r.accountName}" with address ${r.address}`,
          `  password:       ${r.password}`,
          `Admin password:   ${r.adminPassword}`,
          'Write these down: they are stored only as hashes.',
          '',
          'Publish these DNS records (zone file format):',
          '',
          r.zone,
          `Then check the config with "moxts --config ${rel} config test" and start with "moxts --config ${rel} serve".`,
          '',
        ].join('\n'),
      );
    });
}
