// Message composition for webapi Send (mox's layout): rfc5322 header fields with folding
// (rfc5322:2.2.3), rfc2047 encoded words for non-ASCII display names and subjects, rfc2231
// parameters for non-ASCII file names, rfc2045:6.7 quoted-printable and rfc2045:6.8 base64 bodies,
// rfc2046:5.1 multiparts with CRLF line endings. Layout, outermost first, each level only when
// needed: multipart/mixed (attached files) › multipart/related (inline files) ›
// multipart/alternative (text and html, alternative files) › text/plain, text/html.
//
// Written here instead of using nodemailer's MailComposer: that puts multipart/related inside the
// alternative (around the HTML only), not mox's layout, and nodemailer is a test-only dependency.

import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import { formatRfc5322Date } from './date.js';

/** rfc5322:2.1.1 lines should be at most 78 characters; we fold header fields at this length. */
const FOLD_AT = 78;
/** rfc2045:6.7 (5) and 6.8: encoded lines at most 76 characters. */
const ENCODED_LINE = 76;
/** Lines longer than this are not sent as 7bit (rfc5322:2.1.1 limit of 998 with margin as mox: 78 for niceness is not required). */
const MAX_7BIT_LINE = 998;

export class ComposeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeError';
  }
}

export interface ComposeAddress {
  name?: string;
  /** localpart@domain; the localpart may be UTF-8 (then the message needs SMTPUTF8). */
  address: string;
}

export interface ComposeFile {
  name?: string;
  /** Empty: sniffed from the data, else by file name, else application/octet-stream. */
  contentType?: string;
  contentId?: string;
  data: Buffer;
}

export interface ComposeInput {
  from: ComposeAddress;
  to?: ComposeAddress[];
  cc?: ComposeAddress[];
  replyTo?: ComposeAddress[];
  /** With <>. */
  messageId: string;
  references?: string[];
  date: Date;
  subject?: string;
  text?: string;
  html?: string;
  /** Extra header fields [name, value], written after the standard ones. */
  headers?: Array<[string, string]>;
  /** Added as User-Agent unless headers has a User-Agent or X-Mailer. */
  userAgent?: string;
  alternativeFiles?: ComposeFile[];
  inlineFiles?: ComposeFile[];
  attachedFiles?: ComposeFile[];
}

export interface Composed {
  message: Buffer;
  /** Any byte ≥ 0x80 (8BITMIME needed). */
  has8bit: boolean;
  /** A UTF-8 address or header (SMTPUTF8 needed). */
  smtputf8: boolean;
}

/** Header field names we write ourselves; custom Headers may not repeat them. */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'date', 'message-id', 'in-reply-to', 'references', 'mime-version',
  'content-type', 'content-transfer-encoding', 'content-disposition', 'content-id',
]);

const isAscii = (s: string) => !/[^\x00-\x7f]/.test(s);

/** rfc5322:2.2 field name: printable ASCII except colon. */
const FIELD_NAME = /^[!-9;-~]+$/;

/** Refuse control characters (line breaks would inject header fields). Tab is allowed in values. */
export function checkNoControl(what: string, s: string, allowTab = false): void {
  // eslint-disable-next-line no-control-regex
  if ((allowTab ? /[\x00-\x08\x0a-\x1f\x7f]/ : /[\x00-\x1f\x7f]/).test(s)) throw new ComposeError(`${what}: control characters not allowed`);
}

/** Fold "Name: value" before whitespace so each line stays within FOLD_AT where possible (rfc5322:2.2.3). */
export function foldHeader(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_AT) return line + '\r\n';
  const out: string[] = [];
  let rest = line;
  let min = name.length + 2;
  while (rest.length > FOLD_AT) {
    let cut = -1;
    for (let i = Math.min(FOLD_AT, rest.length - 1); i > min; i--) {
      if ((rest[i] === ' ' || rest[i] === '\t') && rest[i - 1] !== ' ' && rest[i - 1] !== '\t') {
        cut = i;
        break;
      }
    }
    if (cut < 0) {
      for (let i = FOLD_AT + 1; i < rest.length; i++) {
        if ((rest[i] === ' ' || rest[i] === '\t') && rest[i - 1] !== ' ' && rest[i - 1] !== '\t') {
          cut = i;
          break;
        }
      }
    }
    if (cut < 0) break;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
    min = 1;
  }
  out.push(rest);
  return out.join('\r\n') + '\r\n';
}

/** Encode a header text (subject, display name) as rfc2047 encoded words when not ASCII. */
function encodeText(s: string, all = false): string {
  if (isAscii(s)) return s;
  return all ? libmime.encodeWord(s, 'Q', 52) : libmime.encodeWords(s, 'Q', 52);
}

/** rfc5322:3.2.3 atext, plus "." and space: a phrase that needs no quoting. */
const PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~. ]*$/;

function formatDisplayName(name: string): string {
  if (!isAscii(name)) return encodeText(name, true);
  if (PHRASE.test(name) && !/^\.|\.$|\.\./.test(name)) return name;
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

export function formatAddress(a: ComposeAddress): string {
  checkNoControl('address', a.address);
  const name = a.name ?? '';
  checkNoControl('display name', name);
  return name ? `${formatDisplayName(name)} <${a.address}>` : `<${a.address}>`;
}

function addressHeader(name: string, list: ComposeAddress[] | undefined): string {
  if (!list?.length) return '';
  return foldHeader(name, list.map(formatAddress).join(', '));
}

/** rfc2045:6.7 quoted-printable of bytes whose line breaks are CRLF (kept as hard breaks). */
export function encodeQuotedPrintable(buf: Buffer): string {
  const out: string[] = [];
  let line = '';
  const flush = (soft: boolean) => {
    out.push(line + (soft ? '=\r\n' : '\r\n'));
    line = '';
  };
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === 13 && buf[i + 1] === 10) {
      // rfc2045:6.7 (3): whitespace at the end of a line must be encoded.
      const last = line.charCodeAt(line.length - 1);
      if (last === 32 || last === 9) line = line.slice(0, -1) + (last === 32 ? '=20' : '=09');
      flush(false);
      i++;
      continue;
    }
    const lit = (b >= 33 && b <= 126 && b !== 61) || b === 32 || b === 9;
    const enc = lit ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line.length + enc.length > ENCODED_LINE - 1) flush(true);
    line += enc;
  }
  if (line) {
    const last = line.charCodeAt(line.length - 1);
    if (last === 32 || last === 9) line = line.slice(0, -1) + (last === 32 ? '=20' : '=09');
    out.push(line);
  }
  return out.join('');
}

/** Base64 in 76-character lines, each ending in CRLF. */
export function encodeBase64Lines(buf: Buffer): string {
  const s = buf.toString('base64');
  let out = '';
  for (let i = 0; i < s.length; i += ENCODED_LINE) out += s.slice(i, i + ENCODED_LINE) + '\r\n';
  return out;
}

/** "\n" or "\r\n" or lone "\r" → CRLF. */
function crlf(s: string): string {
  return s.replace(/\r\n|\r|\n/g, '\r\n');
}

interface Leaf {
  headers: string;
  body: string;
}

/** A text part: us-ascii 7bit when possible, else quoted-printable (or base64 for mostly non-ASCII). */
function textLeaf(subtype: 'plain' | 'html', text: string): Leaf {
  const t = crlf(text);
  const body = t.endsWith('\r\n') ? t : t + '\r\n';
  const ascii = isAscii(body);
  const longest = body.split('\r\n').reduce((m, l) => Math.max(m, l.length), 0);
  const charset = ascii ? 'us-ascii' : 'utf-8';
  if (ascii && longest <= MAX_7BIT_LINE && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(body) && !/\r(?!\n)|(?<!\r)\n/.test(body)) {
    return { headers: `Content-Type: text/${subtype}; charset=${charset}\r\nContent-Transfer-Encoding: 7bit\r\n`, body };
  }
  const bytes = Buffer.from(body, 'utf8');
  let nonAscii = 0;
  for (const b of bytes) if (b >= 0x80) nonAscii++;
  if (nonAscii * 3 > bytes.length) {
    return { headers: `Content-Type: text/${subtype}; charset=${charset}\r\nContent-Transfer-Encoding: base64\r\n`, body: encodeBase64Lines(bytes) };
  }
  return { headers: `Content-Type: text/${subtype}; charset=${charset}\r\nContent-Transfer-Encoding: quoted-printable\r\n`, body: encodeQuotedPrintable(bytes) };
}

/** Content type from the first bytes (the common formats), then the file name; octet-stream otherwise. */
export function sniffContentType(data: Buffer, name: string): string {
  const head = data.subarray(0, 512);
  const starts = (sig: number[] | string, at = 0) =>
    typeof sig === 'string' ? head.subarray(at, at + sig.length).toString('latin1') === sig : sig.every((b, i) => head[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts('GIF87a') || starts('GIF89a')) return 'image/gif';
  if (starts('RIFF') && starts('WEBP', 8)) return 'image/webp';
  if (starts('%PDF-')) return 'application/pdf';
  if (starts([0x50, 0x4b, 0x03, 0x04])) return name ? libmime.detectMimeType(name) || 'application/zip' : 'application/zip';
  if (starts([0x1f, 0x8b, 0x08])) return 'application/gzip';
  const byName = name ? libmime.detectMimeType(name) : '';
  if (byName && byName !== 'application/octet-stream') return byName;
  const lead = head.toString('latin1').trimStart().slice(0, 14).toLowerCase();
  // eslint-disable-next-line no-control-regex
  const binary = /[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]/.test(head.toString('latin1'));
  if (!binary && (lead.startsWith('<!doctype html') || lead.startsWith('<html'))) return 'text/html; charset=utf-8';
  if (!binary && head.length) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function fileLeaf(f: ComposeFile, disposition: 'inline' | 'attachment'): Leaf {
  const name = f.name ?? '';
  checkNoControl('file name', name);
  const ct = f.contentType || sniffContentType(f.data, name);
  checkNoControl('content type', ct);
  if (!/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$/.test(ct)) throw new ComposeError(`invalid content type ${JSON.stringify(ct)}`);
  let h = foldHeader('Content-Type', ct);
  if (f.contentId) {
    checkNoControl('content id', f.contentId);
    h += foldHeader('Content-ID', f.contentId);
  }
  let cd = disposition;
  if (name) {
    if (isAscii(name)) cd += `; filename="${name.replace(/["\\]/g, '\\$&')}"`;
    else for (const p of libmime.buildHeaderParam('filename', name, 50)) cd += `; ${p.key}=${/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(p.value) ? p.value : `"${p.value}"`}`;
  }
  h += foldHeader('Content-Disposition', cd);
  h += 'Content-Transfer-Encoding: base64\r\n';
  return { headers: h, body: encodeBase64Lines(f.data) };
}

function newBoundary(avoid: string[]): string {
  for (;;) {
    const b = `=_moxts_${randomBytes(18).toString('base64url')}`;
    if (!avoid.some((s) => s.includes(b))) return b;
  }
}

/** A multipart of the children; 7bit text bodies are checked not to contain the boundary. */
function multipart(subtype: string, children: Leaf[]): Leaf {
  const boundary = newBoundary(children.map((c) => c.body));
  // rfc2046:5.1.1: the CRLF before a delimiter belongs to the delimiter, so each part's own final
  // line break is kept by writing another one (as Go's multipart writer, which mox uses).
  let body = '';
  children.forEach((c, i) => (body += `${i ? '\r\n' : ''}--${boundary}\r\n${c.headers}\r\n${c.body}`));
  body += `\r\n--${boundary}--\r\n`;
  return { headers: `Content-Type: multipart/${subtype};\r\n\tboundary="${boundary}"\r\n`, body };
}

/** Compose the message. Throws ComposeError for unusable input (control characters, bad header names). */
export function composeMessage(input: ComposeInput): Composed {
  if (!input.text && !input.html && !input.alternativeFiles?.length) throw new ComposeError('message needs text or html');
  let h = '';
  h += addressHeader('From', [input.from]);
  h += addressHeader('To', input.to);
  h += addressHeader('Cc', input.cc);
  h += addressHeader('Reply-To', input.replyTo);
  if (input.subject) {
    checkNoControl('subject', input.subject, true);
    h += foldHeader('Subject', encodeText(input.subject));
  }
  h += `Date: ${formatRfc5322Date(input.date)}\r\n`;
  checkNoControl('message-id', input.messageId);
  h += foldHeader('Message-ID', input.messageId);
  const refs = input.references ?? [];
  for (const r of refs) checkNoControl('references', r);
  if (refs.length) {
    h += foldHeader('In-Reply-To', refs[refs.length - 1]!);
    h += foldHeader('References', refs.join(' '));
  }
  let agent = false;
  for (const [name, value] of input.headers ?? []) {
    if (!FIELD_NAME.test(name)) throw new ComposeError(`invalid header name ${JSON.stringify(name)}`);
    checkNoControl(`header ${name}`, value, true);
    const k = name.toLowerCase();
    if (RESERVED_HEADERS.has(k)) throw new ComposeError(`header ${name} is set from the message fields, not through Headers`);
    if (k === 'user-agent' || k === 'x-mailer') agent = true;
    h += foldHeader(name, value);
  }
  if (!agent && input.userAgent) h += `User-Agent: ${input.userAgent}\r\n`;
  h += 'MIME-Version: 1.0\r\n';

  const alts: Leaf[] = [];
  if (input.text) alts.push(textLeaf('plain', input.text));
  if (input.html) alts.push(textLeaf('html', input.html));
  for (const f of input.alternativeFiles ?? []) alts.push(fileLeaf(f, 'inline'));
  let body = alts.length > 1 ? multipart('alternative', alts) : alts[0]!;
  if (input.inlineFiles?.length) body = multipart('related', [body, ...input.inlineFiles.map((f) => fileLeaf(f, 'inline'))]);
  if (input.attachedFiles?.length) body = multipart('mixed', [body, ...input.attachedFiles.map((f) => fileLeaf(f, 'attachment'))]);

  const header = h + body.headers + '\r\n';
  const message = Buffer.from(header + body.body, 'utf8');
  const smtputf8 = !isAscii(header);
  return { message, has8bit: smtputf8, smtputf8 };
}
