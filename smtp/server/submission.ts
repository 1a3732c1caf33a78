/**
 * Policy for SMTP submission (rfc6409): 587 with STARTTLS (rfc3207) and 465 with implicit TLS
 * (rfc8314). Clients authenticate (rfc4954, SASL via auth/login.ts's shared LoginGuard), then
 * every message goes through queue/submit.ts (the same path as the webapi's Send), local
 * recipients included; the 250 comes only once the queue add is durable and names the queue id.
 *
 * Refusals (all with enhanced codes, rfc3463):
 *   MAIL before TLS on a listener requiring it 530 5.7.0 (session), AUTH before TLS 530 5.7.0,
 *   MAIL before AUTH 530 5.7.0 (rfc4954:6), wrong credentials 535 5.7.8, PLAIN/LOGIN without TLS
 *   538 5.7.11, too many failed logins 421 4.7.0 (and close), MAIL FROM or From not of the account
 *   550 5.7.1, send limits 451 4.7.1, duplicate X-Mox-Extra key 554 5.6.0, HOLDFOR/HOLDUNTIL out of
 *   range 554 5.5.4, REQUIRETLS without TLS 530 5.7.10.
 */
import type { StaticConfig } from '../../config/static-schema.js';
import type { DynamicConfig } from '../../config/dynamic-schema.js';
import type { LoginGuard, LoginContext } from '../../auth/login.js';
import type { Metrics } from '../../metrics/registry.js';
import { C, E, SmtpError } from '../codes.js';
import { formatAddress } from '../parse.js';
import { receivedHeader } from './headers.js';
import { newReceivedId, type Recipient, type SessionAuth, type SessionInfo, type SessionPolicy, type Transaction } from './session.js';
import type { ReceivedMessage } from './sink.js';
import { SubmitError, senderAllowed, futureReleaseAt, FUTURE_RELEASE_MAX_SECONDS, type Submitter } from '../../queue/submit.js';

export interface SubmissionDeps {
  service: 'submission' | 'submissions';
  config: () => { static: StaticConfig; dynamic: DynamicConfig };
  submitter: Submitter;
  loginGuard: LoginGuard;
  metrics: Metrics;
  maxMessageSize: number;
  /** AUTH and MAIL only over TLS (587 unless NoRequireSTARTTLS; 465 is TLS anyway). */
  requireTLS: boolean;
  clock?: () => Date;
}

/** SASL mechanisms offered, strongest first; -PLUS only with channel binding (TLS 1.3). */
const MECHANISMS_PLUS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS'];
const MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN'];

function refuse(code: number, detail: string, msg: string, opts: { closeConnection?: boolean } = {}): SmtpError {
  return new SmtpError(code, detail, msg, { userError: true, ...opts });
}

/** rfc4865:3 "YYYY-MM-DDTHH:MM:SSZ" (UTC) for the FUTURERELEASE keyword. */
function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The SMTP reply for a refused submission. */
export function submitErrorReply(e: SubmitError): SmtpError {
  switch (e.code) {
    case 'notAllowed':
    case 'domainDisabled':
      return refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, e.message);
    case 'messageLimitReached':
    case 'recipientLimitReached':
      // mox answers 451 4.7.1: temporary, the window rolls on.
      return refuse(C.LocalError, E.DeliveryNotAuthorized, e.message);
    case 'duplicateExtra':
    case 'malformedMessage':
      return refuse(C.TransactionFailed, E.MessageHeaderBad, e.message);
    case 'futureRelease':
      return refuse(C.TransactionFailed, E.InvalidArguments, e.message);
    case 'fromIdMultipleRecipients':
      return refuse(C.TransactionFailed, E.TooManyRecipients, e.message);
    case 'duplicateFromId':
      return refuse(C.TransactionFailed, E.ProtoOther, e.message);
    case 'noRecipients':
      return refuse(C.TransactionFailed, E.InvalidCommand, e.message);
  }
}

export class SubmissionPolicy implements SessionPolicy {
  readonly service: 'submission' | 'submissions';
  readonly maxMessageSize: number;
  readonly requireTLS: boolean;
  readonly auth: SessionAuth;

  constructor(private readonly d: SubmissionDeps) {
    this.service = d.service;
    this.maxMessageSize = d.maxMessageSize;
    this.requireTLS = d.requireTLS;
    this.auth = { authenticate: (s, m, ir, ch) => this.authenticate(s, m, ir, ch) };
  }

  private now(): Date {
    return this.d.clock?.() ?? new Date();
  }

  extensions(s: SessionInfo): string[] {
    const out: string[] = [];
    // rfc8689:4 REQUIRETLS is only meaningful once the submission itself is protected.
    if (s.tls) out.push('REQUIRETLS');
    // No AUTH line until TLS when TLS is required (mox prints an empty one, §11.13).
    if (s.tls || !this.requireTLS) out.push(`AUTH ${[...(s.channelBinding() ? MECHANISMS_PLUS : []), ...MECHANISMS].join(' ')}`);
    // rfc4865:3 max interval in seconds and the latest release time.
    out.push(`FUTURERELEASE ${FUTURE_RELEASE_MAX_SECONDS} ${rfc3339Seconds(new Date(this.now().getTime() + FUTURE_RELEASE_MAX_SECONDS * 1000))}`);
    return out;
  }

  private async authenticate(
    s: SessionInfo,
    mechanism: string,
    initial: string | null,
    challenge: (data: Buffer) => Promise<string | null>,
  ): Promise<{ account: string; loginAddress: string }> {
    if (this.requireTLS && !s.tls) throw refuse(C.AuthRequired, E.SecOther, 'STARTTLS required before authentication');
    const guard = this.d.loginGuard;
    const ctx: LoginContext = {
      protocol: 'smtp-submission',
      mechanism: mechanism.toUpperCase(),
      ip: s.remoteIP,
      localIP: s.localIP,
      tls: s.tls ? `${s.tls.version} ${s.tls.cipher}` : null,
    };
    const tooMany = () => refuse(C.ServiceNotAvailable, E.SecOther, 'too many authentication failures', { closeConnection: true });
    if ('ratelimited' in guard.checkLogin(s.remoteIP)) {
      await guard.recordSaslResult(ctx, { ratelimited: true });
      throw tooMany();
    }
    const sasl = guard.startSasl(mechanism, { tls: !!s.tls, allowPlaintextWithoutTls: !this.requireTLS, channelBinding: s.channelBinding() });
    let step = await sasl.stepText(initial === null ? null : initial);
    while ('challenge' in step) {
      const line = await challenge(step.challenge);
      if (line === null) {
        // The client went away mid-exchange: record it as aborted.
        await guard.recordSaslResult({ ...ctx, username: sasl.username }, { failed: true, reason: 'aborted', message: 'connection closed' });
        throw refuse(C.ParamSyntaxError, E.ProtoOther, 'authentication aborted');
      }
      step = await sasl.stepText(line);
    }
    const out = await guard.recordSaslResult({ ...ctx, username: sasl.username }, step);
    if (out.ok) {
      s.log.info({ account: out.account, mechanism: ctx.mechanism }, 'authenticated');
      return { account: out.account, loginAddress: 'done' in step ? step.username : (sasl.username ?? '') };
    }
    s.log.info({ reason: out.reason, mechanism: ctx.mechanism }, 'authentication failed');
    switch (out.reason) {
      case 'badcreds':
        throw refuse(C.AuthFailed, E.AuthCredentialsInvalid, 'authentication failed');
      case 'disabled':
        throw refuse(C.AuthFailed, E.AccountDisabled, `login disabled: ${out.message}`);
      case 'ratelimited':
        throw tooMany();
      case 'malformed':
        throw refuse(C.ParamSyntaxError, E.SyntaxError, out.message);
      case 'aborted':
        throw refuse(C.ParamSyntaxError, E.ProtoOther, 'authentication aborted');
      case 'tlsrequired':
        throw refuse(C.EncryptionNeeded, E.AuthEncryptionRequired, 'mechanism requires TLS');
      case 'unsupported':
        throw refuse(C.ParamNotImplemented, E.InvalidArguments, 'mechanism not supported');
      case 'error':
        throw new SmtpError(C.TempAuthFailure, E.SecOther, 'temporary authentication failure, try again later');
    }
  }

  mailParam(s: SessionInfo, tx: Transaction, key: string, value: string): boolean {
    switch (key) {
      case 'REQUIRETLS':
        // rfc8689:4.1 only over TLS.
        if (value) throw refuse(C.ParamSyntaxError, E.InvalidArguments, 'REQUIRETLS takes no value');
        if (!s.tls) throw refuse(523, E.EncryptionNeeded, 'REQUIRETLS only over TLS');
        tx.requireTLS = true;
        return true;
      case 'HOLDFOR':
      case 'HOLDUNTIL': {
        // rfc4865:4 one of them, once.
        if (tx.futureRelease) throw refuse(C.TransactionFailed, E.InvalidArguments, 'only one of HOLDFOR and HOLDUNTIL');
        if (key === 'HOLDFOR') {
          if (!/^\d{1,9}$/.test(value)) throw refuse(C.ParamSyntaxError, E.InvalidArguments, 'HOLDFOR needs a number of seconds');
          tx.futureRelease = { holdForSeconds: Number(value) };
        } else {
          // rfc4865:4 date-time of rfc3339.
          const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) ? new Date(value) : undefined;
          if (!t || Number.isNaN(t.getTime())) throw refuse(C.ParamSyntaxError, E.InvalidArguments, 'HOLDUNTIL needs an rfc3339 date-time');
          tx.futureRelease = { holdUntil: t };
        }
        try {
          futureReleaseAt(tx.futureRelease, this.now());
        } catch (e) {
          if (e instanceof SubmitError) throw submitErrorReply(e);
          throw e;
        }
        return true;
      }
      default:
        return false;
    }
  }

  mailFrom(s: SessionInfo, tx: Transaction): void {
    // rfc4954:6 530 5.7.0 authentication required.
    if (!s.account) throw refuse(C.AuthRequired, E.SecOther, 'authentication required');
    if (!tx.mailFrom) throw refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, 'null reverse path not allowed for submission');
    const r = senderAllowed(this.d.config().dynamic, s.account, `${tx.mailFrom.localpart}@${tx.mailFrom.domain}`);
    if (!r.ok) {
      this.d.metrics.smtpMessages.inc({ service: this.service, result: 'sender-not-allowed' });
      throw refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, r.reason === 'domainDisabled' ? 'sending domain is disabled' : 'not allowed to send as this address');
    }
  }

  rcptTo(_s: SessionInfo, _tx: Transaction, rcpt: Recipient): undefined {
    // rfc5321:4.5.1 "postmaster" without a domain: ours.
    if (!rcpt.address.domain) {
      const h = this.d.config().static.Hostname;
      rcpt.address = { ...rcpt.address, domain: h, domainUnicode: h };
    }
    this.d.metrics.smtpRecipients.inc({ service: this.service, result: 'accepted' });
    return undefined;
  }

  async data(s: SessionInfo, tx: Transaction, msg: ReceivedMessage): Promise<string> {
    const result = (r: string) => this.d.metrics.smtpMessages.inc({ service: this.service, result: r });
    const started = process.hrtime.bigint();
    const id = newReceivedId();
    const trace = receivedHeader({
      helo: s.helo,
      esmtp: s.esmtp,
      remoteIP: s.remoteIP,
      hostname: s.hostname,
      tls: s.tls,
      authenticated: true,
      smtputf8: tx.smtputf8,
      id,
      forAddress: tx.recipients.length === 1 ? tx.recipients[0]!.address : undefined,
      date: this.now(),
    });
    try {
      const r = await this.d.submitter.submit({
        account: s.account!,
        loginAddress: s.loginAddress ?? '',
        mailFrom: { localpart: tx.mailFrom!.localpart, domain: tx.mailFrom!.domain },
        recipients: tx.recipients.map((rc) => ({ localpart: rc.address.localpart, domain: rc.address.domain, notify: rc.notify, orcpt: rc.orcpt })),
        message: msg.buffer ?? { path: msg.path!, size: msg.size },
        extraFromHeaders: true,
        requireTLS: tx.requireTLS || undefined,
        futureRelease: tx.futureRelease,
        envid: tx.envid,
        ret: tx.ret,
        smtputf8: tx.smtputf8,
        has8bit: tx.body === '8BITMIME',
        traceHeaders: trace,
      });
      result('accepted');
      this.d.metrics.smtpDeliveryDuration.observe({ service: this.service }, Number(process.hrtime.bigint() - started) / 1e9);
      const ids = r.queued.map((q) => q.id);
      s.log.info({ id, queueIds: ids, mailFrom: formatAddress(tx.mailFrom!), rcpts: ids.length, size: msg.size }, 'submitted');
      return `message queued, id ${ids.length === 1 ? ids[0] : `${ids[0]}-${ids[ids.length - 1]}`}`;
    } catch (e) {
      if (e instanceof SubmitError) {
        result(e.code);
        throw submitErrorReply(e);
      }
      throw e;
    }
  }
}
