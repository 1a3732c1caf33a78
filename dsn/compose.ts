// Composing delivery status notifications: rfc3464 (message/delivery-status fields), rfc6522
// (multipart/report; report-type=delivery-status with text/plain, the status part and the returned
// headers or message), rfc6533 (message/global-delivery-status, message/global-headers,
// message/global and the utf-8 address type for internationalised addresses), rfc3461 (ENVID,
// ORCPT, RET), rfc3834 (Auto-Submitted), rfc2047 (encoded subject), rfc5322 (header fields).

import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import { formatRfc5322Date } from '../message/date.js';
import { parseHeader } from '../message/header.js';
import { decodeHeaderValue } from '../message/decode.js';
import { encodeUtf8AddrXtext, encodeXtext, decodeUtf8AddrXtext, splitTyped, type Action } from './fields.js';

export type { Action } from './fields.js';

/** Largest original returned whole for RET=FULL; larger ones get headers only (rfc3461:4.3 lets
 * the MTA return less than asked). 1 MiB keeps DSNs deliverable through most size limits. */
export const MAX_FULL_RETURN = 1024 * 1024;

/** Line length we fold header fields to (rfc5322:2.1.1 SHOULD 78). */
const LINE = 78;

export interface MTAName {
  /** Host name. */
  name: string;
  /** IP address, written as a comment ("(192.0.2.1)"). */
  ip?: string;
}

export interface DsnRecipient {
  /** The recipient as it was tried (rfc3464:2.3.2). UTF-8 local parts allowed. */
  finalRecipient: string;
  /** The ORCPT value (rfc3461:4.2), if the client gave one. */
  originalRecipient?: string;
  action: Action;
  /** Enhanced status code "5.1.1" (rfc3463). Default: 5.0.0 failed, 4.0.0 delayed, else 2.0.0. */
  status?: string;
  /** Short text after the Status code, e.g. "mailbox unavailable". */
  statusComment?: string;
  remoteMTA?: MTAName;
  /** The remote's full SMTP reply, lines joined with a space: "550 5.1.1 no such user". */
  diagnosticCode?: string;
  lastAttemptDate?: Date;
  willRetryUntil?: Date;
  finalLogID?: string;
}

export interface DsnInput {
  /** Our host name: Reporting-MTA, the Message-ID domain, postmaster@ sender. */
  hostname: string;
  /** Header From; default postmaster@<hostname>. */
  from?: string;
  /** The original sender (MAIL FROM); the DSN's To. */
  to: string;
  /** Default: "Delivery failure: <original subject>" / "Delivery delayed: …" / "Delivery report: …". */
  subject?: string;
  /** Default now. */
  date?: Date;
  /** Our own Message-ID, default <random@hostname>. */
  messageID?: string;
  /** The original's Message-ID; default taken from `original`. Used for References/In-Reply-To. */
  originalMessageID?: string;
  /** ENVID of the original transaction (rfc3461:4.4). */
  originalEnvelopeID?: string;
  receivedFromMTA?: MTAName;
  arrivalDate?: Date;
  recipients: DsnRecipient[];
  /** The original message (headers and body). */
  original?: Buffer;
  /** rfc3461 RET: FULL returns the whole message when it is at most maxFullSize; default HDRS. */
  ret?: 'FULL' | 'HDRS';
  maxFullSize?: number;
  /** Replaces the generated human-readable text. */
  text?: string;
  /**
   * Whether the DSN's receiver accepts SMTPUTF8 (default true). When false and the report needs
   * UTF-8, it stays an ASCII report as mox does: message/delivery-status with utf-8-addr-xtext
   * addresses, text and returned headers base64 with charset=utf-8, headers only (no RET=FULL).
   */
  smtputf8?: boolean;
}

function base64Lines(b: Buffer): string {
  return (b.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function defaultStatus(action: Action): string {
  return action === 'failed' ? '5.0.0' : action === 'delayed' ? '4.0.0' : '2.0.0';
}

/**
 * Folds "Name: value" at spaces so lines stay within 78 characters where possible. The break goes
 * before the last whitespace character of a run, so unfolding (removing CRLF) gives the value back.
 */
export function foldField(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= LINE) return line;
  const out: string[] = [];
  let rest = line;
  let first = true;
  while (rest.length > LINE) {
    const limit = LINE;
    let cut = -1;
    for (let i = Math.min(limit, rest.length - 1); i > (first ? name.length + 2 : 1); i--) {
      if ((rest[i] === ' ' || rest[i] === '\t') && rest[i + 1] !== ' ' && rest[i + 1] !== '\t' && rest[i + 1] !== undefined) {
        cut = i;
        break;
      }
    }
    if (cut < 0) {
      // No space before the limit: break at the first usable one after it.
      for (let i = limit + 1; i < rest.length - 1; i++) {
        if ((rest[i] === ' ' || rest[i] === '\t') && rest[i + 1] !== ' ' && rest[i + 1] !== '\t') {
          cut = i;
          break;
        }
      }
    }
    if (cut < 0) break;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
    first = false;
  }
  out.push(rest);
  return out.join('\r\n');
}

function mtaValue(m: MTAName): string {
  return `dns; ${m.name}${m.ip ? ` (${m.ip})` : ''}`;
}

/** "rfc822; a@b" for ASCII, rfc6533 "utf-8; …" otherwise (raw UTF-8 in a global report, else encoded). */
function addressValue(addr: string, global: boolean): string {
  if (isAscii(addr)) return `rfc822; ${addr}`;
  return `utf-8; ${encodeUtf8AddrXtext(addr, global)}`;
}

/** Original-Recipient: ORCPT is xtext on the wire; we write the decoded address, xtext-encoding only
 * characters not allowed in a field (rfc3464:2.3.1 "original-recipient-field"). An address type
 * other than rfc822/utf-8 given with the ORCPT is kept (its value xtext-encoded only when it holds
 * blanks, controls or non-ASCII). */
function origRecipientValue(addr: string, global: boolean, type?: string): string {
  if (type && !/^(?:rfc822|utf-8)$/i.test(type)) return `${type}; ${/[^\x21-\x7e]/.test(addr) ? encodeXtext(addr) : addr}`;
  if (isAscii(addr)) return `rfc822; ${/[\s+=]/.test(addr) ? encodeXtext(addr) : addr}`;
  return `utf-8; ${encodeUtf8AddrXtext(addr, global)}`;
}

/**
 * The ORCPT as the queue stores it ("rfc822;addr", "utf-8;addr" with the address decoded, see
 * smtp/parse.ts parseOrcpt) or a bare address: the address and its type, if any.
 */
function splitOrcpt(v: string): { type?: string; address: string } {
  const t = splitTyped(v);
  if (!t.type) return { address: v };
  return { type: t.type, address: t.type === 'utf-8' ? decodeUtf8AddrXtext(t.value) : t.value };
}

function wrapText(s: string, width = 76): string {
  const out: string[] = [];
  for (const para of s.split('\n')) {
    if (para.length <= width) {
      out.push(para);
      continue;
    }
    const indent = /^\s*/.exec(para)![0];
    let line = '';
    for (const w of para.trim().split(/\s+/)) {
      if (line && (indent + line + ' ' + w).length > width) {
        out.push(indent + line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    if (line) out.push(indent + line);
  }
  return out.join('\n');
}

function describeDate(d: Date): string {
  return formatRfc5322Date(d).replace(' +0000', ' UTC');
}

/** The human-readable first part: what happened, for whom, the remote reply, whether we retry. */
export function humanText(input: DsnInput, originalSubject: string | undefined): string {
  const lines: string[] = [];
  const by = (a: Action) => input.recipients.filter((r) => r.action === a);
  const subj = originalSubject ? ` with subject "${originalSubject}"` : '';
  const when = input.arrivalDate ? `, received ${describeDate(input.arrivalDate)},` : '';
  lines.push(`This is the mail system at ${input.hostname}.`, '');
  const failed = by('failed');
  const delayed = by('delayed');
  const ok = [...by('delivered'), ...by('relayed'), ...by('expanded')];
  if (failed.length) {
    const n = input.recipients.length;
    lines.push(
      failed.length === n
        ? `Your message${subj}${when} could not be delivered to the following recipient${n > 1 ? 's' : ''}. This is a permanent error; we will not try again.`
        : `Your message${subj}${when} could not be delivered to ${failed.length} of its ${n} recipients. For those this is a permanent error; the details for each recipient follow.${delayed.length ? ' Delivery to the others is delayed and we are still trying.' : ''}`,
      '',
    );
  } else if (delayed.length) {
    lines.push(`Your message${subj}${when} has not yet been delivered to the following recipient${delayed.length > 1 ? 's' : ''}. We are still trying; you do not need to send it again.`, '');
  } else if (ok.length) {
    lines.push(`This is a delivery report for your message${subj}${when}.`, '');
  }
  for (const r of input.recipients) {
    const what =
      r.action === 'failed'
        ? 'delivery failed'
        : r.action === 'delayed'
          ? 'delivery delayed'
          : r.action === 'delivered'
            ? 'delivered to the recipient'
            : r.action === 'relayed'
              ? 'relayed to a system that does not send delivery reports'
              : 'delivered to a mailing list or alias, which expanded it';
    lines.push(`Recipient: ${r.finalRecipient}`);
    if (r.originalRecipient && r.originalRecipient !== r.finalRecipient) lines.push(`  (originally addressed to ${r.originalRecipient})`);
    lines.push(`  Result: ${what}`);
    const st = r.status ?? defaultStatus(r.action);
    lines.push(`  Status: ${st}${r.statusComment ? ` (${r.statusComment})` : ''}`);
    if (r.remoteMTA) lines.push(`  Remote server: ${r.remoteMTA.name}${r.remoteMTA.ip ? ` [${r.remoteMTA.ip}]` : ''}`);
    if (r.diagnosticCode) lines.push(`  The remote server replied: ${r.diagnosticCode}`);
    if (r.lastAttemptDate) lines.push(`  Last attempt: ${describeDate(r.lastAttemptDate)}`);
    if (r.action === 'delayed') {
      lines.push(r.willRetryUntil ? `  We will keep trying until ${describeDate(r.willRetryUntil)}; if delivery still fails by then you will get another message.` : '  We will keep trying; if delivery fails for good you will get another message.');
    } else if (r.action === 'failed') lines.push('  We will not try again.');
    lines.push('');
  }
  if (input.original) lines.push(input.ret === 'FULL' ? 'Your original message is attached.' : 'The headers of your original message are attached.');
  return wrapText(lines.join('\n'));
}

function crlf(s: string): string {
  return s.replace(/\r?\n/g, '\r\n');
}

/** Normalises line endings of bytes to CRLF. */
function crlfBytes(b: Buffer): Buffer {
  const s = b.toString('latin1').replace(/\r?\n|\r/g, '\r\n');
  return Buffer.from(s, 'latin1');
}

function has8bit(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return true;
  return false;
}

function headerOf(original: Buffer): Buffer {
  let end = original.indexOf('\r\n\r\n');
  let endLF = original.indexOf('\n\n');
  if (end < 0 && endLF < 0) return original;
  if (end < 0 || (endLF >= 0 && endLF < end)) return original.subarray(0, endLF + 1);
  return original.subarray(0, end + 2);
}

function encodeSubject(s: string): string {
  if (isAscii(s)) return s;
  return libmime.encodeWords(s, 'Q', 52, false);
}

/**
 * Composes a DSN. Output: a complete message with CRLF line endings. The caller sends it with a
 * null reverse path (rfc5321:4.5.5) and decides whether the receiver supports SMTPUTF8 when the
 * report is a global (UTF-8) one.
 */
export function composeDsn(input: DsnInput): Buffer {
  // Original-Recipient may come as "type;address" (an ORCPT); the text and the field use the address.
  const origTypes = new Map<DsnRecipient, string | undefined>();
  input = {
    ...input,
    recipients: input.recipients.map((r) => {
      if (r.originalRecipient === undefined) return r;
      const o = splitOrcpt(r.originalRecipient);
      const nr = { ...r, originalRecipient: o.address };
      origTypes.set(nr, o.type);
      return nr;
    }),
  };
  const date = input.date ?? new Date();
  const original = input.original ? crlfBytes(input.original) : undefined;
  const origHeaderBytes = original ? headerOf(original) : undefined;
  const origHeader = origHeaderBytes ? parseHeader(origHeaderBytes) : undefined;
  const origSubjectRaw = origHeader?.get('subject');
  const origSubject = origSubjectRaw !== undefined ? decodeHeaderValue(origSubjectRaw) : undefined;
  const originalMessageID = input.originalMessageID ?? /<[^<>\s]+>/.exec(origHeader?.get('message-id') ?? '')?.[0];
  const needUtf8 =
    input.recipients.some((r) => !isAscii(r.finalRecipient) || (r.originalRecipient !== undefined && !isAscii(r.originalRecipient))) ||
    (origHeaderBytes !== undefined && has8bit(origHeaderBytes)) ||
    !isAscii(input.to);
  const global = needUtf8 && input.smtputf8 !== false;
  const downgraded = needUtf8 && !global;
  const full = input.ret === 'FULL' && !downgraded && original !== undefined && original.length <= (input.maxFullSize ?? MAX_FULL_RETURN);

  let boundary = '';
  do boundary = `=_dsn_${randomBytes(12).toString('base64url')}`;
  while (original?.includes(boundary));

  const anyFailed = input.recipients.some((r) => r.action === 'failed');
  const anyDelayed = input.recipients.some((r) => r.action === 'delayed');
  const about = origSubject ?? input.recipients.map((r) => r.finalRecipient).join(', ');
  const subject = input.subject ?? `${anyFailed ? 'Delivery failure' : anyDelayed ? 'Delivery delayed' : 'Delivery report'}: ${about}`;

  const h: string[] = [];
  h.push(foldField('From', `<${input.from ?? `postmaster@${input.hostname}`}>`));
  h.push(foldField('To', `<${input.to}>`));
  h.push(foldField('Subject', encodeSubject(subject)));
  h.push(foldField('Message-ID', input.messageID ?? `<${randomBytes(16).toString('base64url')}@${input.hostname}>`));
  if (originalMessageID) {
    h.push(foldField('In-Reply-To', originalMessageID));
    h.push(foldField('References', originalMessageID));
  }
  h.push(`Date: ${formatRfc5322Date(date)}`);
  h.push('Auto-Submitted: auto-replied');
  h.push('MIME-Version: 1.0');
  h.push(`Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`);

  // Part 1: human-readable text.
  const text = input.text ?? humanText(input, origSubject);
  const text8 = !isAscii(text);
  const parts: Buffer[] = [];
  const textBody = `${crlf(text).replace(/(\r\n)*$/, '')}\r\n`;
  if (text8 && !global) {
    // Not a global report: keep the message 7bit.
    parts.push(Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(Buffer.from(textBody, 'utf8'))}\r\n`));
  } else {
    parts.push(Buffer.from(`Content-Type: text/plain; charset=${text8 ? 'utf-8' : 'us-ascii'}\r\nContent-Transfer-Encoding: ${text8 ? '8bit' : '7bit'}\r\n\r\n${textBody}`, 'utf8'));
  }

  // Part 2: the status fields.
  const f: string[] = [];
  if (input.originalEnvelopeID !== undefined) f.push(foldField('Original-Envelope-ID', encodeXtext(input.originalEnvelopeID)));
  f.push(foldField('Reporting-MTA', `dns; ${input.hostname}`));
  if (input.receivedFromMTA) f.push(foldField('Received-From-MTA', mtaValue(input.receivedFromMTA)));
  if (input.arrivalDate) f.push(`Arrival-Date: ${formatRfc5322Date(input.arrivalDate)}`);
  for (const r of input.recipients) {
    f.push('');
    if (r.originalRecipient !== undefined) f.push(foldField('Original-Recipient', origRecipientValue(r.originalRecipient, global, origTypes.get(r))));
    f.push(foldField('Final-Recipient', addressValue(r.finalRecipient, global)));
    f.push(`Action: ${r.action}`);
    f.push(foldField('Status', `${r.status ?? defaultStatus(r.action)}${r.statusComment ? ` (${r.statusComment.replace(/[()\\]/g, '\\$&')})` : ''}`));
    if (r.remoteMTA) f.push(foldField('Remote-MTA', mtaValue(r.remoteMTA)));
    if (r.diagnosticCode) f.push(foldField('Diagnostic-Code', `smtp; ${r.diagnosticCode.replace(/\r?\n/g, ' ')}`));
    if (r.lastAttemptDate) f.push(`Last-Attempt-Date: ${formatRfc5322Date(r.lastAttemptDate)}`);
    if (r.finalLogID) f.push(foldField('Final-Log-ID', r.finalLogID));
    if (r.willRetryUntil) f.push(`Will-Retry-Until: ${formatRfc5322Date(r.willRetryUntil)}`);
  }
  const statusType = global ? 'message/global-delivery-status' : 'message/delivery-status';
  parts.push(Buffer.from(`Content-Type: ${statusType}\r\nContent-Transfer-Encoding: ${global ? '8bit' : '7bit'}\r\n\r\n${f.join('\r\n')}\r\n`, 'utf8'));

  // Part 3: the returned message or its header.
  if (original && origHeaderBytes) {
    if (full) {
      const eight = has8bit(original);
      const type = global ? 'message/global' : 'message/rfc822';
      const body = original.subarray(0, original.length - (original.subarray(-2).toString() === '\r\n' ? 2 : 0));
      parts.push(Buffer.concat([Buffer.from(`Content-Type: ${type}\r\nContent-Transfer-Encoding: ${eight ? '8bit' : '7bit'}\r\n\r\n`), body, Buffer.from('\r\n')]));
    } else {
      const type = global ? 'message/global-headers' : 'text/rfc822-headers';
      const eight = has8bit(origHeaderBytes);
      let hb = origHeaderBytes;
      while (hb.length >= 2 && hb.subarray(-2).toString() === '\r\n') hb = hb.subarray(0, hb.length - 2);
      if (eight && !global) {
        parts.push(Buffer.from(`Content-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(Buffer.concat([hb, Buffer.from('\r\n\r\n')]))}\r\n`));
      } else {
        parts.push(Buffer.concat([Buffer.from(`Content-Type: ${type}\r\nContent-Transfer-Encoding: ${eight ? '8bit' : '7bit'}\r\n\r\n`), hb, Buffer.from('\r\n')]));
      }
    }
  }

  const chunks: Buffer[] = [Buffer.from(h.join('\r\n') + '\r\n\r\nThis is a MIME-encapsulated delivery status notification.\r\n', 'utf8')];
  for (const p of parts) chunks.push(Buffer.from(`\r\n--${boundary}\r\n`), p);
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
