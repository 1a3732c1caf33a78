/**
 * Policy for incoming delivery (the MX, port 25): which recipients we accept, sender
 * verification verdicts, trace headers, and durable storage of each recipient's copy before 250.
 *
 * Refusals and their codes (all with enhanced codes, rfc3463):
 *   unknown user 550 5.1.1 (after a short delay), domain we don't host 550 5.7.1 (no relaying),
 *   disabled domain 450 4.2.1, message too big 552 5.3.4 (session), mailbox full 552 5.2.2,
 *   per-IP message/byte rate 452 4.2.2, DMARC p=reject failure 550 5.7.1.
 */
import { promises as fsp, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StaticConfig } from '../../config/static-schema.js';
import type { DynamicConfig } from '../../config/dynamic-schema.js';
import { lookupRecipient, findDomain } from '../../config/lookup.js';
import { deepFreeze } from '../../config/load.js';
import type { Store } from '../../store/index.js';
import { QuotaExceededError } from '../../store/index.js';
import type { RateLimiter } from '../../auth/ratelimit.js';
import type { HotCount, Metrics } from '../../metrics/registry.js';
import type { Resolver } from '../../dns/resolver.js';
import { PartParser, parseBuffer, type Part } from '../../message/part.js';
import { C, E, SmtpError, enhancedCode } from '../codes.js';
import { formatAddress, type SmtpAddress } from '../parse.js';
import { receivedHeader, returnPathHeader } from './headers.js';
import { chooseMailbox, type RulesetInput } from './rulesets.js';
import { parseHeader } from '../../message/header.js';
import { readRange } from '../../store/msgfile.js';
import type { Ruleset } from '../../config/dynamic-schema.js';
import { newReceivedId, type Recipient, type SessionInfo, type SessionPolicy, type Transaction } from './session.js';
import type { ReceivedMessage } from './sink.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** How long to wait before refusing an unknown recipient: slows down address harvesting. */
export const UNKNOWN_RECIPIENT_DELAY_MS = 1000;
/** Reverse DNS lookups for Received headers give up after this long. */
const REVERSE_DNS_TIMEOUT_MS = 3000;

/** What sender verification (SPF/DKIM/DMARC/ARC) tells the delivery path. Produced by auth/. */
export interface VerifyResult {
  /** Authentication-Results (and Received-SPF) header lines, CRLF-terminated, to prepend. */
  headers: string;
  /** Set when the message must be refused (DMARC p=reject failure): the reply text. */
  reject?: string;
  /** DMARC passed (aligned SPF or DKIM). */
  dmarcPass: boolean;
  /** Domains verified by a passing SPF check or DKIM signature, lower-case (for rulesets). */
  verifiedDomains: string[];
  /** JSON-serialisable verdicts stored with the message (webapi Meta, incoming webhook). */
  meta: unknown;
}

export interface VerifyInput {
  message: ReceivedMessage;
  ip: string;
  helo: string;
  mailFrom: string;
}

/** Verification; may answer synchronously (a memoized verdict). */
export type Verifier = (input: VerifyInput) => Promise<VerifyResult> | VerifyResult;

export interface DeliveryDeps {
  config: () => { static: StaticConfig; dynamic: DynamicConfig };
  store: Store;
  verify: Verifier;
  resolver: Resolver;
  metrics: Metrics;
  /** Per-IP-class incoming message count and byte volume limits (mox §9.2). */
  messageLimiter: RateLimiter;
  byteLimiter: RateLimiter;
  tmpDir: string;
  maxMessageSize: number;
  requireTLS: boolean;
  clock?: () => Date;
  unknownRecipientDelayMs?: number;
  /**
   * Called for each stored copy, awaited before the 250, after report matching (cmd/server.ts
   * passes webhook/'s afterDeliver: the incoming webhook is queued durably before we acknowledge).
   * A rejection fails the transaction with a temporary error; the sender retries.
   */
  afterDeliver?: (d: IncomingDelivery) => Promise<void> | void;
  /**
   * Called once per receiving account after its copy is durably stored, before 250: is the
   * message a report (DSN, bounce, complaint) about a message the account sent? Wired to
   * queue/incoming.ts (mox queue.Incoming, §4.3). `outgoing: true` means it was matched to an
   * outgoing message: outgoing events were recorded, and no incoming-message webhook is to be
   * sent for this account's copy. The message stays in the mailbox either way.
   */
  incomingReport?: (input: IncomingReportCall) => Promise<{ outgoing: boolean }> | { outgoing: boolean };
}

/** What DeliveryDeps.incomingReport gets. */
export interface IncomingReportCall {
  account: string;
  /** The RCPT TO addresses of this transaction that deliver to the account (fromids are in their localparts). */
  rcptTo: Array<{ localpart: string; domain: string }>;
  /** SMTP MAIL FROM, '' for the null reverse path. */
  mailFrom: string;
  /** The message as received, without our trace headers: at most its first `maxBytes`. */
  read(maxBytes: number): Promise<Buffer>;
}

/** One stored copy of an incoming message, for what follows delivery (the incoming webhook). */
export interface IncomingDelivery {
  account: string;
  /** Mailbox after rulesets. */
  mailbox: string;
  /** Storage id in the account. */
  msgId: number;
  parsed: Part;
  /** The stored bytes (Return-Path, Authentication-Results and Received included). */
  data: Buffer | { tempPath: string };
  mailFrom: string;
  rcptTo: string;
  remoteIP: string;
  receivedAt: Date;
  /** Verification verdicts (VerifyResult.meta). */
  auth: unknown;
  /**
   * The copy is a report matched to an outgoing message (incomingReport said outgoing): only the
   * outgoing webhook reports it, never the incoming one (mox §2.4).
   */
  dsnMatched: boolean;
}

/** One local copy to make for a recipient. */
interface Target {
  account: string;
  mailbox: string;
  /** The destination's rulesets; they may pick another mailbox once the message is known. */
  rulesets?: readonly Ruleset[];
  /** The recipient address as given in RCPT TO. */
  rcptTo: string;
}

interface RcptInfo {
  targets: Target[];
  /** Only members may post (alias without PostPublic): the message must pass DMARC. */
  membersOnly: boolean;
}

function refuse(code: number, detail: string, msg: string, userError = true): SmtpError {
  return new SmtpError(code, detail, msg, { userError });
}

export class DeliveryPolicy implements SessionPolicy {
  readonly service = 'smtp' as const;
  readonly maxMessageSize: number;
  readonly requireTLS: boolean;
  /** Reverse DNS name of each session's client: its lookup, then the name once known. */
  private readonly reverse = new WeakMap<SessionInfo, Promise<string | undefined> | { name: string | undefined }>();

  constructor(private readonly deps: DeliveryDeps) {
    this.maxMessageSize = deps.maxMessageSize;
    this.requireTLS = deps.requireTLS;
  }

  /** Metrics cells per result (Metrics.hotCount): a message or recipient costs an addition. */
  private readonly messageCounts = new Map<string, HotCount>();
  private readonly recipientCounts = new Map<string, HotCount>();

  private countMessage(result: string): void {
    let c = this.messageCounts.get(result);
    if (!c) this.messageCounts.set(result, (c = this.deps.metrics.hotCount('smtpMessages', this.service, result)));
    c.n++;
  }

  private countRecipient(result: string): void {
    let c = this.recipientCounts.get(result);
    if (!c) this.recipientCounts.set(result, (c = this.deps.metrics.hotCount('smtpRecipients', this.service, result)));
    c.n++;
  }

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }

  private get localserve(): boolean {
    return this.deps.config().static.Localserve === true;
  }

  async mailFrom(s: SessionInfo, tx: Transaction): Promise<void> {
    // mox §5: in localserve, a MAIL FROM localpart starting with "mailfrom" fails here as asked.
    if (this.localserve && tx.mailFrom?.localpart.toLowerCase().startsWith('mailfrom')) await localserveFail(tx.mailFrom.localpart, 'MAIL FROM', sleep);
    if (!this.deps.messageLimiter.canAdd(s.remoteIP)) {
      this.countMessage('ratelimit-messages');
      throw refuse(C.InsufficientStorage, E.MailboxFull, 'too many messages from your network, try again later');
    }
    // Start the reverse lookup for the Received header now, so it is done by the end of DATA.
    if (!this.reverse.has(s)) {
      const lookup = this.reverseName(s.remoteIP);
      this.reverse.set(s, lookup);
      void lookup.then((name) => this.reverse.set(s, { name }));
    }
  }

  async rcptTo(s: SessionInfo, tx: Transaction, rcpt: Recipient): Promise<RcptInfo> {
    const { static: stat, dynamic } = this.deps.config();
    const count = (result: string) => this.countRecipient(result);
    const from = tx.mailFrom ? `${tx.mailFrom.localpart}@${tx.mailFrom.domain}` : '';
    if (this.localserve && rcpt.address.localpart.toLowerCase().startsWith('rcptto')) await localserveFail(rcpt.address.localpart, 'RCPT TO', sleep);
    let r = lookupTargetsCached(stat, dynamic, rcpt.address, from);
    if (!r.ok && this.localserve && (r.reason === 'unknown-user' || r.reason === 'relay-denied')) {
      // mox §5: localserve accepts any address and delivers it to the postmaster account (mox@localhost).
      r = { ok: true, info: { targets: [{ account: stat.Postmaster.Account, mailbox: stat.Postmaster.Mailbox, rcptTo: formatAddress(rcpt.address) }], membersOnly: false } };
    }
    if (!r.ok) {
      count(r.reason);
      if (r.reason === 'unknown-user') {
        const delay = this.deps.unknownRecipientDelayMs ?? UNKNOWN_RECIPIENT_DELAY_MS;
        if (delay > 0) await new Promise((res) => setTimeout(res, delay));
      }
      throw targetRefusal(r.reason);
    }
    const { targets, membersOnly } = r.info;
    // Refuse early when a mailbox is already over quota (rfc5321:4.5.3.1.10 / rfc3463 x.2.2).
    for (const t of targets) {
      const q = this.deps.store.account(t.account).quota();
      if (q.limit > 0 && q.used >= q.limit) {
        count('quota');
        throw refuse(C.ExceededStorage, E.MailboxFull, 'mailbox full');
      }
    }
    count('accepted');
    return { targets, membersOnly } satisfies RcptInfo;
  }

  async data(s: SessionInfo, tx: Transaction, msg: ReceivedMessage): Promise<string> {
    const started = process.hrtime.bigint();
    const d = this.deps;
    const result = (r: string) => this.countMessage(r);
    if (!d.byteLimiter.add(s.remoteIP, msg.size)) {
      result('ratelimit-bytes');
      throw refuse(C.InsufficientStorage, E.MailboxFull, 'too much data from your network, try again later');
    }
    d.messageLimiter.add(s.remoteIP);

    if (this.localserve) {
      // mox §5: other special localparts fail at DATA (the queue sends them one per transaction).
      for (const r of tx.recipients) {
        const lp = r.address.localpart.toLowerCase();
        if (!lp.startsWith('rcptto') && !lp.startsWith('mailfrom')) await localserveFail(r.address.localpart, 'DATA', sleep);
      }
    }
    const mailFrom = tx.mailFrom ? `${tx.mailFrom.localpart}@${tx.mailFrom.domain}` : '';
    const verifying = d.verify({ message: msg, ip: s.remoteIP, helo: s.helo ?? '', mailFrom });
    const verdict = verifying instanceof Promise ? await verifying : verifying;
    if (verdict.reject) {
      result('dmarc-reject');
      throw refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, verdict.reject);
    }
    const infos = tx.recipients.map((r) => r.info as RcptInfo);
    if (infos.some((i) => i.membersOnly) && !verdict.dmarcPass) {
      result('alias-unverified');
      throw refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, 'message to members-only list must pass DMARC');
    }

    const id = newReceivedId();
    const now = this.now();
    const rev = this.reverse.get(s);
    const remoteHost = rev === undefined ? undefined : rev instanceof Promise ? await rev : rev.name;
    const prefixText =
      returnPathHeader(tx.mailFrom) +
      verdict.headers +
      receivedHeader({
        helo: s.helo,
        esmtp: s.esmtp,
        remoteIP: s.remoteIP,
        remoteHost,
        hostname: s.hostname,
        tls: s.tls,
        authenticated: false,
        smtputf8: tx.smtputf8,
        id,
        forAddress: tx.recipients.length === 1 ? tx.recipients[0]!.address : undefined,
        date: now,
      });
    const prefixLen = Buffer.byteLength(prefixText);
    const fullSize = prefixLen + msg.size;

    // In memory (the common case): prefix and message in one buffer, parsed; no temp file.
    const { parsed, data, cleanup } = msg.buffer ? inMemory(prefixText, prefixLen, msg.buffer) : await this.spill(Buffer.from(prefixText), msg);
    try {
      const meta = {
        receivedId: id,
        mailFrom,
        rcptTo: tx.recipients.map((r) => (r.address.domain ? formatAddress(r.address) : 'postmaster')),
        remoteIP: s.remoteIP,
        remoteHost,
        helo: s.helo,
        tls: s.tls,
        smtputf8: tx.smtputf8,
        envid: tx.envid,
        auth: verdict.meta,
      };
      const stored = await storeCopies(d.store, infos.flatMap((i) => i.targets), { mailFrom, prefixLen, parsed, data, verifiedDomains: verdict.verifiedDomains, meta, now, remoteIp: s.remoteIP, fullSize });
      // Reports about messages we sent (mox queue.Incoming): accounts whose copy is about outgoing
      // mail get outgoing events and no incoming-message webhook.
      const matched = this.matchReports(s, tx, mailFrom, msg);
      const outgoingReportAccounts = matched instanceof Promise ? await matched : matched;
      if (outgoingReportAccounts.size) s.log.info({ id, accounts: [...outgoingReportAccounts] }, 'report about outgoing message');
      if (d.afterDeliver) {
        for (const { t, msgId } of stored) {
          const after = d.afterDeliver({ account: t.account, mailbox: t.mailbox, msgId, parsed, data, mailFrom, rcptTo: t.rcptTo, remoteIP: s.remoteIP, receivedAt: now, auth: verdict.meta, dsnMatched: outgoingReportAccounts.has(t.account) });
          if (after) await after;
        }
      }
    } catch (e) {
      if (e instanceof QuotaExceededError) {
        result('quota');
        throw refuse(C.ExceededStorage, E.MailboxFull, 'mailbox full');
      }
      result('error');
      throw e;
    } finally {
      if (cleanup) await cleanup();
    }
    result('accepted');
    d.metrics.observeDelivery(this.service, Number(process.hrtime.bigint() - started) / 1e9);
    s.log.info({ id, mailFrom, rcpts: tx.recipients.length, size: fullSize }, 'delivered');
    return `message delivered, id ${id}`;
  }

  /**
   * Give each receiving account's copy to deps.incomingReport. Returns the accounts for which the
   * message was matched to an outgoing message. Errors are logged, never turned into a refusal:
   * the message is already stored, a 4xx would only make the sender deliver it twice.
   */
  private matchReports(s: SessionInfo, tx: Transaction, mailFrom: string, msg: ReceivedMessage): Set<string> | Promise<Set<string>> {
    const out = new Set<string>();
    const hook = this.deps.incomingReport;
    if (!hook) return out;
    const byAccount = new Map<string, Array<{ localpart: string; domain: string }>>();
    for (const r of tx.recipients) {
      for (const t of (r.info as RcptInfo).targets) {
        const l = byAccount.get(t.account) ?? [];
        if (r.address.domain && !l.some((x) => x.localpart === r.address.localpart && x.domain === r.address.domain)) l.push({ localpart: r.address.localpart, domain: r.address.domain });
        byAccount.set(t.account, l);
      }
    }
    let cached: { max: number; data: Promise<Buffer> } | undefined;
    const read = (max: number): Promise<Buffer> => {
      if (!cached || cached.max < max) cached = { max, data: msg.buffer ? Promise.resolve(msg.buffer.subarray(0, max)) : readRange(msg.path!, 0, Math.min(max, msg.size)) };
      return cached.data.then((b) => b.subarray(0, max));
    };
    const failed = (err: unknown, account: string) => s.log.error({ err, account }, 'matching incoming message to outgoing messages');
    // One account after the other; without a promise as long as the hook answers synchronously.
    const accounts = [...byAccount];
    const rest = async (from: number, pending: Promise<{ outgoing: boolean }>): Promise<Set<string>> => {
      for (let k = from; k < accounts.length; k++) {
        const [account, rcptTo] = accounts[k]!;
        try {
          if ((await (k === from ? pending : hook({ account, rcptTo, mailFrom, read }))).outgoing) out.add(account);
        } catch (err) {
          failed(err, account);
        }
      }
      return out;
    };
    for (let k = 0; k < accounts.length; k++) {
      const [account, rcptTo] = accounts[k]!;
      try {
        const r = hook({ account, rcptTo, mailFrom, read });
        if (r instanceof Promise) return rest(k, r);
        if (r.outgoing) out.add(account);
      } catch (err) {
        failed(err, account);
      }
    }
    return out;
  }

  /**
   * A spilled (large) message: a new temp file is written (prefix, then the received data
   * streamed in), which the store hard-links into each recipient's account, so a large message
   * is copied once. In-memory messages go through inMemory().
   */
  private async spill(prefix: Buffer, msg: ReceivedMessage): Promise<{ parsed: Part; data: { tempPath: string; size: number }; cleanup: () => Promise<void> }> {
    const tempPath = join(this.deps.tmpDir, `deliver-${Date.now()}-${randomBytes(6).toString('hex')}`);
    const fh = await fsp.open(tempPath, 'wx', 0o600);
    const parser = new PartParser();
    try {
      await fh.write(prefix);
      parser.write(prefix);
      for await (const chunk of createReadStream(msg.path!, { highWaterMark: 256 * 1024 })) {
        await fh.write(chunk as Buffer);
        parser.write(chunk as Buffer);
      }
    } finally {
      await fh.close();
    }
    return {
      parsed: parser.end(),
      data: { tempPath, size: prefix.length + msg.size },
      cleanup: () => fsp.rm(tempPath, { force: true }),
    };
  }

  private async reverseName(ip: string): Promise<string | undefined> {
    if (ip === '127.0.0.1' || ip === '::1') return 'localhost';
    let timer: NodeJS.Timeout | undefined;
    try {
      const names = await Promise.race([
        this.deps.resolver.reverse(ip),
        new Promise<string[]>((resolve) => {
          timer = setTimeout(() => resolve([]), REVERSE_DNS_TIMEOUT_MS);
        }),
      ]);
      return names[0];
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The stored message is the prefix (trace headers) and the received message: in one buffer, parsed. */
function inMemory(prefixText: string, prefixLen: number, message: Buffer): { parsed: Part; data: Buffer; cleanup: undefined } {
  const data = Buffer.allocUnsafe(prefixLen + message.length);
  data.write(prefixText, 0, 'utf8');
  message.copy(data, prefixLen);
  return { parsed: parseBuffer(data), data, cleanup: undefined };
}

/** What rulesets match against: envelope sender, From, verified domains, the original header fields. */
async function rulesetInput(
  mailFrom: string,
  prefixLen: number,
  parsed: Part,
  data: Buffer | { tempPath: string },
  verifiedDomains: string[],
): Promise<RulesetInput> {
  const headerBytes = Buffer.isBuffer(data) ? data.subarray(prefixLen, parsed.bodyOffset) : await readRange(data.tempPath, prefixLen, parsed.bodyOffset);
  const from = parsed.envelope?.from?.[0];
  return {
    mailFrom,
    msgFrom: from?.mailbox ? `${from.mailbox}@${from.host ?? ''}` : '',
    verifiedDomains,
    headers: parseHeader(headerBytes).fields.map((f) => [f.key, f.value] as const),
  };
}


/** What storeCopies needs to know about the message. */
export interface CopyInput {
  mailFrom: string;
  /** Bytes of trace headers we prepended to the received message (rulesets look at the original header). */
  prefixLen: number;
  parsed: Part;
  data: Buffer | { tempPath: string; size: number };
  verifiedDomains: string[];
  meta: unknown;
  now: Date;
  remoteIp?: string;
  fullSize: number;
}

/**
 * Store one copy per distinct (account, mailbox) among the targets, after rulesets picked the
 * mailbox; refuses (QuotaExceededError) when a mailbox would go over quota. Shared by port 25
 * and the queue's local delivery.
 */
export async function storeCopies(store: Store, all: Target[], c: CopyInput): Promise<Array<{ t: Target; msgId: number }>> {
  // Rulesets may file the message into another mailbox of the destination's account.
  if (all.some((t) => t.rulesets?.length)) {
    const input = await rulesetInput(c.mailFrom, c.prefixLen, c.parsed, c.data, c.verifiedDomains);
    all = all.map((t) => (t.rulesets?.length ? { ...t, mailbox: chooseMailbox(t.rulesets, t.mailbox, input) } : t));
  }
  // Deduplicate targets: the same account mailbox reached through several addresses gets one copy.
  const targets = new Map<string, Target>();
  for (const t of all) if (!targets.has(`${t.account}\0${t.mailbox}`)) targets.set(`${t.account}\0${t.mailbox}`, t);
  for (const t of targets.values()) {
    const q = store.account(t.account).quota();
    if (q.limit > 0 && q.used + c.fullSize > q.limit) throw new QuotaExceededError(q.used, q.limit, c.fullSize);
  }
  const env = c.parsed.envelope;
  const stored: Array<{ t: Target; msgId: number }> = [];
  await Promise.all(
    [...targets.values()].map(async (t) => {
      const delivered = await store.account(t.account).deliver({
        mailbox: t.mailbox,
        data: c.data,
        receivedAt: c.now,
        parsed: c.parsed,
        meta: c.meta,
        messageId: env?.messageId ?? undefined,
        subject: env?.subject ?? undefined,
        mailFrom: c.mailFrom,
        rcptTo: t.rcptTo,
        remoteIp: c.remoteIp,
      });
      stored.push({ t, msgId: delivered.id });
    }),
  );
  return stored;
}

export type TargetLookup =
  | { ok: true; info: RcptInfo }
  | { ok: false; reason: 'relay-denied' | 'unknown-user' | 'domain-disabled' | 'alias-not-member' | 'alias-empty' };

/**
 * Which local mailboxes a recipient address reaches (accounts, aliases, postmaster), as for RCPT
 * TO on port 25. `mailFrom` is the envelope sender ("" for none), for members-only aliases.
 */
export function lookupTargets(stat: StaticConfig, dynamic: DynamicConfig, a: SmtpAddress, mailFrom: string): TargetLookup {
  const rcptTo = a.domain ? formatAddress(a) : 'postmaster';
  const lookupAddr = a.domain ? `${a.localpart}@${a.domain}` : `postmaster@${stat.Hostname}`;
  const r = lookupRecipient(stat, dynamic, lookupAddr);
  if (!r) return { ok: false, reason: a.domain !== '' && isHostedDomain(dynamic, stat, a.domain) ? 'unknown-user' : 'relay-denied' };
  if (r.kind !== 'postmaster' && r.disabled) return { ok: false, reason: 'domain-disabled' };
  if (r.kind === 'alias') {
    const membersOnly = !r.alias.PostPublic;
    if (membersOnly && !r.addresses.map((m) => m.toLowerCase()).includes(mailFrom.toLowerCase())) return { ok: false, reason: 'alias-not-member' };
    const targets: Target[] = [];
    for (const m of r.addresses) {
      const t = lookupRecipient(stat, dynamic, m);
      if (t?.kind === 'account' || t?.kind === 'postmaster') targets.push({ account: t.account, mailbox: t.mailbox, rcptTo });
    }
    if (!targets.length) return { ok: false, reason: 'alias-empty' };
    return { ok: true, info: { targets, membersOnly } };
  }
  return { ok: true, info: { targets: [{ account: r.account, mailbox: r.mailbox, rcptTo, rulesets: r.kind === 'account' ? r.destination.Rulesets : undefined }], membersOnly: false } };
}

/** Most memoized recipient lookups per configuration (the map is emptied when full). */
const TARGET_MEMO_MAX = 10_000;
const targetMemos = new WeakMap<DynamicConfig, WeakMap<StaticConfig, Map<string, TargetLookup>>>();

/**
 * lookupTargets, memoized per (frozen) configuration: its result is a function of the two
 * configurations, the address and (for members-only aliases) the envelope sender. Configurations
 * from the loader are deeply frozen and replaced, never changed, on reload; others are not
 * memoized. The results are frozen: callers share them.
 */
function lookupTargetsCached(stat: StaticConfig, dynamic: DynamicConfig, a: SmtpAddress, mailFrom: string): TargetLookup {
  if (!Object.isFrozen(dynamic) || !Object.isFrozen(stat)) return lookupTargets(stat, dynamic, a, mailFrom);
  let byStat = targetMemos.get(dynamic);
  if (!byStat) targetMemos.set(dynamic, (byStat = new WeakMap()));
  let memo = byStat.get(stat);
  if (!memo) byStat.set(stat, (memo = new Map()));
  const key = `${a.localpart}\0${a.domain}\0${mailFrom}`;
  let r = memo.get(key);
  if (!r) {
    r = deepFreeze(lookupTargets(stat, dynamic, a, mailFrom));
    if (memo.size >= TARGET_MEMO_MAX) memo.clear();
    memo.set(key, r);
  }
  return r;
}

function targetRefusal(reason: Extract<TargetLookup, { ok: false }>['reason']): SmtpError {
  switch (reason) {
    case 'relay-denied':
      // rfc5321:3.6.2 we are not an open relay.
      return refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, 'relaying not permitted');
    case 'unknown-user':
      return refuse(C.MailboxUnavailable, E.BadDestMailbox, 'no such user');
    case 'domain-disabled':
      return refuse(C.MailboxUnavailableTemp, E.MailboxDisabled, 'domain is disabled, try again later');
    case 'alias-not-member':
      return refuse(C.MailboxUnavailable, E.DeliveryNotAuthorized, 'only members may send to this list');
    case 'alias-empty':
      return refuse(C.MailboxUnavailable, E.BadDestMailbox, 'alias has no local members');
  }
}

/** Is this one of our domains (any spelling), or our host name? */
function isHostedDomain(dynamic: DynamicConfig, stat: StaticConfig, domain: string): boolean {
  return domain.toLowerCase() === stat.Hostname.toLowerCase() || findDomain(dynamic, domain) !== undefined;
}

export type { SmtpAddress };

// ---------------------------------------------------------------------------------------------
// Local delivery from our own queue (submissions to domains we host).

export interface LocalDeliveryDeps {
  config: () => { static: StaticConfig; dynamic: DynamicConfig };
  store: Store;
  tmpDir: string;
  clock?: () => Date;
}

export interface LocalDeliveryInput {
  /** Envelope sender; undefined for the null reverse path. */
  mailFrom: SmtpAddress | undefined;
  recipients: SmtpAddress[];
  /** The queued message: per-row prefix (Received, DKIM-Signature) and the message (bytes stored inline in the queue, or the path of its file). */
  prefix?: Buffer;
  message: Buffer | string;
  /** Domains the sender is known to control (our own authenticated sender's domain), for rulesets. */
  verifiedDomains: string[];
  /** Stored with the message (webapi Meta). */
  meta?: Record<string, unknown>;
}

export interface LocalDeliveryResult {
  status: 'delivered' | 'temporary' | 'permanent';
  code: number;
  enhanced?: string;
  message: string;
}

/** Messages up to this size are delivered from memory; larger ones through one temp file. */
const LOCAL_IN_MEMORY_MAX = 1024 * 1024;

/**
 * Deliver a queued message to local recipients without SMTP: the same recipient lookup,
 * rulesets and durable store delivery as port 25 (Return-Path added, as on delivery). One result
 * per recipient, in the form an SMTP server would have answered.
 */
export async function deliverLocal(deps: LocalDeliveryDeps, input: LocalDeliveryInput): Promise<LocalDeliveryResult[]> {
  const { static: stat, dynamic } = deps.config();
  const mailFrom = input.mailFrom ? formatAddress(input.mailFrom) : '';
  const lookups = input.recipients.map((r) => lookupTargets(stat, dynamic, r, mailFrom));
  if (!lookups.some((l) => l.ok)) return lookups.map((l) => refusalResult(l));
  const prefix = Buffer.concat([Buffer.from(returnPathHeader(input.mailFrom)), input.prefix ?? Buffer.alloc(0)]);
  const msg = input.message;
  const msgSize = Buffer.isBuffer(msg) ? msg.length : (await fsp.stat(msg)).size;
  const fullSize = prefix.length + msgSize;
  let data: Buffer | { tempPath: string; size: number };
  let parsed: Part;
  let cleanup = async () => {};
  if (msgSize <= LOCAL_IN_MEMORY_MAX) {
    data = Buffer.concat([prefix, Buffer.isBuffer(msg) ? msg : await fsp.readFile(msg)]);
    parsed = parseBuffer(data);
  } else {
    const tempPath = join(deps.tmpDir, `local-${Date.now()}-${randomBytes(6).toString('hex')}`);
    const fh = await fsp.open(tempPath, 'wx', 0o600);
    const parser = new PartParser();
    cleanup = () => fsp.rm(tempPath, { force: true });
    try {
      await fh.write(prefix);
      parser.write(prefix);
      for await (const chunk of Buffer.isBuffer(msg) ? [msg] : createReadStream(msg, { highWaterMark: 256 * 1024 })) {
        await fh.write(chunk as Buffer);
        parser.write(chunk as Buffer);
      }
    } finally {
      await fh.close();
    }
    parsed = parser.end();
    data = { tempPath, size: fullSize };
  }
  const now = deps.clock?.() ?? new Date();
  try {
    const out: LocalDeliveryResult[] = [];
    for (const [i, l] of lookups.entries()) {
      if (!l.ok) {
        out.push(refusalResult(l));
        continue;
      }
      try {
        await storeCopies(deps.store, l.info.targets, {
          mailFrom,
          prefixLen: prefix.length,
          parsed,
          data,
          verifiedDomains: input.verifiedDomains,
          meta: { mailFrom, rcptTo: formatAddress(input.recipients[i]!), local: true, ...input.meta },
          now,
          fullSize,
        });
        out.push({ status: 'delivered', code: C.Completed, enhanced: '2.0.0', message: 'delivered to local mailbox' });
      } catch (e) {
        // A full mailbox may be emptied: temporary (rfc3463:3.3 X.2.2).
        if (e instanceof QuotaExceededError) out.push({ status: 'temporary', code: C.InsufficientStorage, enhanced: enhancedCode(C.InsufficientStorage, E.MailboxFull), message: 'mailbox full' });
        else throw e;
      }
    }
    return out;
  } finally {
    await cleanup();
  }
}

function refusalResult(l: TargetLookup): LocalDeliveryResult {
  if (l.ok) throw new Error('not a refusal');
  const e = targetRefusal(l.reason);
  const temporary = e.code >= 400 && e.code < 500;
  return { status: temporary ? "temporary" : "permanent", code: e.code, enhanced: e.enhanced, message: e.message };
}

// ---------------------------------------------------------------------------------------------
// localserve delivery simulation (mox §5): special recipient localparts make SMTP fail.

/** How long a "…timeout" recipient keeps the client waiting before 451 (mox: 1 hour). */
export const LOCALSERVE_TIMEOUT_MS = 3600_000;

/**
 * The simulated failure for a localpart in localserve mode, matched on its end: "temperror" → 451,
 * "permerror" → 550, "timeout" → silence then 451, a 3-digit code 400–599 → that code. Unlike mox
 * (§11.7), 600 is not a code.
 */
export function localserveError(localpart: string): { code: number; timeout: boolean } | undefined {
  const lp = localpart.toLowerCase();
  if (lp.endsWith('temperror')) return { code: C.LocalError, timeout: false };
  if (lp.endsWith('permerror')) return { code: C.MailboxUnavailable, timeout: false };
  if (lp.endsWith('timeout')) return { code: C.LocalError, timeout: true };
  const m = /(\d{3})$/.exec(lp);
  if (m) {
    const code = Number(m[1]);
    if (code >= 400 && code < 600) return { code, timeout: false };
  }
  return undefined;
}

/** Throw the simulated error (after the simulated silence). */
export async function localserveFail(localpart: string, where: string, sleep: (ms: number) => Promise<void>): Promise<void> {
  const e = localserveError(localpart);
  if (!e) return;
  if (e.timeout) await sleep(LOCALSERVE_TIMEOUT_MS);
  throw new SmtpError(e.code, '0.0', `simulated ${where} error for localserve recipient ${localpart}`, { userError: true });
}
