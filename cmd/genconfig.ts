/**
 * Generated configurations for `moxts quickstart` and `moxts localserve`, typed against the config
 * schemas so a schema change that breaks them fails to compile. Writing files is left to the
 * callers; these functions are pure.
 */
import { stringify } from 'yaml';
import type { StaticConfigInput } from '../config/static-schema.js';
import type { DynamicConfigInput } from '../config/dynamic-schema.js';

/** Localserve ports: the standard ports + 1000, as mox (../shared/reference/mox-behaviour.md §5). */
export const LOCALSERVE_PORTS = {
  SMTP: 1025,
  Submission: 1587,
  Submissions: 1465,
  IMAP: 1143,
  IMAPS: 1993,
  HTTP: 1080,
  HTTPS: 1443,
  Metrics: 1081,
} as const;

export const LOCALSERVE_ACCOUNT = 'mox';
export const LOCALSERVE_ADDRESS = 'mox@localhost';
export const LOCALSERVE_PASSWORD = 'moxmoxmox';
export const LOCALSERVE_ADMIN_PASSWORD = 'moxadmin';
export const LOCALSERVE_DKIM_SELECTOR = 'localserve';

/** Files referenced by the generated configs, relative to the config directory. */
export interface GeneratedFiles {
  certFile: string;
  keyFile: string;
  adminPasswordFile: string;
  dkimKeyFiles: Record<string, string>; // selector → key file
}

export function localserveConfig(opts: { ips: string[]; files: GeneratedFiles; randomPorts?: boolean }): {
  static: StaticConfigInput;
  dynamic: DynamicConfigInput;
} {
  // randomPorts: every port 0 (OS-chosen), for tests that must not bind fixed ports.
  const p = opts.randomPorts
    ? (Object.fromEntries(Object.keys(LOCALSERVE_PORTS).map((k) => [k, 0])) as unknown as typeof LOCALSERVE_PORTS)
    : LOCALSERVE_PORTS;
  const stat: StaticConfigInput = {
    DataDir: 'data',
    Hostname: 'localhost',
    LogLevel: 'info',
    Pedantic: true,
    TLS: { CA: { AdditionalToSystem: true, CertFiles: [opts.files.certFile] } },
    AdminPasswordFile: opts.files.adminPasswordFile,
    Listeners: {
      local: {
        IPs: opts.ips,
        Hostname: 'localhost',
        TLS: { KeyCerts: [{ CertFile: opts.files.certFile, KeyFile: opts.files.keyFile }] },
        SMTP: { Enabled: true, Port: p.SMTP, FirstTimeSenderDelay: '0s' },
        Submission: { Enabled: true, Port: p.Submission, NoRequireSTARTTLS: true },
        Submissions: { Enabled: true, Port: p.Submissions },
        IMAP: { Enabled: true, Port: p.IMAP, NoRequireSTARTTLS: true },
        IMAPS: { Enabled: true, Port: p.IMAPS },
        AccountHTTP: { Enabled: true, Port: p.HTTP, Path: '/account/' },
        AccountHTTPS: { Enabled: true, Port: p.HTTPS, Path: '/account/' },
        AdminHTTP: { Enabled: true, Port: p.HTTP },
        AdminHTTPS: { Enabled: true, Port: p.HTTPS },
        WebAPIHTTP: { Enabled: true, Port: p.HTTP },
        WebAPIHTTPS: { Enabled: true, Port: p.HTTPS },
        MetricsHTTP: { Enabled: true, Port: p.Metrics },
      },
    },
    Postmaster: { Account: LOCALSERVE_ACCOUNT, Mailbox: 'Inbox' },
    Localserve: true,
  };
  const dyn: DynamicConfigInput = {
    Domains: {
      localhost: {
        LocalpartCatchallSeparator: '+',
        DKIM: {
          Selectors: {
            [LOCALSERVE_DKIM_SELECTOR]: {
              Expiration: '72h',
              PrivateKeyFile: opts.files.dkimKeyFiles[LOCALSERVE_DKIM_SELECTOR]!,
            },
          },
          Sign: [LOCALSERVE_DKIM_SELECTOR],
        },
      },
    },
    Accounts: {
      [LOCALSERVE_ACCOUNT]: {
        Domain: 'localhost',
        Destinations: { [LOCALSERVE_ADDRESS]: {} },
        KeepRetiredMessagePeriod: '72h',
        KeepRetiredWebhookPeriod: '72h',
        RejectsMailbox: 'Rejects',
        NoFirstTimeSenderDelay: true,
      },
    },
  };
  return { static: stat, dynamic: dyn };
}

export interface QuickstartInput {
  /** The first address, e.g. admin@example.com; its localpart names the account. */
  address: { localpart: string; domain: string };
  accountName: string;
  hostname: string;
  publicIPs: string[];
  internalIPs: string[];
  /** DKIM selectors to create and sign with. */
  dkimSelectors: string[];
  files: GeneratedFiles;
  mtastsPolicyId: string;
}

export function quickstartConfig(q: QuickstartInput): { static: StaticConfigInput; dynamic: DynamicConfigInput } {
  const tls = { KeyCerts: [{ CertFile: q.files.certFile, KeyFile: q.files.keyFile }] };
  const stat: StaticConfigInput = {
    DataDir: '../data',
    Hostname: q.hostname,
    LogLevel: 'info',
    AdminPasswordFile: q.files.adminPasswordFile,
    Listeners: {
      public: {
        IPs: q.publicIPs,
        TLS: tls,
        SMTP: { Enabled: true },
        Submissions: { Enabled: true },
        IMAPS: { Enabled: true },
      },
      internal: {
        IPs: q.internalIPs,
        Hostname: 'localhost',
        AccountHTTP: { Enabled: true },
        AdminHTTP: { Enabled: true },
        WebAPIHTTP: { Enabled: true },
        MetricsHTTP: { Enabled: true },
      },
    },
    Postmaster: { Account: q.accountName, Mailbox: 'Postmaster' },
    InitialMailboxes: {
      SpecialUse: { Sent: 'Sent', Archive: 'Archive', Trash: 'Trash', Draft: 'Drafts', Junk: 'Junk' },
      Regular: ['Postmaster', 'DMARC', 'TLSRPT'],
    },
  };
  const d = q.address.domain;
  const dyn: DynamicConfigInput = {
    Domains: {
      [d]: {
        LocalpartCatchallSeparator: '+',
        ClientSettingsDomain: q.hostname,
        DKIM: {
          Selectors: Object.fromEntries(
            q.dkimSelectors.map((s) => [s, { Expiration: '72h', PrivateKeyFile: q.files.dkimKeyFiles[s]! }]),
          ),
          Sign: q.dkimSelectors,
        },
        DMARC: { Localpart: 'dmarcreports', Account: q.accountName, Mailbox: 'DMARC' },
        TLSRPT: { Localpart: 'tlsreports', Account: q.accountName, Mailbox: 'TLSRPT' },
        MTASTS: { PolicyID: q.mtastsPolicyId, Mode: 'enforce', MaxAge: '24h', MX: [q.hostname] },
      },
    },
    Accounts: {
      [q.accountName]: {
        Domain: d,
        Destinations: { [`${q.address.localpart}@${d}`]: {} },
        KeepRetiredMessagePeriod: '72h',
        KeepRetiredWebhookPeriod: '72h',
        RejectsMailbox: 'Rejects',
      },
    },
  };
  return { static: stat, dynamic: dyn };
}

/** YAML text of a generated config with a header comment. */
export function configYaml(header: string, value: unknown): string {
  const head = header
    .split('\n')
    .map((l) => (l ? `# ${l}` : '#'))
    .join('\n');
  return `${head}\n${stringify(value, { lineWidth: 0 })}`;
}
