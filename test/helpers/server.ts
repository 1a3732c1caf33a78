/**
 * Start a real moxts server in-process for scenario tests: a temp dir with mox.conf and
 * domains.conf (listeners on 127.0.0.1 port 0), a self-signed certificate, a dns2 DNS server on
 * 127.0.0.1 as its resolver, and no unknown-recipient delay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { StaticConfigInput } from '../../config/static-schema.js';
import type { DynamicConfigInput } from '../../config/dynamic-schema.js';
import { startServer, type Server, type SmtpLimits, type StartOptions } from '../../cmd/server.js';
import { generateSelfSignedCert } from '../../cmd/tls-selfsigned.js';
import { startTestDns, type TestDns, type TestDnsZone } from '../../dns/testserver.js';
import { cachingResolver } from '../../dns/cache.js';
import { hashPassword } from '../../auth/password.js';
import { nullLogger, createLogger, type Logger } from '../../log/logger.js';

type ListenerInput = StaticConfigInput['Listeners'][string];

export interface TestServerOptions {
  hostname?: string;
  domains?: DynamicConfigInput['Domains'];
  accounts?: DynamicConfigInput['Accounts'];
  /** Overrides for the "local" listener. */
  listener?: Partial<ListenerInput>;
  static?: Partial<StaticConfigInput>;
  zone?: TestDnsZone;
  log?: Logger;
  /** Put the production DNS cache in front of the test DNS server (benchmarks). */
  cacheDns?: boolean;
  smtpLimits?: Partial<SmtpLimits>;
  /** Default 0 (no delay) in tests. */
  unknownRecipientDelayMs?: number;
  smtpCommandTimeoutMs?: number;
  /** Delay after a failed login; default 0 in tests. */
  failedLoginDelayMs?: number;
  /** Set these account passwords (account name → password) after start. */
  passwords?: Record<string, string>;
  /** The server's clock (tests that move time, e.g. webhook retries). */
  clock?: () => Date;
  /** Enable IMAP (port 0, plaintext login allowed unless imapRequireTLS) and IMAPS (port 0). */
  imap?: boolean;
  imapRequireTLS?: boolean;
  imapLimits?: StartOptions['imapLimits'];
  imapIdleTimeoutMs?: number;
  /** Outgoing delivery: where MX hosts are dialled (port/portFor), timeouts, TLS trust. */
  delivery?: StartOptions['delivery'];
  queueConcurrency?: number;
  /** Keep the queue scheduler off (tests that only inspect the queue). */
  noQueueScheduler?: boolean;
  /** Store tuning: when the full-text index is filled, inline size limit (StartOptions.storeTuning). */
  storeTuning?: StartOptions['storeTuning'];
}

export interface TestServer {
  server: Server;
  dir: string;
  dns: TestDns;
  smtpPort: number;
  /** Ports of the IMAP (143-style) and IMAPS listeners, 0 when not enabled. */
  imapPort: number;
  imapsPort: number;
  /** Bound ports of the submission (587-style, STARTTLS) and submissions (465-style) listeners; 0 when not enabled (listener option `Submission`/`Submissions` with Port 0). */
  submissionPort: number;
  submissionsPort: number;
  certPem: string;
  stop(): Promise<void>;
}

/** Write mox.conf, domains.conf and a certificate for a test server into dir. Returns the cert PEM. */
export async function writeTestConfig(dir: string, o: TestServerOptions = {}): Promise<string> {
  const hostname = o.hostname ?? 'mail.example.com';
  const { certPem, keyPem } = await generateSelfSignedCert(['localhost', hostname, '127.0.0.1']);
  await writeFile(join(dir, 'cert.pem'), certPem);
  await writeFile(join(dir, 'key.pem'), keyPem);
  await mkdir(join(dir, 'data'), { recursive: true });
  const stat: StaticConfigInput = {
    DataDir: 'data',
    Hostname: hostname,
    Listeners: {
      local: {
        IPs: ['127.0.0.1'],
        TLS: { KeyCerts: [{ CertFile: 'cert.pem', KeyFile: 'key.pem' }] },
        SMTP: { Enabled: true, Port: 0 },
        ...(o.imap ? { IMAP: { Enabled: true, Port: 0, NoRequireSTARTTLS: !o.imapRequireTLS }, IMAPS: { Enabled: true, Port: 0 } } : {}),
        ...o.listener,
      },
    },
    Postmaster: { Account: Object.keys(o.accounts ?? { mjl: 0 })[0]! },
    ...o.static,
  };
  const dyn: DynamicConfigInput = {
    Domains: o.domains ?? { 'example.com': { LocalpartCatchallSeparator: '+' } },
    Accounts: o.accounts ?? { mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} } } },
  };
  await writeFile(join(dir, 'mox.conf'), stringify(stat));
  await writeFile(join(dir, 'domains.conf'), stringify(dyn));
  return certPem;
}

/** Default: domain example.com with catchall separator "+", account mjl with mjl@example.com. */
export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-srv-'));
  const certPem = await writeTestConfig(dir, o);
  const dns = await startTestDns(o.zone ?? {});
  const log = o.log ?? (process.env.MOXTS_TEST_LOG ? createLogger({ level: process.env.MOXTS_TEST_LOG as 'debug' }) : nullLogger());
  const resolver = o.cacheDns ? cachingResolver(dns.resolver) : dns.resolver;
  const server = await startServer({ configPath: join(dir, 'mox.conf'), log, resolver, unknownRecipientDelayMs: o.unknownRecipientDelayMs ?? 0, smtpLimits: o.smtpLimits, smtpCommandTimeoutMs: o.smtpCommandTimeoutMs, failedLoginDelayMs: o.failedLoginDelayMs ?? 0, imapLimits: o.imapLimits, imapIdleTimeoutMs: o.imapIdleTimeoutMs, clock: o.clock, delivery: o.delivery, queueConcurrency: o.queueConcurrency, noQueueScheduler: o.noQueueScheduler, storeTuning: o.storeTuning });
  for (const [account, password] of Object.entries(o.passwords ?? {})) server.store.account(account).setPassword(await hashPassword(password));
  const smtp = server.listeners.find((l) => l.service === 'smtp');
  return {
    server,
    dir,
    dns,
    smtpPort: smtp?.port ?? 0,
    imapPort: server.listeners.find((l) => l.service === 'imap')?.port ?? 0,
    imapsPort: server.listeners.find((l) => l.service === 'imaps')?.port ?? 0,
    submissionPort: server.listeners.find((l) => l.service === 'submission')?.port ?? 0,
    submissionsPort: server.listeners.find((l) => l.service === 'submissions')?.port ?? 0,
    certPem,
    async stop() {
      await server.stop();
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
