/**
 * A small valid configuration built in memory, for tests of other modules (smtp, imap, queue,
 * webapi…). It goes through the real loader, so it is exactly what a server would see.
 */
import { stringify } from 'yaml';
import type { StaticConfig, StaticConfigInput } from './static-schema.js';
import type { DynamicConfig, DynamicConfigInput } from './dynamic-schema.js';
import { parseStatic, parseDynamic } from './load.js';

export interface TestConfigOptions {
  /** Absolute data directory (e.g. a temp dir). */
  dataDir: string;
  hostname?: string;
  /** Account name → addresses; the first address's domain is the account Domain. Default {mjl: ['mjl@example.com']}. */
  accounts?: Record<string, string[]>;
  /** Extra/overriding top-level keys (shallow merge), in config-file form. */
  static?: Partial<StaticConfigInput>;
  dynamic?: Partial<DynamicConfigInput>;
}

export function testConfig(opts: TestConfigOptions): { static: StaticConfig; dynamic: DynamicConfig } {
  const accounts = opts.accounts ?? { mjl: ['mjl@example.com'] };
  const first = Object.keys(accounts)[0];
  if (first === undefined) throw new Error('testConfig needs at least one account');
  const domains = new Set<string>();
  for (const addrs of Object.values(accounts)) for (const a of addrs) domains.add(a.slice(a.lastIndexOf('@') + 1));
  const stat: StaticConfigInput = {
    DataDir: opts.dataDir,
    Hostname: opts.hostname ?? 'mail.example.com',
    Listeners: {},
    Postmaster: { Account: first },
    ...opts.static,
  };
  const dyn: DynamicConfigInput = {
    Domains: Object.fromEntries([...domains].map((d) => [d, { LocalpartCatchallSeparator: '+' }])),
    Accounts: Object.fromEntries(
      Object.entries(accounts).map(([name, addrs]) => [
        name,
        {
          Domain: addrs[0]!.slice(addrs[0]!.lastIndexOf('@') + 1),
          Destinations: Object.fromEntries(addrs.map((a) => [a, {}])),
        },
      ]),
    ),
    ...opts.dynamic,
  };
  const s = parseStatic(stringify(stat), `${opts.dataDir}/mox.conf`);
  return { static: s, dynamic: parseDynamic(stringify(dyn), `${opts.dataDir}/domains.conf`, s) };
}
