/**
 * The running server: loads the config, opens the store, starts the control socket and the
 * domains.conf watcher, and (as the protocol issues land) the listeners. `serve` and `localserve`
 * both start it; tests start it in-process with their own logger. Signal handling lives in the
 * commands, not here, so several servers can run in one test process.
 */
import { join } from 'node:path';
import { promises as fsp, readFileSync } from 'node:fs';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { watchDynamic, type DynamicWatcher } from '../config/reload.js';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { Store, type StoreOptions } from '../store/index.js';
import { hashPassword, isPasswordRecord } from '../auth/password.js';
import type { Logger } from '../log/logger.js';
import { startCtl, ctlPath, type CtlServer, type CtlHandler } from './ctl.js';
import { loadListenerTLS } from '../config/tls.js';
import { createResolver, type Resolver } from '../dns/resolver.js';
import { cachingResolver } from '../dns/cache.js';
import { Metrics } from '../metrics/registry.js';
import { RateLimiter, ConcurrencyLimiter } from '../auth/ratelimit.js';
import { verifyMessage, memoizedVerdict, dmarcRejects, type AuthVerdicts, type VerifyInput as VerifyMessageInput } from '../auth/verify.js';
import { startSmtpListener, type SmtpListener } from '../smtp/server/listener.js';
import { startImapListener } from '../imap/listener.js';
import { DeliveryPolicy, type Verifier, type VerifyResult, type IncomingReportCall } from '../smtp/server/delivery.js';
import { tmpDir } from '../store/paths.js';
import { startMetricsListener } from '../metrics/http.js';
import { QueueStore } from '../queue/store.js';
import { queueOp } from './queue-ops.js';
import { parseBuffer } from '../message/part.js';
import { LoginGuard, type LoginAccount } from '../auth/login.js';
import { AuthDb, AUTH_DB_FILE, AUTH_CLEANUP_INTERVAL_MS } from '../auth/authdb.js';
import type { PasswordRecord } from '../auth/password.js';
import { lookupDestination, findDomain, catchallSeparators } from '../config/lookup.js';
import { IncomingReports, MAX_REPORT_BYTES } from '../queue/incoming.js';
import { startWebhooks, type WebhookService } from '../webhook/service.js';
import { webhookOp } from './webhook-ops.js';
import { moxtsVersion } from './version-cmd.js';
import { Submitter } from '../queue/submit.js';
import { cleanupOutgoing } from '../queue/sendlimits.js';
import { SubmissionPolicy } from '../smtp/server/submission.js';
import { startWebListener, type WebService } from '../web/listener.js';
import { webapiHandler } from '../webapi/handler.js';
import { uiHandler } from '../web/ui.js';
import { adminApp } from '../web/admin/app.js';
import { adminConfigOps } from './config-ops.js';
import { accountApp } from '../web/account/app.js';
import { SessionStore, ACCOUNT_SESSION_LIMITS, ADMIN_SESSION_LIMITS } from '../web/session.js';
import { sessionPersistence } from '../web/session-db.js';
import { setAccountFields, type DomainsFile } from '../config/write.js';
import { setAccountWebhook } from '../config/webhook-config.js';
import type { CtlCall } from '../web/admin/deps.js';
import { IdempotencyStore } from '../queue/idempotency.js';
import { Scheduler } from '../queue/scheduler.js';
import { queueDeliverer, type DirectOptions } from '../queue/delivery.js';
import { dsnsForSender } from '../queue/dsn.js';
import { deliverLocal } from '../smtp/server/delivery.js';
import { rootCertificates } from 'node:tls';

/** A delayed DSN's Will-Retry-Until: mox uses the last attempt + 28 h (§3.2). */
const DELAYED_DSN_RETRY_UNTIL_MS = 28 * 3600_000;

/** How often retired queue messages past their keep period are deleted (mox: hourly). */
export const RETIRED_CLEANUP_INTERVAL_MS = 3_600_000;

export { ctlPath, CTL_SOCKET_NAME } from './ctl.js';

export interface Server {
  readonly loaded: LoadedConfig;
  readonly store: Store;
  readonly queue: QueueStore;
  /** Webhook store and delivery worker (webhook/). */
  readonly webhooks: WebhookService;
  /** The one way into the queue for an account's message (SMTP submission, webapi Send). */
  readonly submitter: Submitter;
  readonly ctlPath: string;
  /** Names of the network services running (smtp, submission, imap, http, ...), for the banner. */
  readonly services: readonly string[];
  /** Bound addresses per service (ports chosen by the OS when configured as 0). */
  readonly listeners: ReadonlyArray<{ service: string; ip: string; port: number }>;
  readonly metrics: Metrics;
  /**
   * The one failed-login limiter and login-attempt recorder shared by every protocol (SMTP
   * submission, IMAP, webapi, web): mox §9.2 limits per IP class, attempts stored in auth.db.
   */
  readonly loginGuard: LoginGuard;
  readonly authDb: AuthDb;
  /** The DNS resolver every component uses. */
  readonly resolver: Resolver;
  /** The outgoing queue's scheduler (kick() after moving an injected clock). */
  readonly scheduler: Scheduler | undefined;
  /** The current dynamic config (domains.conf), replaced on successful reloads. */
  dynamic(): DynamicConfig;
  /** Resolves when the server has stopped, by stop() or a ctl "stop". */
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  configPath: string;
  log: Logger;
  clock?: () => Date;
  /** DNS resolver; default the system's servers (with a cache). Tests pass one for a dns2 server. */
  resolver?: Resolver;
  /** Delay before refusing unknown recipients (tests use 0). */
  unknownRecipientDelayMs?: number;
  /** Override the incoming SMTP limits (benchmarks sending thousands of messages from one IP). */
  smtpLimits?: Partial<SmtpLimits>;
  /** SMTP idle timeout between commands; default 5 minutes (rfc5321:4.5.3.2.7). */
  smtpCommandTimeoutMs?: number;
  /** Delay after a failed login (default auth/login.ts FAILED_LOGIN_DELAY_MS; tests use 0). */
  failedLoginDelayMs?: number;
  /** Override the IMAP connection limits per IP class (benchmarks, fuzz tests). */
  imapLimits?: Partial<Pick<SmtpLimits, 'connectionsPerMinute' | 'concurrentConnections'>>;
  /** IMAP autologout timeout; default 30 minutes (rfc9051:5.4). */
  imapIdleTimeoutMs?: number;
  /** Outgoing direct delivery settings (tests: the port MX hosts are dialled on instead of 25, timeouts, TLS trust). */
  delivery?: DirectOptions;
  /** Queue deliveries at once (default queue/scheduler.ts MAX_CONCURRENT_DELIVERIES). */
  queueConcurrency?: number;
  /** Don't start the queue scheduler (tests that only look at the queue). */
  noQueueScheduler?: boolean;
  /** Store tuning: when the full-text index is filled (store/README.md "Deferred indexing"; tests) and the inline message size limit (bench A/B). */
  storeTuning?: Pick<StoreOptions, 'indexIdleMs' | 'indexMaxDelayMs' | 'indexMaxBacklog' | 'inlineMaxSize'>;
}

type Triple = readonly [number, number, number];
export interface SmtpLimits {
  connectionsPerMinute: Triple;
  concurrentConnections: Triple;
  messagesPerMinute: Triple;
  messagesPerDay: Triple;
  mibPerMinute: Triple;
  mibPerDay: Triple;
}

/** Incoming connection and volume limits per IP class (mox §9.2). */
export const SMTP_LIMITS: SmtpLimits = {
  connectionsPerMinute: [300, 900, 2700],
  concurrentConnections: [30, 90, 270],
  messagesPerMinute: [500, 1500, 4500],
  messagesPerDay: [10_000, 30_000, 90_000],
  mibPerMinute: [1000, 3000, 9000],
  mibPerDay: [3000, 9000, 27_000],
};


export async function startServer(opts: StartOptions): Promise<Server> {
  const { log } = opts;
  const loaded = await loadConfig(opts.configPath);
  const dataDir = loaded.static.DataDir;
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o750 });

  let current = loaded.dynamic;
  const quota = (account: string): number | undefined => {
    const a = current.Accounts[account];
    const q = a?.QuotaMessageSize ?? loaded.static.QuotaMessageSize;
    return q > 0 ? q : undefined;
  };
  const store = await Store.open({ dataDir, log: log.child({ proto: 'store' }), clock: opts.clock, quotaMessageSize: quota, ...opts.storeTuning });

  const queue = await QueueStore.open({
    dataDir,
    log: log.child({ proto: 'queue' }),
    clock: opts.clock,
    keepRetiredFor: (account) => current.Accounts[account]?.KeepRetiredMessagePeriod ?? 0,
    checkpointer: store.checkpointer,
  });
  const cleanups: Array<() => Promise<void> | void> = [() => store.close(), () => queue.close()];
  const cleanupTimer = setInterval(() => {
    try {
      const n = queue.cleanupRetired();
      if (n) log.info({ removed: n }, 'removed expired retired messages');
      cleanupOutgoing(queue.db, opts.clock ? opts.clock().getTime() : Date.now());
    } catch (err) {
      log.error({ err }, 'cleaning up retired messages');
    }
  }, RETIRED_CLEANUP_INTERVAL_MS);
  cleanupTimer.unref();
  // mox: the first cleanup 3 s after start, then hourly.
  const firstCleanup = setTimeout(() => {
    try {
      queue.cleanupRetired();
    } catch (err) {
      log.error({ err }, 'cleaning up retired messages');
    }
  }, 3000);
  firstCleanup.unref();
  cleanups.push(() => clearInterval(cleanupTimer), () => clearTimeout(firstCleanup));
  const metrics = new Metrics({ defaultMetrics: true });
  const webhooks = startWebhooks({ dataDir, config: () => current, log: log.child({ proto: 'webhook' }), clock: opts.clock, userAgent: `moxts/${moxtsVersion()} (webhook)`, onAttempt: (code, ms) => metrics.webhookRequest(code, ms), checkpointer: store.checkpointer });
  metrics.setQueueCounts({ size: () => queue.count(), held: () => queue.count({ hold: true }), webhooks: () => webhooks.store.count() });
  cleanups.push(() => webhooks.stop());
  queue.onEvents = () => webhooks.worker.eventsArrived(); // outgoing events recorded: webhooks for them
  const services: string[] = [];
  const listeners: Array<{ service: string; ip: string; port: number }> = [];
  const submitter = new Submitter({
    config: () => ({ static: loaded.static, dynamic: current }),
    queue,
    tmpDir: tmpDir(dataDir),
    clock: opts.clock,
    log: log.child({ proto: 'submit' }),
  });
  const resolver = opts.resolver ?? cachingResolver(createResolver());
  const clockNow = () => (opts.clock ? opts.clock().getTime() : Date.now());
  const authDb = new AuthDb(join(dataDir, AUTH_DB_FILE), { clock: clockNow });
  cleanups.push(() => authDb.close());
  cleanups.push(authDb.scheduleCleanup(AUTH_CLEANUP_INTERVAL_MS, (err) => log.error({ err }, 'cleaning up login attempts')));
  // Login sessions of the web pages survive restarts (in auth.db, web/session-db.ts). A password
  // set for an account (CLI, admin or account pages) ends its sessions, as does removing it.
  const accountSessions = new SessionStore(ACCOUNT_SESSION_LIMITS, clockNow, sessionPersistence(authDb.db, 'account'));
  const adminSessions = new SessionStore(ADMIN_SESSION_LIMITS, clockNow, sessionPersistence(authDb.db, 'admin'));
  // Login names are email addresses of an account (its destinations, as in mox); the password
  // record is in the account's index.db.
  const lookupAccount = async (username: string): Promise<LoginAccount | undefined> => {
    const r = lookupDestination(current, username);
    // Not through an "@domain" catchall destination or an alias: only the account's own addresses.
    if (r?.kind !== 'account' || r.destinationKey.startsWith('@') || r.report) return undefined;
    const account = r.account;
    const record = store.account(account).getPassword<PasswordRecord>();
    if (!record) return undefined;
    const ld = current.Accounts[account]?.LoginDisabled;
    return { account, record, ...(ld ? { loginDisabled: ld } : {}) };
  };
  const loginGuard = new LoginGuard({
    lookupAccount,
    authDb,
    clock: clockNow,
    log: log.child({ proto: 'auth' }),
    ...(opts.failedLoginDelayMs !== undefined ? { failureDelayMs: opts.failedLoginDelayMs } : {}),
  });
  let scheduler: Scheduler | undefined;
  let ctlLocal: CtlCall = () => Promise.reject(new Error('control commands not ready'));
  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('stopping');
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (err) {
          log.error({ err }, 'during shutdown');
        }
      }
      log.info('stopped');
      resolveStopped();
    })();
    return stopping;
  };

  try {
    const watcher: DynamicWatcher = await watchDynamic({
      path: loaded.dynamicPath,
      static: loaded.static,
      initial: loaded.dynamic,
      log: log.child({ proto: 'config' }),
      onChange: (cfg: DynamicConfig) => {
        current = cfg;
        log.info('domains.conf reloaded');
      },
    });
    cleanups.push(() => watcher.close());

    // The control commands of the CLI; the web admin and account pages call the same handlers.
    const ctlHandlers: Record<string, CtlHandler> = {
      ping: () => 'pong',
      stop: () => {
        // Reply first, then stop.
        setImmediate(() => void stop());
        return 'stopping';
      },
      reload: async () => {
        const r = await watcher.reload();
        if (r.status === 'error') throw new Error(`domains.conf not reloaded, old config kept: ${r.error.message}`);
        return r.status;
      },
      setaccountpassword: async (args) => {
        const account = String(args.account ?? '');
        const password = String(args.password ?? '');
        if (!current.Accounts[account]) throw new Error(`no such account ${JSON.stringify(account)}`);
        if (!password) throw new Error('empty password');
        store.account(account).setPassword(await hashPassword(password));
        // Whoever knew the old password is logged out of the account pages; the account's own
        // password page keeps the session that made the change (args.keepWebSession, its key).
        const keep = typeof args.keepWebSession === 'string' ? args.keepWebSession : undefined;
        return { endedWebSessions: accountSessions.deleteFor(account, keep) };
      },
      queue: (args) =>
        queueOp(queue, String(args.op ?? ''), args, {
          hostname: loaded.static.Hostname,
          deliverToAccount: async (account, message) => {
            await store.account(account).deliver({ mailbox: 'Inbox', data: message, parsed: parseBuffer(message), rcptTo: account });
          },
        }),
      webhook: (args) => webhookOp(webhooks, String(args.op ?? ''), args, { config: () => current, userAgent: `moxts/${moxtsVersion()} (webhook)`, clock: opts.clock }),
      accountremoved: async (args) => {
        // Called by "config account rm" after removing the account from domains.conf.
        const account = String(args.account ?? '');
        await store.removeAccount(account);
        accountSessions.deleteFor(account);
        return null;
      },
    };
    ctlLocal = async (cmd, args = {}) => {
      const h = ctlHandlers[cmd];
      if (!h) throw new Error(`unknown control command ${JSON.stringify(cmd)}`);
      return h(args);
    };
    const ctl: CtlServer = await startCtl({ path: ctlPath(dataDir), log: log.child({ proto: 'ctl' }), handlers: ctlHandlers });
    cleanups.push(() => ctl.close());

    // SMTP delivery listeners (port 25).
    const lim: SmtpLimits = { ...SMTP_LIMITS, ...opts.smtpLimits };
    const clockMs = () => (opts.clock ? opts.clock().getTime() : Date.now());
    const connectionRate = new RateLimiter([{ windowMs: 60_000, max: lim.connectionsPerMinute }], clockMs);
    const concurrency = new ConcurrencyLimiter(lim.concurrentConnections);
    const mib = (xs: Triple): Triple => [xs[0] * 1024 * 1024, xs[1] * 1024 * 1024, xs[2] * 1024 * 1024];
    const messageLimiter = new RateLimiter(
      [
        { windowMs: 60_000, max: lim.messagesPerMinute },
        { windowMs: 86_400_000, max: lim.messagesPerDay },
      ],
      clockMs,
    );
    const byteLimiter = new RateLimiter(
      [
        { windowMs: 60_000, max: mib(lim.mibPerMinute) },
        { windowMs: 86_400_000, max: mib(lim.mibPerDay) },
      ],
      clockMs,
    );
    const hostname = loaded.static.Hostname;
    // The verdict of an unsigned message is memoized (auth/verify.ts); so is what we make of it,
    // and a memoized verdict is taken without a promise.
    const verifyResults = new WeakMap<AuthVerdicts, VerifyResult>();
    const verifyResult = (v: AuthVerdicts): VerifyResult => {
      const known = verifyResults.get(v);
      if (known) return known;
      const { authResultsHeader, receivedSpfHeader, ...meta } = v;
      const r = {
        headers: authResultsHeader + receivedSpfHeader,
        reject: dmarcRejects(v) ? `message rejected by the DMARC policy of ${v.fromDomain}` : undefined,
        dmarcPass: v.dmarc.result === 'pass',
        verifiedDomains: [...new Set([...(v.spf.result === 'pass' && v.spf.domain ? [v.spf.domain.toLowerCase()] : []), ...v.dkimVerifiedDomains])],
        meta,
      };
      verifyResults.set(v, r);
      return r;
    };
    const verify: Verifier = (input) => {
      const vi: VerifyMessageInput = {
        message: input.message.buffer ?? input.message.path!,
        ip: input.ip,
        helo: input.helo,
        mailFrom: input.mailFrom,
        hostname,
        resolver,
        // localserve: SPF passes for our single-label domains (localhost) from loopback (mox §5).
        ...(loaded.static.Localserve ? { loopbackSpfDomains: Object.keys(current.Domains).filter((d) => !d.includes('.')).map((d) => d.toLowerCase()) } : {}),
      };
      const memo = memoizedVerdict(vi);
      return memo ? verifyResult(memo) : verifyMessage(vi).then(verifyResult);
    };
    // DSNs, bounces and complaints about messages we sent (queue/incoming.ts, mox §4.3).
    const incomingReports = new IncomingReports({ queue, log: log.child({ proto: 'queue' }), clock: opts.clock });
    const notOutgoing = Object.freeze({ outgoing: false });
    // Synchronous for the common case (no retired messages to match): no promise per message.
    const incomingReport = (i: IncomingReportCall) => (incomingReports.hasRetired(i.account) ? matchIncomingReport(i) : notOutgoing);
    const matchIncomingReport = async (i: IncomingReportCall) => {
      const r = incomingReports.process({
        account: i.account,
        rcptTo: i.rcptTo,
        mailFrom: i.mailFrom,
        message: await i.read(MAX_REPORT_BYTES),
        separators: (domain) => {
          const d = findDomain(current, domain);
          return d ? catchallSeparators(d.domain) : [];
        },
      });
      if (r.events.length) webhooks.worker.kick(); // the outgoing webhooks for the recorded events
      return r;
    };
    for (const [name, l] of Object.entries(loaded.static.Listeners)) {
      if (!l.SMTP?.Enabled) continue;
      const tls = await loadListenerTLS(l);
      const policy = new DeliveryPolicy({
        config: () => ({ static: loaded.static, dynamic: current }),
        store,
        verify,
        resolver,
        metrics,
        messageLimiter,
        byteLimiter,
        tmpDir: tmpDir(dataDir),
        maxMessageSize: l.SMTPMaxMessageSize,
        requireTLS: l.SMTP.RequireSTARTTLS,
        clock: opts.clock,
        unknownRecipientDelayMs: opts.unknownRecipientDelayMs,
        incomingReport,
        // Only copies that get an incoming webhook go to the webhook service (no promise for the others).
        afterDeliver: (d) => (d.dsnMatched || !webhooks.incoming(d.account) ? undefined : webhooks.afterDeliver(d)),
      });
      for (const ip of l.IPs) {
        const sl: SmtpListener = await startSmtpListener(
          { ip, port: l.SMTP.Port, hostname: l.Hostname ?? hostname, policy, tlsContext: l.SMTP.NoSTARTTLS ? undefined : tls?.context },
          { log: log.child({ listener: name }), metrics, connectionRate, concurrency, tmpDir: tmpDir(dataDir), commandTimeoutMs: opts.smtpCommandTimeoutMs },
        );
        cleanups.push(() => sl.close());
        listeners.push({ service: 'smtp', ...sl.address });
      }
      if (!services.includes('smtp')) services.push('smtp');
    }

    // IMAP listeners (143 with STARTTLS, 993 implicit TLS); own connection limits (mox §9.2).
    const imapRate = new RateLimiter([{ windowMs: 60_000, max: opts.imapLimits?.connectionsPerMinute ?? SMTP_LIMITS.connectionsPerMinute }], clockMs);
    const imapConcurrency = new ConcurrencyLimiter(opts.imapLimits?.concurrentConnections ?? SMTP_LIMITS.concurrentConnections);
    for (const [name, l] of Object.entries(loaded.static.Listeners)) {
      if (!l.IMAP?.Enabled && !l.IMAPS?.Enabled) continue;
      const tls = await loadListenerTLS(l);
      const specs: Array<{ service: 'imap' | 'imaps'; port: number }> = [];
      if (l.IMAP?.Enabled) specs.push({ service: 'imap', port: l.IMAP.Port });
      if (l.IMAPS?.Enabled) specs.push({ service: 'imaps', port: l.IMAPS.Port });
      for (const sp of specs) {
        for (const ip of l.IPs) {
          const il = await startImapListener(
            { ip, port: sp.port, service: sp.service, tlsContext: tls?.context, sni: tls?.sni },
            {
              store,
              loginGuard,
              log: log.child({ listener: name }),
              metrics,
              hostname: l.Hostname ?? hostname,
              allowPlaintextLogin: sp.service === 'imap' && (l.IMAP?.NoRequireSTARTTLS ?? false),
              appendLimit: l.SMTPMaxMessageSize,
              idleTimeoutMs: opts.imapIdleTimeoutMs,
              clock: opts.clock,
              connectionRate: imapRate,
              concurrency: imapConcurrency,
            },
          );
          cleanups.push(() => il.close());
          listeners.push({ service: sp.service, ...il.address });
        }
        if (!services.includes(sp.service)) services.push(sp.service);
      }
    }

    // SMTP submission listeners: 587 with STARTTLS, 465 with implicit TLS (rfc8314).
    for (const [name, l] of Object.entries(loaded.static.Listeners)) {
      for (const service of ['submission', 'submissions'] as const) {
        const sc = service === 'submission' ? l.Submission : l.Submissions;
        if (!sc?.Enabled) continue;
        const tls = await loadListenerTLS(l);
        const requireTLS = service === 'submissions' || !l.Submission?.NoRequireSTARTTLS;
        if (service === 'submission' && requireTLS && !tls) log.warn({ listener: name }, 'submission requires STARTTLS but the listener has no TLS config: nobody can submit');
        const policy = new SubmissionPolicy({
          service,
          config: () => ({ static: loaded.static, dynamic: current }),
          submitter,
          loginGuard,
          metrics,
          maxMessageSize: l.SMTPMaxMessageSize,
          requireTLS,
          clock: opts.clock,
        });
        for (const ip of l.IPs) {
          const sl: SmtpListener = await startSmtpListener(
            { ip, port: sc.Port, hostname: l.Hostname ?? hostname, policy, tlsContext: tls?.context, sni: tls?.sni, implicitTLS: service === 'submissions' },
            { log: log.child({ listener: name }), metrics, connectionRate, concurrency, tmpDir: tmpDir(dataDir), commandTimeoutMs: opts.smtpCommandTimeoutMs },
          );
          cleanups.push(() => sl.close());
          listeners.push({ service, ...sl.address });
        }
        if (!services.includes(service)) services.push(service);
      }
    }

    // HTTP services (webapi; admin and account pages later): one web server per listener, port and
    // TLS, shared by the services configured on it, told apart by path (mox §8.3).
    const idempotency = new IdempotencyStore(queue.db, clockNow);
    const idemTimer = setInterval(() => {
      try {
        idempotency.cleanup();
      } catch (err) {
        log.error({ err }, 'cleaning up idempotency keys');
      }
    }, RETIRED_CLEANUP_INTERVAL_MS);
    idemTimer.unref();
    cleanups.push(() => clearInterval(idemTimer));
    // The admin and account pages: one handler each, shared by every listener that serves them
    // (so a session is the same on HTTP and HTTPS).
    const accountEdit = async (write: (f: DomainsFile) => Promise<unknown>) => {
      await write({ path: loaded.dynamicPath, static: loaded.static });
      await ctlLocal('reload');
    };
    // What the admin and the account pages both get.
    const pageDeps = {
      configPath: opts.configPath,
      static: loaded.static,
      dynamic: () => current,
      store,
      queue,
      webhooks,
      authDb,
      loginGuard,
      ctl: (cmd: string, args?: Record<string, unknown>) => ctlLocal(cmd, args),
      clock: opts.clock ?? (() => new Date()),
    };
    const adminHandler = uiHandler(
      adminApp({
        ...pageDeps,
        sessions: adminSessions,
        resolver,
        config: adminConfigOps(opts.configPath, (cmd, args) => ctlLocal(cmd, args)),
        adminPasswordHash: async () => {
          const f = loaded.static.AdminPasswordFile;
          if (!f) return undefined;
          const v: unknown = JSON.parse(await fsp.readFile(f, 'utf8'));
          return isPasswordRecord(v) ? v : undefined;
        },
        log: log.child({ proto: 'admin' }),
      }),
    );
    const accountHandler = uiHandler(
      accountApp({
        ...pageDeps,
        setAccountFields: (a, fields) => accountEdit((f) => setAccountFields(f, a, fields)),
        setAccountWebhook: (a, kind, settings) => accountEdit((f) => setAccountWebhook(f, a, kind, settings)),
        sessions: accountSessions,
        log: log.child({ proto: 'account' }),
      }),
    );
    for (const [name, l] of Object.entries(loaded.static.Listeners)) {
      const groups = new Map<string, { port: number; tls: boolean; services: WebService[] }>();
      const add = (port: number, tls: boolean, svc: WebService) => {
        const k = `${port}/${tls}`;
        const g = groups.get(k) ?? { port, tls, services: [] };
        g.services.push(svc);
        groups.set(k, g);
      };
      const webapi = (path: string, forwarded: boolean): WebService => ({
        name: 'webapi',
        path,
        forwarded,
        handler: webapiHandler({
          dynamic: () => current,
          store,
          queue,
          submit: (r) => submitter.submit(r),
          idempotency,
          loginGuard,
          hostname: l.Hostname ?? loaded.static.Hostname,
          maxMessageSize: l.SMTPMaxMessageSize,
          clock: opts.clock ?? (() => new Date()),
          version: moxtsVersion(),
          log: log.child({ listener: name, proto: 'webapi' }),
          metrics,
        }),
      });
      const admin = (path: string, forwarded: boolean): WebService => ({ name: 'admin', path, forwarded, handler: adminHandler });
      const account = (path: string, forwarded: boolean): WebService => ({ name: 'account', path, forwarded, handler: accountHandler });
      if (l.AdminHTTP?.Enabled) add(l.AdminHTTP.Port, false, admin(l.AdminHTTP.Path, l.AdminHTTP.Forwarded));
      if (l.AdminHTTPS?.Enabled) add(l.AdminHTTPS.Port, true, admin(l.AdminHTTPS.Path, l.AdminHTTPS.Forwarded));
      if (l.AccountHTTP?.Enabled) add(l.AccountHTTP.Port, false, account(l.AccountHTTP.Path, l.AccountHTTP.Forwarded));
      if (l.AccountHTTPS?.Enabled) add(l.AccountHTTPS.Port, true, account(l.AccountHTTPS.Path, l.AccountHTTPS.Forwarded));
      if (l.WebAPIHTTP?.Enabled) add(l.WebAPIHTTP.Port, false, webapi(l.WebAPIHTTP.Path, l.WebAPIHTTP.Forwarded));
      if (l.WebAPIHTTPS?.Enabled) add(l.WebAPIHTTPS.Port, true, webapi(l.WebAPIHTTPS.Path, l.WebAPIHTTPS.Forwarded));
      if (!groups.size) continue;
      const tls = await loadListenerTLS(l);
      for (const g of groups.values()) {
        for (const ip of l.IPs) {
          const wl = await startWebListener({ ip, port: g.port, tls: g.tls ? tls : undefined, services: g.services, log: log.child({ listener: name, proto: 'http' }) });
          cleanups.push(() => wl.close());
          for (const svc of g.services) {
            listeners.push({ service: g.tls ? `${svc.name}s` : svc.name, ...wl.address });
            if (!services.includes(svc.name)) services.push(svc.name);
          }
        }
      }
    }

    for (const [name, l] of Object.entries(loaded.static.Listeners)) {
      if (!l.MetricsHTTP?.Enabled) continue;
      for (const ip of l.IPs) {
        const ml = await startMetricsListener({ ip, port: l.MetricsHTTP.Port, metrics, log: log.child({ listener: name, proto: 'metrics' }) });
        cleanups.push(() => ml.close());
        listeners.push({ service: 'metrics', ...ml.address });
      }
      if (!services.includes('metrics')) services.push('metrics');
    }
    // The outgoing queue: deliveries and DSNs into the sender's Inbox (mox §3.2).
    if (!opts.noQueueScheduler) {
      scheduler = startQueueScheduler();
      services.push('queue');
    }
  } catch (err) {
    await stop();
    throw err;
  }

  function startQueueScheduler(): Scheduler {
    const stat = loaded.static;
    const config = () => ({ static: stat, dynamic: current });
    let ca: string[] | undefined;
    if (stat.TLS?.CA?.CertFiles.length) {
      ca = stat.TLS.CA.CertFiles.map((f) => readFileSync(f, 'utf8'));
      if (stat.TLS.CA.AdditionalToSystem) ca.push(...rootCertificates);
    }
    // localserve (mox §5): the queue delivers to our own SMTP listener.
    const own = listeners.find((l) => l.service === 'smtp');
    const localserve = stat.Localserve && own ? { host: own.ip === '0.0.0.0' ? '127.0.0.1' : own.ip === '::' ? '::1' : own.ip, port: own.port } : undefined;
    const qlog = log.child({ proto: 'queue' });
    const deliverToInbox = async (account: string, message: Buffer) => {
      await store.account(account).deliver({ mailbox: 'Inbox', data: message, parsed: parseBuffer(message), rcptTo: account });
    };
    const s = new Scheduler({
      queue,
      log: qlog,
      clock: opts.clock,
      maxConcurrent: opts.queueConcurrency,
      metrics,
      ...(localserve ? { maxRecipients: 1 } : {}),
      deliver: queueDeliverer({
        config,
        queue,
        resolver,
        log: qlog,
        direct: opts.delivery,
        ca,
        localserve,
        deliverLocal: (input) => deliverLocal({ config, store, tmpDir: tmpDir(dataDir), clock: opts.clock }, input),
      }),
      composeDsn: (msgs, action, originals) =>
        dsnsForSender(msgs, action, { hostname: stat.Hostname, originals: new Map(originals), now: opts.clock?.(), willRetryUntil: action === 'delayed' ? new Date((opts.clock?.() ?? new Date()).getTime() + DELAYED_DSN_RETRY_UNTIL_MS) : undefined }),
      deliverDsn: async (account, message) => {
        if (!current.Accounts[account]) return; // account removed meanwhile
        await deliverToInbox(account, message);
      },
    });
    // New submissions wake the scheduler through onChange (QueueStore.add calls it, coalesced per
    // tick), so the Submitter needs no onQueued hook: one scheduling pass per tick, not per submission.
    queue.onChange = () => s.kick();
    cleanups.push(async () => {
      queue.onChange = undefined;
      await s.stop();
    });
    s.start();
    return s;
  }

  return { loaded, store, queue, webhooks, submitter, ctlPath: ctlPath(dataDir), services, listeners, metrics, loginGuard, authDb, resolver, scheduler, dynamic: () => current, stopped, stop };
}
