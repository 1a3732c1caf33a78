/**
 * The scheduler's transport: delivers one batch (same submission, same recipient domain) through
 * the transport chosen by queue/routes.ts — locally into the account (injected), directly to the
 * domain's MX hosts or to a smarthost via smtp/client, or a configured failure — and turns the
 * results into per-recipient outcomes. Recipients share an SMTP transaction only when their MAIL
 * FROM (fromids differ per recipient) and per-row prefix are identical.
 *
 * localserve (mox §5): everything goes over SMTP to our own SMTP listener, one recipient per
 * transaction, so the special recipient localparts' DATA-stage errors are per recipient.
 */
import type { Logger } from '../log/logger.js';
import type { StaticConfig } from '../config/static-schema.js';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import type { Resolver } from '../dns/resolver.js';
import { deliverToDomain, type DeliverOptions, type RecipientResult } from '../smtp/client/deliver.js';
import type { QueueStore, QueuedMsg } from './store.js';
import type { RecipientOutcome } from './scheduler.js';
import { chooseTransport, catchallSeparator, mailFromLocalpart, type TransportChoice } from './routes.js';

export interface LocalAddress {
  localpart: string;
  domain: string;
  domainUnicode: string;
}

export interface LocalDeliverResult {
  status: 'delivered' | 'temporary' | 'permanent';
  code: number;
  enhanced?: string;
  message: string;
}

/** Direct-delivery settings tests (and localserve) change: port, timeouts, dial, TLS trust. */
export type DirectOptions = Partial<Pick<DeliverOptions, 'port' | 'portFor' | 'dial' | 'tlsOptions' | 'connectTimeoutMs' | 'commandTimeoutMs' | 'dataTimeoutMs' | 'random'>>;

export interface QueueDeliveryDeps {
  config: () => { static: StaticConfig; dynamic: DynamicConfig };
  queue: QueueStore;
  resolver: Resolver;
  log: Logger;
  /** Into local accounts, as port 25 would (rules, mailbox), without SMTP. */
  /** `message`: the queued message's bytes (stored inline) or the path of its file. */
  deliverLocal(input: { mailFrom: LocalAddress | undefined; recipients: LocalAddress[]; prefix?: Buffer; message: Buffer | string; verifiedDomains: string[] }): Promise<LocalDeliverResult[]>;
  direct?: DirectOptions;
  /** Trusted CAs for verified TLS (mox.conf TLS.CA), in addition to or instead of the system's. */
  ca?: string[];
  /** localserve: every delivery goes to this SMTP server (our own listener). */
  localserve?: { host: string; port: number };
}

function addr(localpart: string, domain: string): string {
  return `${localpart}@${domain}`;
}

/** The transport function for Scheduler.deliver. */
export function queueDeliverer(d: QueueDeliveryDeps): (msgs: QueuedMsg[]) => Promise<RecipientOutcome[]> {
  return async (msgs) => {
    const { static: stat, dynamic: dyn } = d.config();
    const first = msgs[0]!;
    const choice: TransportChoice = d.localserve
      ? { kind: 'smarthost', name: 'localserve', mode: 'SMTP', t: { Host: d.localserve.host, Port: d.localserve.port, STARTTLSInsecureSkipVerify: true, NoSTARTTLS: false } }
      : chooseTransport(stat, dyn, {
          senderAccount: first.senderAccount,
          senderDomain: first.senderDomain,
          recipientDomain: first.recipientDomain,
          previousAttempts: first.attempts - 1,
          transport: first.transport,
        });
    const log = d.log.child({ queueBase: first.baseId, domain: first.recipientDomain, transport: choice.kind === 'local' ? 'local' : choice.name || 'direct' });

    if (choice.kind === 'unknown') {
      // mox §3.2: a transport that cannot be resolved fails the message.
      return msgs.map((m) => ({ id: m.id, status: 'permanent', enhanced: '5.3.5', message: `transport ${JSON.stringify(choice.name)} not configured` }));
    }
    if (choice.kind === 'fail') {
      const permanent = choice.code >= 500;
      return msgs.map((m) => ({ id: m.id, status: permanent ? 'permanent' : 'temporary', code: choice.code, enhanced: `${Math.floor(choice.code / 100)}.0.0`, message: choice.message }));
    }
    if (choice.kind === 'local') {
      const results = await d.deliverLocal({
        mailFrom: first.senderLocalpart || first.senderDomain ? { localpart: first.senderLocalpart, domain: first.senderDomain, domainUnicode: first.senderDomain } : undefined,
        recipients: msgs.map((m) => ({ localpart: m.recipientLocalpart, domain: m.recipientDomain, domainUnicode: m.recipientDomain })),
        prefix: d.queue.prefix(first.id),
        message: d.queue.message(first),
        // The sender is one of our accounts, authenticated at submission.
        verifiedDomains: first.senderDomain ? [first.senderDomain] : [],
      });
      return msgs.map((m, i) => {
        const r = results[i]!;
        return { id: m.id, status: r.status, code: r.code, enhanced: r.enhanced, message: r.message, host: stat.Hostname, successAction: 'delivered' as const };
      });
    }

    // SMTP: group recipients that can share a transaction (same MAIL FROM and prefix).
    const sep = catchallSeparator(dyn, first.senderDomain);
    const groups = new Map<string, { mailFrom: string; prefix?: Buffer; msgs: QueuedMsg[] }>();
    for (const m of msgs) {
      const mailFrom = m.senderLocalpart || m.senderDomain ? addr(mailFromLocalpart(m.senderLocalpart, m.fromId, sep), m.senderDomain) : '';
      const prefix = d.queue.prefix(m.id);
      const key = d.localserve ? String(m.id) : `${mailFrom}\0${prefix?.toString('latin1') ?? ''}`;
      const g = groups.get(key);
      if (g) g.msgs.push(m);
      else groups.set(key, { mailFrom, prefix, msgs: [m] });
    }
    const out: RecipientOutcome[] = [];
    // Inline (small) messages are sent from memory, files are streamed.
    const message = d.queue.message(first);
    for (const g of groups.values()) {
      const m0 = g.msgs[0]!;
      const o: DeliverOptions = {
        domain: m0.recipientDomain,
        mailFrom: g.mailFrom,
        recipients: g.msgs.map((m) => ({ address: addr(m.recipientLocalpart, m.recipientDomain), notify: m.dsn.notify, orcpt: m.dsn.orcpt })),
        message,
        messagePrefix: g.prefix,
        size: m0.size,
        smtputf8: m0.smtputf8,
        has8bit: m0.has8bit,
        requireTLS: false,
        requireTLSExtension: m0.requireTLS === true,
        envid: m0.dsn.envid,
        ret: m0.dsn.ret,
        ehloHostname: d.localserve ? 'localhost' : stat.Hostname,
        resolver: d.resolver,
        log,
        ...(d.ca ? { tlsOptions: { ca: d.ca } } : {}),
      };
      if (choice.kind === 'direct') {
        Object.assign(o, d.direct ?? {}, { disableIPv4: choice.disableIPv4, disableIPv6: choice.disableIPv6 });
        if (d.ca && d.direct?.tlsOptions) o.tlsOptions = { ca: d.ca, ...d.direct.tlsOptions };
      } else {
        const t = choice.t;
        o.hosts = [t.Host];
        o.port = t.Port;
        o.implicitTLS = choice.mode === 'Submissions';
        o.noSTARTTLS = t.NoSTARTTLS;
        // mox §3.6: Submission requires STARTTLS with a verified certificate unless configured otherwise.
        if (choice.mode === 'Submission' && !t.NoSTARTTLS) o.requireTLS = true;
        const verify = choice.mode !== 'SMTP' && !t.STARTTLSInsecureSkipVerify;
        o.tlsOptions = { ...(d.ca ? { ca: d.ca } : {}), verify };
        if (t.Auth) o.auth = { username: t.Auth.Username, password: t.Auth.Password, mechanisms: t.Auth.Mechanisms };
        for (const k of ['connectTimeoutMs', 'commandTimeoutMs', 'dataTimeoutMs', 'dial'] as const) if (d.direct?.[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = d.direct[k];
      }
      const res = await deliverToDomain(o);
      const byAddr = new Map<string, RecipientResult>(res.recipients.map((r) => [r.address, r]));
      for (const m of g.msgs) {
        const r = byAddr.get(addr(m.recipientLocalpart, m.recipientDomain));
        if (!r) {
          out.push({ id: m.id, status: 'temporary', message: 'no result for recipient' });
          continue;
        }
        out.push({
          id: m.id,
          status: r.status,
          code: r.code,
          enhanced: r.enhanced,
          message: r.message,
          host: r.remoteHost,
          ...(r.status === 'delivered' && !r.dsnPassedOn ? { successAction: 'relayed' as const } : {}),
        });
      }
    }
    return out;
  };
}
