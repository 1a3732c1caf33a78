/**
 * Send: compose a message from the request (message/compose.ts, mox's MIME layout) and queue it
 * through the one submission path (queue/submit.ts: From allowed for the account, send limits,
 * fromid, DKIM, hold rules, FutureRelease, Extra, RequireTLS). mox §1.3. Optional SaveSent copy
 * into the account's \Sent mailbox (with a Bcc header), after queueing, as mox.
 */
import { randomBytes } from 'node:crypto';
import type { FormFile } from '../web/body.js';
import type { Store } from '../store/store.js';
import { QuotaExceededError } from '../store/types.js';
import { parseAddress } from '../config/address.js';
import { lookupDestination } from '../config/lookup.js';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { composeMessage, ComposeError, type ComposeFile } from '../message/compose.js';
import { formatRfc5322Date } from '../message/date.js';
import { parseBuffer } from '../message/part.js';
import { ApiError } from './errors.js';
import type { FileT, NameAddressT, SendRequestT, SendResultT } from './types.js';

/** mox FutureReleaseIntervalMax: at most 60 days ahead. */
export const FUTURE_RELEASE_MAX_MS = 60 * 24 * 3600_000;

/** The submission function's request, as queue/submit.ts Submitter.submit takes it. */
export interface SubmitLike {
  account: string;
  loginAddress: string;
  mailFrom: { localpart: string; domain: string };
  recipients: Array<{ localpart: string; domain: string }>;
  message: Buffer;
  extra?: Record<string, string>;
  requireTLS?: boolean | null;
  futureRelease?: { holdUntil: Date };
  smtputf8?: boolean;
  has8bit?: boolean;
  traceHeaders?: string;
}

export type SubmitFn = (req: SubmitLike) => Promise<{ messageId: string; queued: Array<{ id: number; fromId: string | null }> }>;

export interface SendDeps {
  dynamic: () => DynamicConfig;
  store: Store;
  submit: SubmitFn;
  hostname: string;
  /** The listener's SMTPMaxMessageSize. */
  maxMessageSize: number;
  clock: () => Date;
  version: string;
}

export interface SendContext {
  account: string;
  loginAddress: string;
  ip: string;
  secure: boolean;
  /** Multipart uploads (alternativefile, inlinefile, attachedfile). */
  files: readonly FormFile[];
}

/** A composed message ready to submit; Send's work up to the queue, split out so the idempotency check can hash it. */
export interface PreparedSend {
  from: { name: string; address: string; localpart: string; domain: string };
  recipients: Array<{ given: string; localpart: string; domain: string }>;
  messageId: string;
  message: Buffer;
  smtputf8: boolean;
  has8bit: boolean;
  bcc: string[];
  futureRelease?: Date;
}

function xaddress(a: NameAddressT | undefined, what: string): { name: string; address: string; localpart: string; domain: string } {
  const p = parseAddress(a?.Address ?? '');
  if (!p) throw new ApiError('badAddress', `invalid ${what} address ${JSON.stringify(a?.Address ?? '')}`);
  return { name: a?.Name ?? '', address: `${p.localpart}@${p.domain}`, localpart: p.localpart, domain: p.domain };
}

/** Standard base64 (line breaks allowed), validated: Go's StdEncoding is strict. */
export function xdecodeBase64(s: string, what: string): Buffer {
  const t = s.replace(/\r?\n/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw new ApiError('user', `${what}: invalid base64 data`);
  return Buffer.from(t, 'base64');
}

function jsonFiles(list: FileT[] | null | undefined, what: string): ComposeFile[] {
  return (list ?? []).map((f, i) => ({
    name: f.Name ?? '',
    contentType: f.ContentType ?? '',
    contentId: f.ContentID ?? '',
    data: xdecodeBase64(f.Data ?? '', `${what}[${i}]`),
  }));
}

function formFiles(files: readonly FormFile[], field: string): ComposeFile[] {
  // Clients (browsers, undici) label files they know nothing about application/octet-stream: sniff those.
  return files
    .filter((f) => f.field === field)
    .map((f) => ({ name: f.filename, contentType: /^application\/octet-stream\s*$/i.test(f.contentType) ? '' : f.contentType, contentId: f.contentId, data: f.data }));
}

/**
 * Random bytes for Message-IDs and trace ids, drawn from a 4 KiB buffer refilled when used up: a
 * randomBytes call costs more than the rest of making an id (as webhook/store.ts newWebhookId).
 */
let randomPool = Buffer.alloc(0);
let randomPoolAt = 0;
function randomId(bytes: number): string {
  if (randomPoolAt + bytes > randomPool.length) {
    randomPool = randomBytes(4096);
    randomPoolAt = 0;
  }
  randomPoolAt += bytes;
  return randomPool.toString('base64url', randomPoolAt - bytes, randomPoolAt);
}

function hasUtf8Localpart(a: string): boolean {
  return /[^\x00-\x7f]/.test(a.slice(0, a.lastIndexOf('@')));
}

/** Validate the request and compose the message (no side effects). */
export function prepareSend(d: SendDeps, ctx: SendContext, req: SendRequestT): PreparedSend {
  const froms = req.From ?? [];
  if (froms.length > 1) throw new ApiError('multipleFrom', 'at most one From address allowed');
  let from: PreparedSend['from'];
  if (froms.length === 1) from = xaddress(froms[0], 'From');
  else {
    from = xaddress({ Address: ctx.loginAddress }, 'login');
    const r = lookupDestination(d.dynamic(), from.address);
    const acc = d.dynamic().Accounts[ctx.account];
    from.name = (r?.kind === 'account' ? r.destination.FullName : undefined) ?? acc?.FullName ?? '';
  }
  // The sender must be the account's (mox checks this before anything else).
  const r = lookupDestination(d.dynamic(), from.address);
  const allowed =
    (r?.kind === 'account' && r.account === ctx.account) ||
    (r?.kind === 'alias' && r.alias.AllowMsgFrom && r.addresses.some((m) => {
      const t = lookupDestination(d.dynamic(), m);
      return t?.kind === 'account' && t.account === ctx.account;
    }));
  if (!allowed) throw new ApiError('badFrom', `not allowed to send from ${from.address}`);
  if (r?.disabled) throw new ApiError('domainDisabled', `domain of ${from.address} is disabled`);

  const rcpts: PreparedSend['recipients'] = [];
  const bcc: string[] = [];
  const toList = (req.To ?? []).map((a) => xaddress(a, 'To'));
  const ccList = (req.CC ?? []).map((a) => xaddress(a, 'CC'));
  const bccList = (req.BCC ?? []).map((a) => xaddress(a, 'BCC'));
  for (const [list, given] of [
    [toList, req.To ?? []],
    [ccList, req.CC ?? []],
    [bccList, req.BCC ?? []],
  ] as const) {
    list.forEach((a, i) => rcpts.push({ given: given[i]!.Address ?? a.address, localpart: a.localpart, domain: a.domain }));
  }
  for (const a of bccList) bcc.push(a.name ? `${a.name} <${a.address}>` : a.address);
  if (!rcpts.length) throw new ApiError('noRecipients', 'no recipients');
  if (!req.Text && !req.HTML) throw new ApiError('missingBody', 'text and/or html body required');
  const replyTo = (req.ReplyTo ?? []).map((a) => xaddress(a, 'ReplyTo'));

  let messageId = req.MessageID ?? '';
  if (messageId) {
    if (!/^<[^<>\s]+>$/.test(messageId)) throw new ApiError('malformedMessageID', 'MessageID must be wrapped in <> and hold no whitespace');
  } else messageId = `<${randomId(16)}@${d.hostname}>`;

  const now = d.clock();
  let futureRelease: Date | undefined;
  if (req.FutureRelease) {
    const t = new Date(req.FutureRelease);
    if (t.getTime() - now.getTime() > FUTURE_RELEASE_MAX_MS) throw new ApiError('user', 'FutureRelease must be at most 60 days in the future');
    // A time in the past means: deliver now.
    if (t.getTime() > now.getTime()) futureRelease = t;
  }

  const files = {
    alternative: [...jsonFiles(req.AlternativeFiles, 'AlternativeFiles'), ...formFiles(ctx.files, 'alternativefile')],
    inline: [...jsonFiles(req.InlineFiles, 'InlineFiles'), ...formFiles(ctx.files, 'inlinefile')],
    attached: [...jsonFiles(req.AttachedFiles, 'AttachedFiles'), ...formFiles(ctx.files, 'attachedfile')],
  };
  const fileBytes = [...files.alternative, ...files.inline, ...files.attached].reduce((n, f) => n + f.data.length, 0);
  // Base64 makes files 4/3 larger: refuse early what cannot fit.
  if (fileBytes > d.maxMessageSize || (req.Text?.length ?? 0) + (req.HTML?.length ?? 0) > d.maxMessageSize) {
    throw new ApiError('messageTooLarge', `message larger than the maximum of ${d.maxMessageSize} bytes`);
  }
  let composed;
  try {
    composed = composeMessage({
      from: { name: from.name, address: from.address },
      to: toList.map((a) => ({ name: a.name, address: a.address })),
      cc: ccList.map((a) => ({ name: a.name, address: a.address })),
      replyTo: replyTo.map((a) => ({ name: a.name, address: a.address })),
      messageId,
      references: req.References ?? [],
      date: req.Date ? new Date(req.Date) : now,
      subject: req.Subject ?? '',
      text: req.Text ?? '',
      html: req.HTML ?? '',
      headers: (req.Headers ?? []).map(([k, v]) => [k, v] as [string, string]),
      userAgent: `moxts/${d.version}`,
      alternativeFiles: files.alternative,
      inlineFiles: files.inline,
      attachedFiles: files.attached,
    });
  } catch (err) {
    if (err instanceof ComposeError) throw new ApiError('user', err.message);
    throw err;
  }
  if (composed.message.length > d.maxMessageSize) throw new ApiError('messageTooLarge', `message of ${composed.message.length} bytes larger than the maximum of ${d.maxMessageSize} bytes`);
  const smtputf8 = composed.smtputf8 || hasUtf8Localpart(from.address) || rcpts.some((r) => /[^\x00-\x7f]/.test(r.localpart));
  return { from, recipients: rcpts, messageId, message: composed.message, smtputf8, has8bit: composed.has8bit, bcc, futureRelease };
}

/** Map queue/submit.ts errors (SubmitError codes) to webapi codes. */
function mapSubmitError(err: unknown): never {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === 'SubmitError') {
    switch (e.code) {
      case 'notAllowed':
        throw new ApiError('badFrom', e.message ?? 'not allowed');
      case 'domainDisabled':
      case 'messageLimitReached':
      case 'recipientLimitReached':
      case 'noRecipients':
        throw new ApiError(e.code, e.message ?? e.code);
      case 'duplicateFromId':
        throw new ApiError('server', e.message ?? e.code);
      default:
        throw new ApiError('user', e.message ?? String(e.code));
    }
  }
  throw err;
}

/** Queue a prepared message; then SaveSent. */
export async function submitPrepared(d: SendDeps, ctx: SendContext, p: PreparedSend, req: SendRequestT): Promise<SendResultT> {
  const now = d.clock();
  const id = randomId(9);
  // Trace header for the submission (rfc5321:4.4); "for" only with one recipient so a message to
  // several recipients stays byte-identical (mox §1.3).
  const forClause = p.recipients.length === 1 ? `\r\n\tfor <${p.recipients[0]!.localpart}@${p.recipients[0]!.domain}>` : '';
  const received = `Received: from [${ctx.ip}] by ${d.hostname} (moxts) via webapi with ${ctx.secure ? 'HTTPS' : 'HTTP'}\r\n\tid ${id}${forClause};\r\n\t${formatRfc5322Date(now)}\r\n`;
  let res;
  try {
    res = await d.submit({
      account: ctx.account,
      loginAddress: ctx.loginAddress,
      mailFrom: { localpart: p.from.localpart, domain: p.from.domain },
      recipients: p.recipients.map((r) => ({ localpart: r.localpart, domain: r.domain })),
      message: p.message,
      extra: req.Extra ?? {},
      requireTLS: req.RequireTLS ?? null,
      ...(p.futureRelease ? { futureRelease: { holdUntil: p.futureRelease } } : {}),
      smtputf8: p.smtputf8,
      has8bit: p.has8bit,
      traceHeaders: received,
    });
  } catch (err) {
    mapSubmitError(err);
  }
  const result: SendResultT = {
    MessageID: res.messageId,
    Submissions: res.queued.map((q, i) => ({ Address: p.recipients[i]!.given, QueueMsgID: q.id, FromID: q.fromId ?? '' })),
  };
  if (req.SaveSent) await saveSentCopy(d, ctx, p, now);
  return result;
}

/** Store a copy in the \Sent mailbox (if any), \Seen and $NotJunk, with a Bcc header (mox). */
export async function saveSentCopy(d: SendDeps, ctx: SendContext, p: PreparedSend, now: Date): Promise<void> {
  const acc = d.store.account(ctx.account);
  const sent = acc.listMailboxes().find((m) => m.specialUse === '\\Sent');
  if (!sent) return;
  const data = p.bcc.length ? Buffer.concat([Buffer.from(`Bcc: ${p.bcc.join(', ')}\r\n`), p.message]) : p.message;
  try {
    await acc.append(sent.id, { data, parsed: parseBuffer(data), flags: ['seen'], keywords: ['$notjunk'], receivedAt: now, messageId: p.messageId });
  } catch (err) {
    if (err instanceof QuotaExceededError) throw new ApiError('sentOverQuota', `message was sent, but not stored in the Sent mailbox: quota of ${err.limit} bytes reached`);
    throw err;
  }
}
