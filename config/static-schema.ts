/**
 * Schema of mox.conf, the static configuration (read at start-up; changes need a restart).
 * Key names follow mox exactly. The `.describe()` texts are the documentation: `describeStatic()`
 * (config/describe.ts) renders them into the annotated template printed by
 * `moxts config describe-static`.
 */
import * as z from 'zod';
import { duration, port, named, type DeepReadonly } from './schema-helpers.js';

export const LOG_LEVEL_VALUES = ['error', 'warn', 'info', 'debug', 'trace', 'traceauth', 'tracedata'] as const;

const logLevel = z.enum(LOG_LEVEL_VALUES);

/** Defaults for listener service ports, as in mox. */
export const DEFAULT_PORTS = {
  SMTP: 25,
  Submission: 587,
  Submissions: 465,
  IMAP: 143,
  IMAPS: 993,
  AccountHTTP: 80,
  AccountHTTPS: 443,
  AdminHTTP: 80,
  AdminHTTPS: 443,
  WebAPIHTTP: 80,
  WebAPIHTTPS: 443,
  MetricsHTTP: 8010,
} as const;

/** Default maximum message size accepted on SMTP (100 MiB, as mox). */
export const DEFAULT_SMTP_MAX_MESSAGE_SIZE = 100 * 1024 * 1024;

function enabled() {
  return z.boolean().default(false).describe('Whether this service is started on the listener.');
}

function portFor(name: keyof typeof DEFAULT_PORTS) {
  return port().default(DEFAULT_PORTS[name]).describe(`TCP port to listen on for ${name}.`);
}

function webService(name: keyof typeof DEFAULT_PORTS, path: string, what: string) {
  const tls = name.endsWith('HTTPS');
  return z
    .strictObject({
      Enabled: enabled(),
      Port: portFor(name),
      Path: z
        .string()
        .startsWith('/')
        .default(path)
        .describe(`URL path under which the ${what} is served; must start (and should end) with a slash.`),
      Forwarded: z
        .boolean()
        .default(false)
        .describe(
          'Trust the X-Forwarded-For and X-Forwarded-Proto headers of requests (only when running behind a reverse proxy that sets them).',
        ),
    })
    .optional()
    .describe(`${what[0]!.toUpperCase()}${what.slice(1)} over ${tls ? 'HTTPS (TLS from the listener)' : 'plain HTTP'}.`);
}

export const KeyCertSchema = z.strictObject({
  CertFile: z
    .string()
    .min(1)
    .describe('Certificate chain in PEM format, leaf first. A relative path is relative to the config directory.'),
  KeyFile: z
    .string()
    .min(1)
    .describe('Private key in PEM format (PKCS#8, PKCS#1 RSA or SEC1 EC) for CertFile. Relative to the config directory.'),
});

export const ListenerSchema = z.strictObject({
  IPs: z
    .array(z.string())
    .min(1)
    .describe('IP addresses to listen on; 0.0.0.0 and :: mean all IPv4 / IPv6 addresses.'),
  NATIPs: z
    .array(z.string())
    .optional()
    .describe(
      'If the listener is behind NAT: the public IP addresses the IPs are reachable on. Used for DNS/SPF checks and advice only.',
    ),
  Hostname: z
    .string()
    .optional()
    .describe('Hostname for this listener (EHLO, TLS certificates, autoconfig). Defaults to the global Hostname.'),
  TLS: z
    .strictObject({
      KeyCerts: z
        .array(KeyCertSchema)
        .min(1)
        .describe('Certificates with their private keys. The certificate is chosen by the SNI name of the client.'),
      MinVersion: z
        .enum(['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'])
        .default('TLSv1.2')
        .describe('Minimum TLS version accepted from clients.'),
    })
    .optional()
    .describe(
      'TLS configuration. Required when an implicit-TLS service (Submissions, IMAPS, *HTTPS) is enabled or STARTTLS is required.',
    ),
  SMTPMaxMessageSize: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_SMTP_MAX_MESSAGE_SIZE)
    .describe('Maximum size in bytes of a message accepted over SMTP and submission (advertised with SIZE).'),
  SMTP: z
    .strictObject({
      Enabled: enabled(),
      Port: portFor('SMTP'),
      NoSTARTTLS: z
        .boolean()
        .default(false)
        .describe('Do not offer STARTTLS; for testing only, incoming mail is then never encrypted.'),
      RequireSTARTTLS: z
        .boolean()
        .default(false)
        .describe('Refuse MAIL FROM before STARTTLS. Breaks delivery from servers that cannot do TLS.'),
      FirstTimeSenderDelay: duration()
        .default(15_000)
        .describe(
          'How long to delay the response to a first-time sender (no earlier message from that address), to slow down spammers. Go duration, e.g. "15s"; "0s" disables.',
        ),
    })
    .optional()
    .describe('SMTP for incoming delivery from other mail servers (port 25).'),
  Submission: z
    .strictObject({
      Enabled: enabled(),
      Port: portFor('Submission'),
      NoRequireSTARTTLS: z
        .boolean()
        .default(false)
        .describe('Allow authentication and submission without STARTTLS (plaintext). Only for local testing.'),
    })
    .optional()
    .describe('SMTP submission with STARTTLS for mail clients (port 587).'),
  Submissions: z
    .strictObject({ Enabled: enabled(), Port: portFor('Submissions') })
    .optional()
    .describe('SMTP submission over implicit TLS for mail clients (port 465).'),
  IMAP: z
    .strictObject({
      Enabled: enabled(),
      Port: portFor('IMAP'),
      NoRequireSTARTTLS: z
        .boolean()
        .default(false)
        .describe('Allow login without STARTTLS (plaintext). Only for local testing.'),
    })
    .optional()
    .describe('IMAP with STARTTLS for mail clients (port 143).'),
  IMAPS: z
    .strictObject({ Enabled: enabled(), Port: portFor('IMAPS') })
    .optional()
    .describe('IMAP over implicit TLS for mail clients (port 993).'),
  AccountHTTP: webService('AccountHTTP', '/', 'account web interface'),
  AccountHTTPS: webService('AccountHTTPS', '/', 'account web interface'),
  AdminHTTP: webService('AdminHTTP', '/admin/', 'admin web interface'),
  AdminHTTPS: webService('AdminHTTPS', '/admin/', 'admin web interface'),
  WebAPIHTTP: webService('WebAPIHTTP', '/webapi/', 'webapi (HTTP/JSON API)'),
  WebAPIHTTPS: webService('WebAPIHTTPS', '/webapi/', 'webapi (HTTP/JSON API)'),
  MetricsHTTP: z
    .strictObject({ Enabled: enabled(), Port: portFor('MetricsHTTP') })
    .optional()
    .describe('Prometheus metrics at /metrics over plain HTTP. Only expose on an internal listener.'),
});

const SMTPTransportSchema = (defPort: number, what: string) =>
  z
    .strictObject({
      Host: z.string().min(1).describe('Hostname of the server to deliver to.'),
      Port: port().default(defPort).describe('Port of the server.'),
      STARTTLSInsecureSkipVerify: z
        .boolean()
        .default(false)
        .describe('Do not verify the TLS certificate of the server (not recommended).'),
      NoSTARTTLS: z.boolean().default(false).describe('Do not use STARTTLS; credentials and messages go in plaintext.'),
      Auth: z
        .strictObject({
          Username: z.string().describe('Username for SASL authentication.'),
          Password: z.string().describe('Password for SASL authentication.'),
          Mechanisms: z
            .array(z.enum(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN']))
            .optional()
            .describe(
              'Allowed mechanisms, in order of preference. Default: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1, CRAM-MD5. PLAIN only when listed.',
            ),
        })
        .optional()
        .describe('Credentials to authenticate with.'),
    })
    .optional()
    .describe(what);

export const TransportSchema = z
  .strictObject({
    Submissions: SMTPTransportSchema(465, 'Deliver to a smarthost with SMTP submission over implicit TLS (port 465).'),
    Submission: SMTPTransportSchema(
      587,
      'Deliver to a smarthost with SMTP submission and STARTTLS (port 587); the certificate is verified unless configured otherwise.',
    ),
    SMTP: SMTPTransportSchema(25, 'Deliver to a relay host with plain SMTP (port 25), STARTTLS when offered.'),
    Direct: z
      .strictObject({
        DisableIPv4: z.boolean().default(false).describe('Do not connect to IPv4 addresses of MX hosts.'),
        DisableIPv6: z.boolean().default(false).describe('Do not connect to IPv6 addresses of MX hosts.'),
      })
      .optional()
      .describe('Direct delivery to the MX hosts of the recipient domain (the default transport), with options.'),
    Fail: z
      .strictObject({
        SMTPCode: z
          .number()
          .int()
          .min(400)
          .max(599)
          .default(554)
          .describe('SMTP code to fail with; 4xx is a temporary failure (retried), 5xx permanent.'),
        SMTPMessage: z.string().optional().describe('Message text in the failure.'),
      })
      .optional()
      .describe('Fail every delivery attempt immediately with the given code; useful for testing.'),
  })
  .superRefine((t, ctx) => {
    const set = (['Submissions', 'Submission', 'SMTP', 'Direct', 'Fail'] as const).filter((k) => t[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `exactly one of Submissions, Submission, SMTP, Direct or Fail must be set, got ${set.length ? set.join(', ') : 'none'}`,
      });
    }
  })
  .describe('A transport; exactly one of its keys must be set.');

export const StaticConfigSchema = z.strictObject({
  DataDir: z
    .string()
    .min(1)
    .describe(
      'Directory where all data is stored (databases, message files, ctl socket). A relative path is relative to the directory of this config file.',
    ),
  Hostname: z
    .string()
    .min(1)
    .describe('Fully qualified hostname of this mail server, used in SMTP EHLO/greetings, Received headers and TLS.'),
  LogLevel: logLevel
    .default('info')
    .describe(
      'Log level: error, warn, info, debug, trace, traceauth (traces including authentication) or tracedata (traces including message data).',
    ),
  PackageLogLevels: z
    .record(z.string(), logLevel)
    .optional()
    .describe('Log level per module (e.g. smtp, imap, queue), overriding LogLevel.'),
  User: z
    .string()
    .default('mox')
    .describe('Unix user to run as after binding privileged ports, when started as root.'),
  NoFixPermissions: z
    .boolean()
    .default(false)
    .describe('Do not fix ownership and permissions of the data directory at start-up.'),
  Pedantic: z
    .boolean()
    .default(false)
    .describe('Be strict in protocol parsing: refuse slightly invalid syntax that is normally tolerated.'),
  TLS: z
    .strictObject({
      CA: z
        .strictObject({
          AdditionalToSystem: z
            .boolean()
            .default(false)
            .describe('Trust the system CA certificates in addition to CertFiles.'),
          CertFiles: z
            .array(z.string())
            .default([])
            .describe('PEM files with CA certificates to trust, e.g. for a self-signed certificate. Relative to the config directory.'),
        })
        .optional()
        .describe('Certificate authorities used when verifying TLS certificates of other servers.'),
    })
    .optional()
    .describe('Global TLS settings for outgoing connections.'),
  AdminPasswordFile: z
    .string()
    .optional()
    .describe('File with the password hash for the admin web interface (written by "moxts setadminpassword"). Relative to the config directory.'),
  Listeners: named(ListenerSchema).describe(
    'Listeners by name. A listener is a set of IPs with services. Convention: "public" for the internet, "internal" for loopback-only services.',
  ),
  Postmaster: z
    .strictObject({
      Account: z.string().min(1).describe('Account (in domains.conf) that receives postmaster mail and DSNs for the host.'),
      Mailbox: z.string().min(1).default('Inbox').describe('Mailbox in that account to deliver postmaster mail to.'),
    })
    .describe('Where mail to postmaster@ (for the hostname and domains without their own postmaster) is delivered.'),
  InitialMailboxes: z
    .strictObject({
      SpecialUse: z
        .strictObject({
          Sent: z.string().optional().describe('Name of the mailbox for sent messages (\\Sent).'),
          Archive: z.string().optional().describe('Name of the archive mailbox (\\Archive).'),
          Trash: z.string().optional().describe('Name of the trash mailbox (\\Trash).'),
          Draft: z.string().optional().describe('Name of the drafts mailbox (\\Drafts).'),
          Junk: z.string().optional().describe('Name of the junk mailbox (\\Junk).'),
        })
        .optional()
        .describe('Special-use mailboxes (RFC 6154) to create.'),
      Regular: z.array(z.string()).optional().describe('Additional regular mailboxes to create.'),
    })
    .optional()
    .describe(
      'Mailboxes created for a new account. Inbox is always created. Default when absent: Sent, Archive, Trash, Drafts and Junk with their special-use flags.',
    ),
  Transports: named(TransportSchema)
    .optional()
    .describe('Named transports for outgoing delivery, referenced from Routes in domains.conf. Without routes, mail is delivered directly to MX hosts.'),
  QuotaMessageSize: z
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe('Default maximum total size in bytes of all messages in an account; 0 is unlimited. Accounts can override.'),
  Localserve: z
    .boolean()
    .optional()
    .describe('moxts only: this config was generated by "moxts localserve"; enables its delivery simulation. Not a mox key.'),
});

export type StaticConfigInput = z.input<typeof StaticConfigSchema>;
export type StaticConfig = DeepReadonly<z.output<typeof StaticConfigSchema>>;
export type Listener = StaticConfig['Listeners'][string];
export type ListenerTLS = NonNullable<Listener['TLS']>;
export type Transport = NonNullable<StaticConfig['Transports']>[string];
export type TransportSMTP = NonNullable<Transport['SMTP']>;
export type LogLevelName = (typeof LOG_LEVEL_VALUES)[number];
