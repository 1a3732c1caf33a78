/**
 * Submission into the outbound queue: the one path by which an account's message gets queued, for
 * SMTP submission (smtp/server/submission.ts) and the webapi's Send. DESIGN §3 "Submission".
 *
 * `Submitter.submit(req)` applies the submission rules, then QueueStore.add (group commit; durable
 * before it resolves):
 * - the envelope sender and the message From must belong to the account: its addresses, their
 *   catchall-separator variants, its "@domain" catchall destinations, or an alias with AllowMsgFrom
 *   that has one of the account's addresses as member (mox §8.1); a disabled domain may not send;
 * - `X-Mox-Extra-<Key>: value` headers (when `extraFromHeaders`) become Extra (keys canonicalised
 *   like mox, "my-key" → "My-Key"; a duplicate key is refused) and are removed from the message
 *   (mox keeps them, §11.10; they are internal metadata, not for recipients);
 * - send limits per account over a rolling 24 h (queue/sendlimits.ts, mox §3.11), counted for every
 *   way of sending, in the same transaction as the queued rows;
 * - fromid (mox §3.7): when the login address is one of the account's FromIDLoginAddresses, each
 *   recipient gets its own MAIL FROM `<localpart><sep><random id>@domain` (sep: the domain's first
 *   catchall separator); a MAIL FROM that already carries `<sep><id>` keeps it (one recipient only);
 * - Message-ID and Date added when missing (rfc5322:3.6.1, 3.6.4); DKIM-Signature with the From
 *   domain's Sign selectors (auth/dkim-sign.ts) over the message as sent;
 * - FUTURERELEASE (rfc4865): HOLDFOR seconds or HOLDUNTIL time, at most 60 days ahead;
 * - "TLS-Required: No" (rfc8689:5) sets RequireTLS to false unless the caller asked for REQUIRETLS;
 * - hold rules are applied by QueueStore.add; local recipients are queued too (delivery delivers
 *   them locally), as mox does.
 *
 * What is stored: the message file is the message as given (rewritten only when Extra headers were
 * removed); the per-row prefix holds the trace header (Received, from the caller), the
 * DKIM-Signature(s) and any added Message-ID/Date.
 */
import { promises as fsp, createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { StaticConfig } from '../config/static-schema.js';
import { DEFAULT_MAX_OUTGOING_MESSAGES_PER_DAY, DEFAULT_MAX_FIRST_TIME_RECIPIENTS_PER_DAY, type DynamicConfig, type DKIMSelector } from '../config/dynamic-schema.js';
import { lookupDestination, findDomain, catchallSeparators } from '../config/lookup.js';
import { normalizeDomain } from '../config/address.js';
import { parseHeader, type Header } from '../message/header.js';
import { parseAddressList, isGroup } from '../message/address.js';
import { formatRfc5322Date } from '../message/date.js';
import { readRange, tempFilePath } from '../store/msgfile.js';
import { dkimSign, dkimSignParts, type DkimSelectorConfig } from '../auth/dkim-sign.js';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { QueueError, type QueueStore, type QueuedMsg, type AddRecipient } from './store.js';
import { checkSendLimits } from './sendlimits.js';

/** rfc4865: mox allows a release at most 60 days ahead (advertised as FUTURERELEASE 5184000). */
export const FUTURE_RELEASE_MAX_SECONDS = 60 * 24 * 3600;
/** A header section larger than this is refused (the MIME parser's limits are far lower per line). */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** Bytes of randomness in a fromid (mox: 16 bytes, base64url → 22 characters). */
const FROMID_BYTES = 16;

export interface SubmitDeps {
  config: () => { static: StaticConfig; dynamic: DynamicConfig };
  queue: QueueStore;
  /** For rewritten messages (same file system as the queue, so they can be hard-linked). */
  tmpDir: string;
  clock?: () => Date;
  log?: Logger;
  /** Called once messages are queued (durably), e.g. to wake the scheduler. */
  onQueued?: (msgs: readonly QueuedMsg[]) => void;
}

export interface SubmitRecipient {
  localpart: string;
  /** ASCII (A-label) domain. */
  domain: string;
  /** rfc3461:4.1 NOTIFY values (upper-case). */
  notify?: string[];
  /** rfc3461:4.2 ORCPT "type;address". */
  orcpt?: string;
}

/** rfc4865 FUTURERELEASE: HOLDFOR (seconds from now) or HOLDUNTIL (a time). */
export type FutureRelease = { holdForSeconds: number } | { holdUntil: Date };

export interface SubmitRequest {
  /** The authenticated account. */
  account: string;
  /** The address the user logged in with: decides fromid (FromIDLoginAddresses). */
  loginAddress: string;
  /** Envelope sender (SMTP MAIL FROM; webapi: the From address). ASCII domain. */
  mailFrom: { localpart: string; domain: string };
  recipients: SubmitRecipient[];
  /**
   * The message (header + body, CRLF line endings) in memory, or in a file the caller owns (it is
   * hard-linked into the queue, so it must be on the data dir's file system; the caller removes it).
   */
  message: Buffer | { path: string; size: number };
  /** Extra from the caller (webapi). Keys as given. */
  extra?: Record<string, string>;
  /** Take X-Mox-Extra-<Key> headers as Extra and remove them (SMTP submission). */
  extraFromHeaders?: boolean;
  /** REQUIRETLS (rfc8689) asked for: true; undefined/null: default policy (or TLS-Required: No). */
  requireTLS?: boolean | null;
  futureRelease?: FutureRelease;
  /** rfc3461:4.4 ENVID and 4.3 RET. */
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  /** The message has 8-bit data (BODY=8BITMIME); detected for in-memory messages anyway. */
  has8bit?: boolean;
  /** Trace header lines (e.g. Received), CRLF-terminated, put before everything else. */
  traceHeaders?: string;
}

export interface SubmitResult {
  /** The Message-ID (with angle brackets), from the message or added. */
  messageId: string;
  /** One row per recipient, in request order. */
  queued: QueuedMsg[];
}

export type SubmitErrorCode =
  /** Sender or From not an address of the account (SMTP 550 5.7.1). */
  | 'notAllowed'
  /** The sending domain is disabled (SMTP 550 5.7.1). */
  | 'domainDisabled'
  /** MaxOutgoingMessagesPerDay reached (SMTP 451 4.7.1; webapi messageLimitReached). */
  | 'messageLimitReached'
  /** MaxFirstTimeRecipientsPerDay reached (SMTP 451 4.7.1; webapi recipientLimitReached). */
  | 'recipientLimitReached'
  /** The same X-Mox-Extra key twice (SMTP 554 5.6.0). */
  | 'duplicateExtra'
  /** No usable From header, header too large (SMTP 554 5.6.0). */
  | 'malformedMessage'
  /** HOLDFOR/HOLDUNTIL out of range (SMTP 554 5.5.4). */
  | 'futureRelease'
  /** A MAIL FROM carrying its own fromid with several recipients (SMTP 554 5.5.3). */
  | 'fromIdMultipleRecipients'
  /** The fromid is already used by a queued or retired message (SMTP 554 5.5.0). */
  | 'duplicateFromId'
  | 'noRecipients';

export class SubmitError extends Error {
  override readonly name = 'SubmitError';
  constructor(
    readonly code: SubmitErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Can `account` use `address` as envelope sender or From? */
export function senderAllowed(cfg: DynamicConfig, account: string, address: string): { ok: true } | { ok: false; reason: 'notAllowed' | 'domainDisabled' } {
  const r = lookupDestination(cfg, address);
  if (!r) return { ok: false, reason: 'notAllowed' };
  let ok = false;
  if (r.kind === 'account') ok = r.account === account;
  else if (r.alias.AllowMsgFrom) {
    // An alias allows its members to send as the alias.
    ok = r.addresses.some((m) => {
      const t = lookupDestination(cfg, m);
      return t?.kind === 'account' && t.account === account;
    });
  }
  if (!ok) return { ok: false, reason: 'notAllowed' };
  if (r.disabled) return { ok: false, reason: 'domainDisabled' };
  return { ok: true };
}

/** Canonical MIME header key, as Go's textproto (and so mox): "x-mox-extra-my-key" → "X-Mox-Extra-My-Key". */
export function canonicalHeaderKey(name: string): string {
  return name
    .split('-')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1).toLowerCase() : w))
    .join('-');
}

const EXTRA_PREFIX = 'x-mox-extra-';

/** The Extra map from X-Mox-Extra-* headers; throws SubmitError on a duplicate key. */
export function extraFromHeader(h: Header): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const f of h.fields) {
    if (!f.key.startsWith(EXTRA_PREFIX) || f.key.length === EXTRA_PREFIX.length) continue;
    const key = canonicalHeaderKey(f.name).slice(EXTRA_PREFIX.length);
    if (Object.hasOwn(extra, key)) throw new SubmitError('duplicateExtra', `duplicate x-mox-extra header for key ${JSON.stringify(key)}`);
    extra[key] = f.value;
  }
  return extra;
}

/** When a FUTURERELEASE takes effect; throws SubmitError when out of range (rfc4865:4.1, 60 days). */
export function futureReleaseAt(fr: FutureRelease, now: Date): { at: Date; request: string } {
  const maxMs = FUTURE_RELEASE_MAX_SECONDS * 1000;
  if ('holdForSeconds' in fr) {
    const s = fr.holdForSeconds;
    if (!Number.isInteger(s) || s < 0 || s > FUTURE_RELEASE_MAX_SECONDS) throw new SubmitError('futureRelease', `HOLDFOR must be between 0 and ${FUTURE_RELEASE_MAX_SECONDS} seconds`);
    return { at: new Date(now.getTime() + s * 1000), request: `for;${s}` };
  }
  const t = fr.holdUntil.getTime();
  if (!Number.isFinite(t) || t <= now.getTime()) throw new SubmitError('futureRelease', 'HOLDUNTIL must be in the future');
  if (t - now.getTime() > maxMs) throw new SubmitError('futureRelease', 'HOLDUNTIL must be at most 60 days in the future');
  return { at: new Date(t), request: `until;${fr.holdUntil.toISOString().replace(/\.\d{3}Z$/, 'Z')}` };
}

/** Header section of a message: its bytes (fields with their line endings, no blank line). */
function headerSection(buf: Buffer, complete: boolean): Buffer | undefined {
  if (buf[0] === 0x0d && buf[1] === 0x0a) return buf.subarray(0, 0);
  const i = buf.indexOf('\r\n\r\n');
  if (i >= 0) return buf.subarray(0, i + 2);
  return complete ? buf : undefined;
}

function has8bitData(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return true;
  return false;
}

export class Submitter {
  private readonly log: Logger;
  private readonly clock: () => Date;
  /** Recipients of submissions between their send-limit check and their commit, per account. */
  private readonly pending = new Map<string, number>();
  private readonly keys = new Map<string, Promise<string>>();

  constructor(private readonly d: SubmitDeps) {
    this.log = d.log ?? nullLogger();
    this.clock = d.clock ?? (() => new Date());
  }

  /** Apply the submission rules and queue the message; resolves once it is durable. Throws SubmitError. */
  async submit(req: SubmitRequest): Promise<SubmitResult> {
    const { static: stat, dynamic } = this.d.config();
    const now = this.clock();
    if (!req.recipients.length) throw new SubmitError('noRecipients', 'no recipients');
    const acc = dynamic.Accounts[req.account];
    if (!acc) throw new SubmitError('notAllowed', 'unknown account');

    const mf = senderAllowed(dynamic, req.account, `${req.mailFrom.localpart}@${req.mailFrom.domain}`);
    if (!mf.ok) throw new SubmitError(mf.reason, mf.reason === 'domainDisabled' ? 'sending domain is disabled' : 'not allowed to send as this envelope sender (MAIL FROM)');

    // The header section, from memory or the first part of the file.
    const size = Buffer.isBuffer(req.message) ? req.message.length : req.message.size;
    const head = Buffer.isBuffer(req.message) ? req.message : await readRange(req.message.path, 0, MAX_HEADER_BYTES);
    const hb = headerSection(head, head.length >= size);
    if (!hb) throw new SubmitError('malformedMessage', 'message header too large');
    const header = parseHeader(hb);

    const fromFields = header.getAll('from');
    if (fromFields.length !== 1) throw new SubmitError('malformedMessage', fromFields.length ? 'message has more than one From header' : 'message has no From header');
    const froms = parseAddressList(fromFields[0]!).flatMap((a) => (isGroup(a) ? a.addresses : [a]));
    if (froms.length !== 1 || !froms[0]!.mailbox || !froms[0]!.host) throw new SubmitError('malformedMessage', 'From header must hold exactly one address');
    const fromAddr = `${froms[0]!.mailbox}@${froms[0]!.host}`;
    const fa = senderAllowed(dynamic, req.account, fromAddr);
    if (!fa.ok) throw new SubmitError(fa.reason, fa.reason === 'domainDisabled' ? 'sending domain is disabled' : 'not allowed to send with this From address');

    const extra = { ...req.extra, ...(req.extraFromHeaders ? extraFromHeader(header) : {}) };
    const fr = req.futureRelease ? futureReleaseAt(req.futureRelease, now) : undefined;

    // fromid (mox §3.7).
    const recipients: AddRecipient[] = req.recipients.map((r) => ({ localpart: r.localpart, domain: r.domain, notify: r.notify, orcpt: r.orcpt }));
    const login = req.loginAddress.toLowerCase();
    if (acc.FromIDLoginAddresses?.some((a) => a.toLowerCase() === login)) {
      const dom = findDomain(dynamic, req.mailFrom.domain)?.domain;
      const sep = dom ? catchallSeparators(dom)[0] : undefined;
      if (!sep) {
        this.log.warn({ account: req.account, domain: req.mailFrom.domain }, 'fromid login address, but the sender domain has no catchall separator; sending without fromid');
      } else {
        const lp = req.mailFrom.localpart;
        const i = lp.indexOf(sep);
        if (i > 0 && i + sep.length < lp.length) {
          // The client brought its own fromid: used as is, so only for one recipient.
          if (recipients.length > 1) throw new SubmitError('fromIdMultipleRecipients', 'a MAIL FROM with a fromid allows only one recipient');
          recipients[0]!.fromId = lp.slice(i + sep.length);
        } else {
          const base = i > 0 ? lp.slice(0, i) : lp;
          for (const r of recipients) {
            r.fromId = randomBytes(FROMID_BYTES).toString('base64url');
            r.senderLocalpart = `${base}${sep}${r.fromId}`;
          }
        }
      }
    }

    // Send limits (the check and the rows committed by add() are kept consistent by `pending`).
    const rcptAddrs = req.recipients.map((r) => `${r.localpart}@${r.domain}`.toLowerCase());
    const pendingBefore = this.pending.get(req.account) ?? 0;
    const lim = checkSendLimits(
      this.d.queue.db,
      req.account,
      rcptAddrs,
      // mox: 0 means the default.
      {
        maxMessagesPerDay: acc.MaxOutgoingMessagesPerDay || DEFAULT_MAX_OUTGOING_MESSAGES_PER_DAY,
        maxFirstTimeRecipientsPerDay: acc.MaxFirstTimeRecipientsPerDay || DEFAULT_MAX_FIRST_TIME_RECIPIENTS_PER_DAY,
      },
      now.getTime(),
      pendingBefore,
    );
    if (!lim.ok) {
      this.log.info({ account: req.account, limit: lim.limit, max: lim.max }, 'submission refused: send limit reached');
      throw lim.limit === 'messages'
        ? new SubmitError('messageLimitReached', `outgoing message limit reached (${lim.max} per day), try again later`)
        : new SubmitError('recipientLimitReached', `first-time recipient limit reached (${lim.max} per day), try again later`);
    }
    this.pending.set(req.account, pendingBefore + recipients.length);

    let rewritten: string | undefined;
    try {
      // The message file: as given, or without the X-Mox-Extra headers.
      let content: Buffer | { tempPath: string; size: number };
      // The header section of the file (for signing a file without reading all of it).
      let contentHeader = hb;
      const extraFields = req.extraFromHeaders ? header.fields.filter((f) => f.key.startsWith(EXTRA_PREFIX)) : [];
      if (extraFields.length) {
        const kept = Buffer.concat(header.fields.filter((f) => !f.key.startsWith(EXTRA_PREFIX)).map((f) => f.raw));
        contentHeader = kept;
        if (Buffer.isBuffer(req.message)) content = Buffer.concat([kept, req.message.subarray(hb.length)]);
        else {
          rewritten = tempFilePath(this.d.tmpDir, 'submit');
          content = { tempPath: rewritten, size: await this.rewriteFile(req.message.path, rewritten, kept, hb.length) };
        }
      } else {
        content = Buffer.isBuffer(req.message) ? req.message : { tempPath: req.message.path, size: req.message.size };
      }

      // Message-ID and Date when missing (rfc5322:3.6: Date is required, Message-ID should be present).
      let added = '';
      let messageId = header.get('message-id') ?? '';
      if (!messageId) {
        messageId = `<${randomBytes(16).toString('base64url')}@${stat.Hostname}>`;
        added += `Message-ID: ${messageId}\r\n`;
      }
      if (!header.has('date')) added += `Date: ${formatRfc5322Date(now)}\r\n`;

      // DKIM signature over the message as sent (added headers + file); a file is streamed.
      const addedBuf = Buffer.from(added);
      const toSign = Buffer.isBuffer(content)
        ? { message: addedBuf.length ? Buffer.concat([addedBuf, content]) : content }
        : { header: Buffer.concat([addedBuf, contentHeader]), bodyFile: content.tempPath, bodyStart: Math.min(contentHeader.length + 2, content.size) };
      const dkim = await this.dkimHeaders(dynamic, froms[0]!.host!, toSign, now);

      const tlsRequiredNo = (header.get('tls-required') ?? '').trim().toLowerCase() === 'no';
      const requireTLS = req.requireTLS ? true : tlsRequiredNo ? false : (req.requireTLS ?? null);
      const prefix = Buffer.from((req.traceHeaders ?? '') + dkim + added);
      const queued = await this.d.queue
        .add({
          account: req.account,
          mailFrom: req.mailFrom,
          recipients,
          message: content,
          prefix: prefix.length ? prefix : undefined,
          messageId,
          subject: header.get('subject') ?? '',
          has8bit: req.has8bit || (Buffer.isBuffer(content) && has8bitData(content)),
          smtputf8: req.smtputf8,
          requireTLS,
          futureRelease: fr,
          extra,
          envid: req.envid,
          ret: req.ret,
          recordOutgoing: true,
        })
        .catch((e: unknown) => {
          if (e instanceof QueueError && e.code === 'duplicate-fromid') throw new SubmitError('duplicateFromId', 'fromid already used');
          throw e;
        });
      this.d.onQueued?.(queued);
      this.log.info({ account: req.account, ids: queued.map((q) => q.id), messageId, rcpts: queued.length }, 'submission queued');
      return { messageId, queued };
    } finally {
      const left = (this.pending.get(req.account) ?? 0) - recipients.length;
      if (left > 0) this.pending.set(req.account, left);
      else this.pending.delete(req.account);
      if (rewritten) await fsp.rm(rewritten, { force: true });
    }
  }

  /** Write `header` followed by src from offset `from` into dst; returns the size. */
  private async rewriteFile(src: string, dst: string, header: Buffer, from: number): Promise<number> {
    const fh = await fsp.open(dst, 'wx', 0o600);
    let size = header.length;
    try {
      await fh.write(header);
      for await (const chunk of createReadStream(src, { start: from, highWaterMark: 256 * 1024 })) {
        await fh.write(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } finally {
      await fh.close();
    }
    return size;
  }

  /** DKIM-Signature fields for a message From `fromDomain` with the domain's Sign selectors. */
  private async dkimHeaders(
    cfg: DynamicConfig,
    fromDomain: string,
    msg: { message: Buffer } | { header: Buffer; bodyFile: string; bodyStart: number },
    now: Date,
  ): Promise<string> {
    const d = findDomain(cfg, fromDomain);
    const dkim = d?.domain.DKIM;
    if (!d || !dkim?.Sign.length) return '';
    const selectors: DkimSelectorConfig[] = [];
    for (const name of dkim.Sign) {
      const sel: DKIMSelector | undefined = dkim.Selectors[name];
      if (!sel) continue;
      // rfc8301:3.1: sha1 must not be used for signing; a selector configured with sha1 signs with sha256.
      selectors.push({
        selector: name,
        privateKeyPem: await this.key(sel.PrivateKeyFile),
        headerRelaxed: sel.Canonicalization?.HeaderRelaxed ?? true,
        bodyRelaxed: sel.Canonicalization?.BodyRelaxed ?? true,
        ...(sel.Headers ? { headers: [...sel.Headers] } : {}),
        oversign: sel.DontSealHeaders ? 'from' : 'all',
        ...(sel.Expiration ? { expirationSeconds: Math.round(sel.Expiration / 1000) } : {}),
      });
    }
    const o = { domain: normalizeDomain(d.key) ?? d.key, selectors, clock: { now: () => now.getTime() } };
    if ('message' in msg) return dkimSign(msg.message, o);
    return dkimSignParts(msg.header, createReadStream(msg.bodyFile, { start: msg.bodyStart, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>, o);
  }

  private key(path: string): Promise<string> {
    let p = this.keys.get(path);
    if (!p) {
      p = fsp.readFile(path, 'utf8');
      p.catch(() => this.keys.delete(path));
      this.keys.set(path, p);
    }
    return p;
  }
}
