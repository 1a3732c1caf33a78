// Parsing of delivery status notifications: rfc3464 (message/delivery-status), rfc6533
// (message/global-delivery-status, utf-8 address type), rfc6522 multipart/report. Lenient: the
// report may sit at any depth, have 2, 3 or other numbers of parts, wrong case, folded fields,
// comments, missing Status, missing blank lines between blocks. Never throws.

import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader, type Header } from '../message/header.js';
import { partBody, decodeText, decodeHeaderValue } from '../message/decode.js';
import { parseAddressList, isGroup } from '../message/address.js';
import { decodeAddressField, decodeXtext, findCodes, findEnhanced, parseDate, splitTyped, stripComments } from './fields.js';

/** One per-recipient block of a report (rfc3464:2.3). */
export interface DsnRecipientResult {
  /** The recipient address: Final-Recipient, else Original-Recipient, decoded (xtext/utf-8). */
  address: string;
  /** Action, lower-case; normally one of Action, real reports also hold e.g. "expired". */
  action: string;
  /** Enhanced status code (rfc3463). When the report has none: from the diagnostic, else 5.0.0 for
   * failed, 4.0.0 for delayed, 2.0.0 otherwise (as mox). */
  status: string;
  /** Comment after the Status code, if any. */
  statusComment?: string;
  /** SMTP reply code from the Diagnostic-Code. */
  smtpCode?: number;
  /** Enhanced code from the Diagnostic-Code, else from Status. */
  enhancedCode?: string;
  /** Diagnostic-Code text without its type ("550 5.1.1 no such user"), folding removed. */
  diagnostic?: string;
  /** Diagnostic type, lower-case ("smtp", "x-postfix", …). */
  diagnosticType?: string;
  /** Remote-MTA name (type stripped) and the address in its comment, if any. */
  remoteMTA?: string;
  remoteIP?: string;
  /** Final-Recipient address (decoded) and its address type ("rfc822", "utf-8"). */
  finalRecipient: string;
  finalRecipientType?: string;
  originalRecipient?: string;
  originalRecipientType?: string;
  lastAttemptDate?: Date;
  willRetryUntil?: Date;
  finalLogID?: string;
  /** All fields of the block, lower-case names, unfolded values (last one wins). */
  fields: Record<string, string>;
}

/** A parsed delivery status notification. */
export interface ParsedDsn {
  /** Reporting-MTA name (type stripped). */
  reportingMTA?: string;
  /** Original-Envelope-ID (rfc3461 ENVID), xtext decoded. */
  envelopeID?: string;
  dsnGateway?: string;
  /** Received-From-MTA name and the comment (often the IP). */
  receivedFromMTA?: string;
  receivedFromMTAComment?: string;
  arrivalDate?: Date;
  /** Per-message fields, lower-case names. */
  messageFields: Record<string, string>;
  recipients: DsnRecipientResult[];
  /** Message-ID of the original, from the returned headers/message. */
  originalMessageID?: string;
  /** Returned headers of the original (text/rfc822-headers, message/global-headers, or the header
   * of a returned message/rfc822 / message/global). */
  returnedHeaders?: Header;
  /** The status part was message/global-delivery-status (rfc6533). */
  utf8: boolean;
  /** Media type of the returned part ("text/rfc822-headers", "message/rfc822", …). */
  returnedType?: string;
  /** The report's own header fields, decoded. */
  subject?: string;
  from?: string;
  to?: string;
  /** Text of the human-readable part, LF line endings. */
  textBody?: string;
  /** Problems found while parsing (the report was still usable). */
  errors: string[];
}

/** Lower-case "type/subtype". */
export function mediaOf(p: Part): string {
  return `${p.mediaType}/${p.mediaSubType}`.toLowerCase();
}

/** Visits parts depth-first (children and embedded messages), parents before children. */
export function walkParts(p: Part, visit: (p: Part, parent: Part | undefined) => boolean | void, parent?: Part): boolean {
  if (visit(p, parent) === true) return true;
  for (const c of p.parts) if (walkParts(c, visit, p)) return true;
  if (p.message && walkParts(p.message, visit, p)) return true;
  return false;
}

const STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status', 'text/delivery-status']);
const RETURNED_TYPES = new Set(['text/rfc822-headers', 'message/global-headers', 'message/rfc822', 'message/global', 'text/rfc822-header']);

/** Text of a part's transfer-decoded body with its charset (UTF-8 for global types). */
export function partText(buf: Buffer, p: Part): string {
  try {
    const body = partBody(buf, p);
    const t = mediaOf(p);
    if (t.startsWith('message/global') || !p.contentTypeParams['charset']) {
      const s = body.toString('utf8');
      if (!s.includes('\ufffd')) return s;
      return body.toString('latin1');
    }
    return decodeText(p, body);
  } catch {
    return '';
  }
}

interface Field {
  key: string;
  value: string;
}

/** Splits a status body into blocks of fields (rfc3464:2.1), unfolding continuation lines. */
function fieldBlocks(text: string): Field[][] {
  const lines = text.split(/\r\n|\r|\n/);
  const blocks: Field[][] = [];
  let cur: Field[] = [];
  for (const line of lines) {
    if (line.trim() === '') {
      if (cur.length) blocks.push(cur);
      cur = [];
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && cur.length) {
      // Unfold (rfc5322:2.2.3): remove the line break. Indentation of more than one character is
      // layout, not content, and becomes one space.
      const last = cur[cur.length - 1]!;
      last.value += /^[ \t][^ \t]/.test(line) ? line : ' ' + line.trimStart();
      continue;
    }
    const m = /^([!-9;-~]+)\s*:(.*)$/.exec(line);
    if (!m) continue;
    cur.push({ key: m[1]!.toLowerCase(), value: m[2]!.trimStart() });
  }
  if (cur.length) blocks.push(cur);
  for (const b of blocks) for (const f of b) f.value = f.value.trim();
  return blocks;
}

const RECIPIENT_FIELDS = new Set([
  'original-recipient',
  'final-recipient',
  'action',
  'status',
  'remote-mta',
  'diagnostic-code',
  'last-attempt-date',
  'final-log-id',
  'will-retry-until',
  'x-actual-recipient',
  'x-display-name',
]);
const MESSAGE_FIELDS = new Set(['original-envelope-id', 'reporting-mta', 'dsn-gateway', 'received-from-mta', 'arrival-date', 'x-postfix-queue-id', 'x-postfix-sender', 'x-original-message-id']);

/** Parses the body of a message/(global-)delivery-status part. */
export function parseDeliveryStatus(text: string): { messageFields: Record<string, string>; blocks: Record<string, string>[]; errors: string[] } {
  const errors: string[] = [];
  const messageFields: Record<string, string> = {};
  const recips: Record<string, string>[] = [];
  let cur: Record<string, string> | undefined;
  const blocks = fieldBlocks(text);
  for (let bi = 0; bi < blocks.length; bi++) {
    const block = blocks[bi]!;
    const hasAddr = block.some((f) => f.key === 'final-recipient' || f.key === 'original-recipient');
    const hasRecipField = block.some((f) => RECIPIENT_FIELDS.has(f.key));
    if (bi > 0 && hasRecipField && (hasAddr || !cur)) cur = undefined; // new block starts a recipient
    for (const f of block) {
      if (RECIPIENT_FIELDS.has(f.key)) {
        // A field already present in this recipient starts the next one (missing blank line).
        if (cur && cur[f.key] !== undefined) cur = undefined;
        if (!cur) {
          if (bi === 0 && recips.length === 0) errors.push('recipient fields in the per-message block');
          cur = {};
          recips.push(cur);
        }
        cur[f.key] = f.value;
      } else if (MESSAGE_FIELDS.has(f.key) || !cur) {
        if (messageFields[f.key] === undefined) messageFields[f.key] = f.value;
      } else {
        cur[f.key] = f.value;
      }
    }
  }
  return { messageFields, blocks: recips, errors };
}

function defaultStatus(action: string): string {
  if (action === 'delayed') return '4.0.0';
  if (action === 'failed') return '5.0.0';
  return '2.0.0';
}

/** Turns one recipient field block into a result; undefined if it names no recipient at all. */
export function recipientFromFields(f: Record<string, string>, errors: string[]): DsnRecipientResult | undefined {
  const fin = f['final-recipient'] !== undefined ? decodeAddressField(f['final-recipient']) : undefined;
  const orig = f['original-recipient'] !== undefined ? decodeAddressField(f['original-recipient'], true) : undefined;
  const finalRecipient = fin?.address || orig?.address || (f['x-actual-recipient'] ? decodeAddressField(f['x-actual-recipient']).address : '');
  if (!finalRecipient) {
    errors.push('recipient block without Final-Recipient');
    return undefined;
  }
  if (!fin) errors.push('missing Final-Recipient');
  let action = stripComments(f['action'] ?? '').text.toLowerCase();
  if (!action) errors.push('missing Action');
  const r: DsnRecipientResult = { address: finalRecipient, action, status: '', finalRecipient, fields: f };
  if (fin) r.finalRecipientType = fin.type;
  if (orig?.address) {
    r.originalRecipient = orig.address;
    r.originalRecipientType = orig.type;
  }
  if (f['diagnostic-code'] !== undefined) {
    const { type, value } = splitTyped(f['diagnostic-code']);
    r.diagnostic = value;
    if (type) r.diagnosticType = type;
    if (value) {
      const c = findCodes(value);
      if (c.smtpCode !== undefined) r.smtpCode = c.smtpCode;
      if (c.enhancedCode !== undefined) r.enhancedCode = c.enhancedCode;
    }
  }
  const st = f['status'] !== undefined ? stripComments(f['status']) : undefined;
  const stCode = st ? findEnhanced(st.text) : undefined;
  if (st && st.comments.length) r.statusComment = st.comments.join(' ');
  if (!stCode) errors.push(st ? `unparsable Status ${JSON.stringify(f['status'])}` : 'missing Status');
  if (!action) {
    const cls = (stCode ?? r.enhancedCode ?? '')[0] ?? (r.smtpCode ? String(r.smtpCode)[0] : '');
    action = cls === '4' ? 'delayed' : cls === '2' ? 'delivered' : 'failed';
    r.action = action;
  }
  r.status = stCode ?? r.enhancedCode ?? defaultStatus(action);
  if (r.enhancedCode === undefined && stCode) r.enhancedCode = stCode;
  if (f['remote-mta'] !== undefined) {
    const { value } = splitTyped(f['remote-mta']);
    const sc = stripComments(value);
    if (sc.text) r.remoteMTA = sc.text.replace(/^\[|\]$/g, '');
    const ip = sc.comments.find((c) => /^\[?(?:IPv6:)?[0-9A-Fa-f:.]+\]?$/.test(c));
    if (ip) r.remoteIP = ip.replace(/^\[|\]$/g, '').replace(/^IPv6:/i, '');
    else if (r.remoteMTA && /^(?:\d{1,3}\.){3}\d{1,3}$/.test(r.remoteMTA)) r.remoteIP = r.remoteMTA;
  }
  const la = parseDate(f['last-attempt-date']);
  if (la) r.lastAttemptDate = la;
  const wr = parseDate(f['will-retry-until']);
  if (wr) r.willRetryUntil = wr;
  if (f['final-log-id'] !== undefined) r.finalLogID = f['final-log-id'];
  return r;
}

function singleAddress(h: Header, name: string): string | undefined {
  const v = h.get(name);
  if (v === undefined) return undefined;
  const l = parseAddressList(v).flatMap((a) => (isGroup(a) ? a.addresses : [a]));
  if (l.length !== 1) return undefined;
  const a = l[0]!;
  if (!a.mailbox) return undefined;
  return a.host ? `${a.mailbox}@${a.host}` : a.mailbox;
}

/** First Message-ID in a header value, with angle brackets. */
export function messageIDOf(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const m = /<[^<>\s]+>/.exec(v);
  if (m) return m[0];
  const t = v.trim();
  return t ? t : undefined;
}

/**
 * Finds a delivery status report in a parsed message (at any depth) and decodes it. Returns
 * undefined when the message has no (global-)delivery-status part.
 */
export function parseDsnParts(buf: Buffer, root: Part): ParsedDsn | undefined {
  let status: Part | undefined;
  let container: Part | undefined;
  walkParts(root, (p, parent) => {
    if (STATUS_TYPES.has(mediaOf(p))) {
      status = p;
      container = parent;
      return true;
    }
    return false;
  });
  if (!status) return undefined;
  const errors: string[] = [];
  const st = status;
  const utf8 = mediaOf(st) === 'message/global-delivery-status';
  const parsed = parseDeliveryStatus(partText(buf, st));
  errors.push(...parsed.errors);
  const res: ParsedDsn = { messageFields: parsed.messageFields, recipients: [], utf8, errors };
  const mf = parsed.messageFields;
  if (mf['reporting-mta'] !== undefined) res.reportingMTA = stripComments(splitTyped(mf['reporting-mta']).value).text;
  else errors.push('missing Reporting-MTA');
  if (mf['original-envelope-id'] !== undefined && mf['original-envelope-id'].trim()) res.envelopeID = decodeXtext(mf['original-envelope-id'].trim());
  if (mf['dsn-gateway'] !== undefined) res.dsnGateway = stripComments(splitTyped(mf['dsn-gateway']).value).text;
  if (mf['received-from-mta'] !== undefined) {
    const sc = stripComments(splitTyped(mf['received-from-mta']).value);
    res.receivedFromMTA = sc.text;
    if (sc.comments.length) res.receivedFromMTAComment = sc.comments.join(' ');
  }
  const ad = parseDate(mf['arrival-date']);
  if (ad) res.arrivalDate = ad;
  for (const b of parsed.blocks) {
    const r = recipientFromFields(b, errors);
    if (r) res.recipients.push(r);
  }
  if (res.recipients.length === 0) errors.push('no recipient blocks');

  // The container's other parts: human text before, returned content after.
  const siblings = container && container.mediaType === 'MULTIPART' ? container.parts : [];
  if (container && mediaOf(container) !== 'multipart/report') errors.push(`status part inside ${mediaOf(container)}`);
  const idx = siblings.indexOf(st);
  for (let i = 0; i < siblings.length; i++) {
    const p = siblings[i]!;
    const t = mediaOf(p);
    if (i < idx && res.textBody === undefined) {
      const text = humanText(buf, p);
      if (text !== undefined) res.textBody = text;
    }
    if (i > idx && res.returnedHeaders === undefined && RETURNED_TYPES.has(t)) {
      res.returnedType = t;
      if (p.message) {
        res.returnedHeaders = parseHeader(buf.subarray(p.message.headerOffset, p.message.bodyOffset));
      } else {
        res.returnedHeaders = parseHeader(partBody(buf, p));
      }
    }
  }
  if (res.returnedHeaders === undefined && siblings.length > idx + 1) {
    // A returned part with a wrong type: accept it when it looks like a header block.
    const p = siblings[idx + 1]!;
    const h = p.message ? parseHeader(buf.subarray(p.message.headerOffset, p.message.bodyOffset)) : parseHeader(partBody(buf, p));
    if (h.has('message-id') || (h.has('from') && h.has('to'))) {
      res.returnedHeaders = h;
      res.returnedType = mediaOf(p);
    }
  }
  const mid = messageIDOf(res.returnedHeaders?.get('message-id')) ?? messageIDOf(mf['x-original-message-id']);
  if (mid) res.originalMessageID = mid;

  // The report's own header (of the message that holds the report).
  const top = parseHeader(buf.subarray(root.headerOffset, root.bodyOffset));
  const subj = top.get('subject');
  if (subj !== undefined) res.subject = decodeHeaderValue(subj);
  const from = singleAddress(top, 'from');
  if (from) res.from = from;
  const to = singleAddress(top, 'to');
  if (to) res.to = to;
  return res;
}

/** Human-readable text of a part (text/plain, or text/html made plain, or the first of an alternative). */
function humanText(buf: Buffer, p: Part): string | undefined {
  const t = mediaOf(p);
  if (t === 'text/plain') return partText(buf, p).replace(/\r\n?/g, '\n');
  if (p.mediaType === 'MULTIPART') {
    for (const c of p.parts) {
      const s = humanText(buf, c);
      if (s !== undefined) return s;
    }
  }
  return undefined;
}

/**
 * Parses a message as an rfc3464 delivery status notification. Returns undefined when it holds no
 * (global-)delivery-status part; otherwise the result, with `errors` listing deviations. Never throws.
 */
export function parseDsn(message: Buffer): ParsedDsn | undefined {
  try {
    const root = parseBuffer(message);
    return parseDsnParts(message, root);
  } catch {
    return undefined;
  }
}
