/**
 * Matching incoming reports — DSNs (rfc3464), non-standard bounces and complaints (rfc5965 ARF and
 * friends) — to the outgoing messages they are about (mox `queue.Incoming`,
 * ../shared/reference/mox-behaviour.md §4.3), after the SMTP server has stored the message in the
 * recipient's account and before it answers 250.
 *
 * A report is matched to a retired message of the receiving account (so this needs the account's
 * KeepRetiredMessagePeriod > 0, as in mox) by, in this order:
 *   1. fromid: the RCPT TO localpart after the domain's first catchall separator (mox §3.7);
 *   2. ENVID: the report's Original-Envelope-ID (rfc3464:2.2.1) against the ENVID we passed on
 *      (rfc3461:4.4), plus the failed recipient's address;
 *   3. Message-ID: the Message-ID of the returned message/headers, plus the recipient's address
 *      (a submission to several recipients has one retired row per recipient, same Message-ID).
 * A match appends a result to the retired message's history, updates its last activity, and
 * records an outgoing event (queue/events.ts) with DSN: true, in one transaction:
 *   action failed → `failed` (the retired message becomes failed) and the suppression rule
 *   (queue/rules.ts shouldSuppress, "delivery failure from DSN with smtp code …");
 *   delayed / delivered / relayed / expanded → the same event; anything else → `unrecognized`;
 *   a message to a fromid address that is no report (e.g. a reply or an auto-reply) → `unrecognized`
 *   with DSN: false (mox);
 *   a complaint (feedback type other than not-spam and auth-failure) → the recipient is added to
 *   the suppression list with reason "complaint" and a `complained` event (our addition).
 * The message itself stays in the mailbox (mox). A matched message is about an outgoing message,
 * so callers don't send the incoming-message webhook for it (`outgoing: true`).
 */
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { analyzeBounce, looksLikeReport, type BounceResult, type BounceRecipient } from '../dsn/bounce.js';
import type { QueueStore, RetiredMsg, AttemptResult } from './store.js';
import { recordEvent, type OutgoingEventName } from './events.js';
import { shouldSuppress } from './rules.js';

/**
 * At most this much of an incoming message is analysed: the report, the human text and the
 * returned headers come first; a returned full copy beyond this adds nothing. Analysis runs on the
 * event loop at about 50 µs per KiB, so this also bounds the pause (~15 ms).
 */
export const MAX_REPORT_BYTES = 256 * 1024;

/** Feedback types that are no complaint about the message by its recipient (rfc5965:7.3, rfc6591). */
const NOT_COMPLAINTS = new Set(['not-spam', 'auth-failure']);

/** The suppression-list reason for a complaint. */
export const COMPLAINT_REASON = 'complaint';

export interface IncomingReportInput {
  /** The account the message was delivered to. */
  account: string;
  /** The RCPT TO addresses of this transaction that delivered to the account. */
  rcptTo: ReadonlyArray<{ localpart: string; domain: string }>;
  /** SMTP MAIL FROM as "localpart@domain", '' for the null reverse path. */
  mailFrom: string;
  /** The message as received (without our trace headers); its first MAX_REPORT_BYTES are enough. */
  message: Buffer;
  /** The catchall separators of a recipient domain, in configured order (empty: no fromids). */
  separators: (domain: string) => readonly string[];
}

export interface IncomingEvent {
  event: OutgoingEventName;
  queueMsgId: number;
  eventId: number;
  recipient: string;
  suppressing: boolean;
}

export interface IncomingReportResult {
  /**
   * True when the message was matched to an outgoing message of the account (a report about it,
   * or any message to one of its fromid addresses): outgoing events were recorded, and no
   * incoming-message webhook is to be sent for it (mox §2.4, §4.3).
   */
  outgoing: boolean;
  via?: 'fromid' | 'envid' | 'message-id';
  events: IncomingEvent[];
  /** What the analysis said (kind, source), for logging; absent when the message was not analysed. */
  kind?: BounceResult['kind'];
}

export interface IncomingDeps {
  queue: QueueStore;
  log?: Logger;
  clock?: () => Date;
}

/** The fromid in a recipient localpart: after the domain's first catchall separator (mox §3.7). */
export function fromIdOf(localpart: string, separators: readonly string[]): string | undefined {
  const sep = separators[0];
  if (!sep) return undefined;
  const i = localpart.indexOf(sep);
  if (i <= 0) return undefined;
  const id = localpart.slice(i + sep.length);
  return id || undefined;
}

/** Message-IDs compared with and without angle brackets (some MTAs drop them). */
function messageIdForms(mid: string): string[] {
  const bare = mid.trim().replace(/^<|>$/g, '');
  return bare ? [`<${bare}>`, bare] : [];
}

/** Address in a report (Final-/Original-Recipient may keep a "rfc822;" type or brackets), lower-case. */
function normAddress(a: string | undefined): string {
  if (!a) return '';
  return a
    .replace(/^\s*[A-Za-z0-9-]+\s*;\s*/, '')
    .replace(/^<|>$/g, '')
    .trim()
    .toLowerCase();
}

/** SMTP code and enhanced code of a report recipient, as mox: the diagnostic's, else from Status. */
function codesOf(r: BounceRecipient): { code?: number; enhanced?: string } {
  let code = r.smtpCode;
  let enhanced = r.enhancedCode;
  const stated = !r.statusInferred && /^[245]\.\d{1,3}\.\d{1,3}$/.test(r.status) ? r.status : undefined;
  if (code === undefined && stated && stated[0] !== '2') code = stated[0] === '4' ? 400 : 500;
  if (!enhanced && stated && stated[0] !== '2') enhanced = stated;
  return { code, enhanced };
}

export class IncomingReports {
  private readonly log: Logger;
  private readonly clock: () => Date;

  constructor(private readonly d: IncomingDeps) {
    this.log = d.log ?? nullLogger();
    this.clock = d.clock ?? (() => new Date());
  }

  /**
   * Look at a message just delivered to `input.account`. Synchronous (SQLite and the analysis);
   * all rows of one match are written in one transaction. Never throws for bad input.
   */
  process(input: IncomingReportInput): IncomingReportResult {
    const q = this.d.queue;
    const message = input.message.length > MAX_REPORT_BYTES ? input.message.subarray(0, MAX_REPORT_BYTES) : input.message;

    // 1. fromid in a recipient address.
    for (const rcpt of input.rcptTo) {
      const fromId = fromIdOf(rcpt.localpart, input.separators(rcpt.domain));
      if (!fromId) continue;
      const rm = q.retiredByFromId(fromId);
      if (!rm || rm.senderAccount !== input.account) {
        this.log.debug({ fromId }, 'incoming: no retired message for fromid');
        continue;
      }
      const a = analyzeBounce(message);
      const events = this.applyToOne(rm, a, 'fromid');
      return { outgoing: true, via: 'fromid', events, kind: a.kind };
    }

    // 2./3. ENVID or the returned Message-ID: only for accounts that keep retired messages and
    // messages that look like a report at all (analysis is not free).
    // The header-only check first: it is cheaper than the query and false for almost all mail.
    if (!looksLikeReport(message, input.mailFrom) || !this.hasRetired(input.account)) return { outgoing: false, events: [] };
    const a = analyzeBounce(message);
    if (a.kind !== 'dsn' && a.kind !== 'bounce' && a.kind !== 'complaint') return { outgoing: false, events: [], kind: a.kind };

    for (const via of ['envid', 'message-id'] as const) {
      const candidates = via === 'envid' ? this.byEnvid(input.account, a.envelopeID) : this.byMessageId(input.account, a.originalMessageID ?? a.complaint?.originalMessageID);
      if (!candidates.length) continue;
      const pairs = a.kind === 'complaint' ? this.pairComplaint(a, candidates) : this.pairRecipients(a, candidates);
      if (!pairs.length) continue;
      const events: IncomingEvent[] = [];
      this.d.queue.db.transaction(() => {
        for (const [rm, r] of pairs) events.push(...this.applyToOne(rm, a, via, r));
      })();
      return { outgoing: true, via, events, kind: a.kind };
    }
    return { outgoing: false, events: [], kind: a.kind };
  }

  /** Can anything match for this account? Only when it has retired messages (KeepRetiredMessagePeriod > 0). */
  hasRetired(account: string): boolean {
    this.hasRetiredStmt ??= this.d.queue.db.prepare('SELECT 1 FROM msg_retired WHERE sender_account = ? LIMIT 1');
    return !!this.hasRetiredStmt.get(account);
  }
  private hasRetiredStmt: Statement | undefined;

  private retiredByIds(ids: number[]): RetiredMsg[] {
    return ids.map((id) => this.d.queue.getRetired(id)).filter((m): m is RetiredMsg => !!m);
  }

  private byEnvid(account: string, envid: string | undefined): RetiredMsg[] {
    if (!envid) return [];
    const ids = this.d.queue.db
      .prepare("SELECT id FROM msg_retired WHERE sender_account = ? AND json_extract(dsn, '$.envid') = ? ORDER BY id LIMIT 1000")
      .pluck()
      .all(account, envid) as number[];
    return this.retiredByIds(ids);
  }

  private byMessageId(account: string, mid: string | undefined): RetiredMsg[] {
    const forms = mid ? messageIdForms(mid) : [];
    if (!forms.length) return [];
    // "+sender_account" keeps SQLite on the message_id index rather than scanning the account's rows.
    const ids = this.d.queue.db
      .prepare(`SELECT id FROM msg_retired WHERE message_id IN (${forms.map(() => '?').join(',')}) AND +sender_account = ? ORDER BY id LIMIT 1000`)
      .pluck()
      .all(...forms, account) as number[];
    return this.retiredByIds(ids);
  }

  /**
   * Pair report recipients with retired rows by address (final or original recipient). When
   * nothing pairs by address but there is exactly one row and one report recipient (the remote
   * rewrote or expanded the address), they belong together.
   */
  private pairRecipients(a: BounceResult, rows: RetiredMsg[]): Array<[RetiredMsg, BounceRecipient]> {
    const out: Array<[RetiredMsg, BounceRecipient]> = [];
    const used = new Set<number>();
    for (const r of a.recipients) {
      const names = new Set([normAddress(r.address), normAddress(r.finalRecipient), normAddress(r.originalRecipient)].filter(Boolean));
      const rm = rows.find((m) => !used.has(m.id) && names.has(m.recipientAddress));
      if (rm) {
        used.add(rm.id);
        out.push([rm, r]);
      }
    }
    if (!out.length && rows.length === 1 && a.recipients.length === 1) out.push([rows[0]!, a.recipients[0]!]);
    return out;
  }

  /** A complaint names its complainant (often redacted): that row, else the only row. */
  private pairComplaint(a: BounceResult, rows: RetiredMsg[]): Array<[RetiredMsg, undefined]> {
    const who = normAddress(a.complaint?.originalRcptTo);
    const rm = rows.find((m) => m.recipientAddress === who) ?? (rows.length === 1 ? rows[0] : undefined);
    return rm ? [[rm, undefined]] : [];
  }

  /** The report recipient that is about this retired message (fromid path). */
  private recipientFor(rm: RetiredMsg, a: BounceResult): BounceRecipient | undefined {
    const byAddress = a.recipients.find((r) =>
      [normAddress(r.address), normAddress(r.finalRecipient), normAddress(r.originalRecipient)].includes(rm.recipientAddress),
    );
    if (byAddress) return byAddress;
    return a.recipients.length === 1 ? a.recipients[0] : undefined;
  }

  /** Record what a report says about one retired message: history, suppression, event; one transaction. */
  private applyToOne(rm: RetiredMsg, a: BounceResult, via: 'fromid' | 'envid' | 'message-id', paired?: BounceRecipient): IncomingEvent[] {
    const q = this.d.queue;
    const now = this.clock();
    const address = rm.recipientAddress;
    let event: OutgoingEventName = 'unrecognized';
    let isDsn = false;
    let suppressing = false;
    let code: number | undefined;
    let enhanced: string | undefined;
    let error = 'incoming message';
    let success: boolean | undefined;

    if (a.kind === 'complaint') {
      const type = a.complaint?.feedbackType ?? '';
      if (NOT_COMPLAINTS.has(type)) {
        error = `incoming feedback report (${type}), not a complaint`;
      } else {
        event = 'complained';
        error = `incoming complaint${type ? ` (${type})` : ''}${a.complaint?.reportingMTA ? ` from ${a.complaint.reportingMTA}` : ''}`;
      }
    } else if (a.kind === 'dsn' || a.kind === 'bounce') {
      isDsn = true;
      const r = paired ?? this.recipientFor(rm, a);
      if (!r) {
        error = `incoming ${a.kind} has ${a.recipients.length} recipients, none for ${address}`;
      } else {
        ({ code, enhanced } = codesOf(r));
        const action = r.action.toLowerCase();
        const detail = [code, enhanced, r.diagnostic].filter((x) => x !== undefined && x !== '').join(' ');
        error = `incoming ${a.kind === 'dsn' ? 'dsn' : `bounce (${a.source})`}: ${action}${detail ? `: ${detail}` : ''}`;
        if (action === 'failed') {
          event = 'failed';
          success = false;
        } else if (action === 'delayed' || action === 'delivered' || action === 'relayed' || action === 'expanded') {
          event = action;
          if (action !== 'delayed') success = true;
        } else {
          error = `incoming ${a.kind} with unknown action ${JSON.stringify(r.action)}`;
        }
      }
    } else {
      error = 'incoming message not a dsn';
    }

    let eventId = 0;
    q.db.transaction(() => {
      if (event === 'failed' && code !== undefined) {
        // Earlier outcomes for this address, this message excluded (it is the one failing now).
        const history = (
          q.db
            .prepare('SELECT success FROM msg_retired WHERE sender_account = ? AND recipient_address = ? AND id != ? ORDER BY last_activity DESC, id DESC LIMIT 2')
            .pluck()
            .all(rm.senderAccount, address, rm.id) as number[]
        ).map((x) => !!x);
        if (shouldSuppress(code, enhanced, history)) {
          suppressing = q.addSuppression(rm.senderAccount, address, { manual: false, reason: `delivery failure from DSN with smtp code ${code} ${enhanced ?? ''}`.trim() });
        }
      }
      if (event === 'complained') suppressing = q.addSuppression(rm.senderAccount, address, { manual: false, reason: COMPLAINT_REASON });

      const result: AttemptResult = { start: now.getTime(), durationMs: 0, success: success ?? false, error };
      if (code !== undefined) result.code = code;
      if (enhanced) result.enhanced = enhanced;
      const cur = q.db.prepare('SELECT results FROM msg_retired WHERE id = ?').pluck().get(rm.id) as string | undefined;
      const results = cur ? (JSON.parse(cur) as AttemptResult[]) : [];
      results.push(result);
      if (success === undefined) {
        q.db.prepare('UPDATE msg_retired SET results = ?, last_activity = ? WHERE id = ?').run(JSON.stringify(results), now.getTime(), rm.id);
      } else {
        q.db
          .prepare('UPDATE msg_retired SET results = ?, last_activity = ?, success = ?, outcome = ? WHERE id = ?')
          .run(JSON.stringify(results), now.getTime(), success ? 1 : 0, success ? 'delivered' : 'failed', rm.id);
      }
      eventId = recordEvent(
        q.db,
        {
          account: rm.senderAccount,
          event,
          queueMsgId: rm.id,
          fromId: rm.fromId,
          messageId: rm.messageId,
          subject: rm.subject,
          extra: rm.extra,
          dsn: isDsn,
          suppressing,
          // Codes only for errors (mox §2.3: 0 for delivered).
          smtpCode: code !== undefined && code >= 400 ? code : undefined,
          enhancedCode: code !== undefined && code < 400 ? undefined : enhanced,
          error: error === 'incoming message' ? '' : error,
        },
        now,
      );
    })();
    this.log.info({ queueMsgId: rm.id, fromId: rm.fromId, via, kind: a.kind, event, code, enhanced, suppressing }, 'incoming report matched to outgoing message');
    return [{ event, queueMsgId: rm.id, eventId, recipient: address, suppressing }];
  }
}
