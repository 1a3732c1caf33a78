// Abuse/complaint feedback reports: rfc5965 ARF (multipart/report; report-type=feedback-report with a
// message/feedback-report part and the original message or its headers), rfc6591 auth-failure
// reports (same format), plus the common non-ARF complaint shapes: Microsoft JMRP (Hotmail/Outlook,
// "complaint about message from <ip>" with X-HmXmrOriginalRecipient), Amazon SES "Complaint"
// notifications, and Apple's "unsubscribe" mails (X-Apple-Unsubscribe). Never throws.

import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader, type Header } from '../message/header.js';
import { decodeHeaderValue } from '../message/decode.js';
import { parseAddressList, isGroup } from '../message/address.js';
import { mediaOf, messageIDOf, partText, walkParts } from './parse.js';
import { cleanAddress, parseDate, stripComments } from './fields.js';

export interface ArfReport {
  /** "arf" for rfc5965 reports; "jmrp", "amazonses", "apple-unsubscribe" for the non-ARF shapes. */
  format: 'arf' | 'jmrp' | 'amazonses' | 'apple-unsubscribe';
  /** Feedback-Type, lower-case: abuse, fraud, virus, other, not-spam, auth-failure, opt-out, … */
  feedbackType: string;
  userAgent?: string;
  version?: string;
  /** The complainant: Original-Rcpt-To, else the returned message's To (may be redacted). */
  originalRcptTo?: string;
  originalMailFrom?: string;
  sourceIP?: string;
  arrivalDate?: Date;
  reportingMTA?: string;
  reportedDomain?: string[];
  reportedURI?: string[];
  authFailure?: string;
  /** Message-ID of the reported message. */
  originalMessageID?: string;
  originalSubject?: string;
  originalFrom?: string;
  /** All feedback-report fields, lower-case names (last wins; see `fieldsAll` for repeats). */
  fields: Record<string, string>;
  errors: string[];
}

function firstAddress(h: Header | undefined, name: string): string | undefined {
  if (!h) return undefined;
  const v = h.get(name);
  if (v === undefined) return undefined;
  for (const a of parseAddressList(v)) {
    for (const m of isGroup(a) ? a.addresses : [a]) {
      if (m.mailbox) return m.host ? `${m.mailbox}@${m.host}` : m.mailbox;
    }
  }
  const c = cleanAddress(v);
  return c || undefined;
}

/** Header of the reported message: an embedded message/rfc822 (or global) or text/rfc822-headers. */
function returnedHeader(buf: Buffer, root: Part): Header | undefined {
  let h: Header | undefined;
  walkParts(root, (p) => {
    if (p === root) return false;
    if (p.message) {
      h = parseHeader(buf.subarray(p.message.headerOffset, p.message.bodyOffset));
      return true;
    }
    const t = mediaOf(p);
    if (t === 'text/rfc822-headers' || t === 'text/rfc822-header' || t === 'message/global-headers') {
      h = parseHeader(Buffer.from(partText(buf, p), 'utf8'));
      return true;
    }
    return false;
  });
  return h;
}

function parseFields(text: string): { fields: Record<string, string>; all: Map<string, string[]> } {
  const h = parseHeader(Buffer.from(text.replace(/^\s+/, ''), 'utf8'));
  const fields: Record<string, string> = {};
  const all = new Map<string, string[]>();
  for (const f of h.fields) {
    if (!f.key) continue;
    fields[f.key] = f.value;
    const l = all.get(f.key) ?? [];
    l.push(f.value);
    all.set(f.key, l);
  }
  return { fields, all };
}

/** Parses a complaint/feedback report. Returns undefined when the message is not one. */
export function parseArf(message: Buffer): ArfReport | undefined {
  try {
    return parse(message);
  } catch {
    return undefined;
  }
}

function parse(buf: Buffer): ArfReport | undefined {
  const root = parseBuffer(buf);
  const top = parseHeader(buf.subarray(root.headerOffset, root.bodyOffset));
  let fb: Part | undefined;
  walkParts(root, (p) => {
    if (mediaOf(p) === 'message/feedback-report') {
      fb = p;
      return true;
    }
    return false;
  });
  const orig = returnedHeader(buf, root);
  const humanText = (): string => {
    let t = '';
    walkParts(root, (p) => {
      if (mediaOf(p) === 'text/plain') {
        t = partText(buf, p);
        return true;
      }
      return p.message !== undefined && p !== root;
    });
    return t;
  };
  const fill = (r: ArfReport) => {
    const mid = messageIDOf(orig?.get('message-id'));
    if (mid) r.originalMessageID = mid;
    else {
      // Some reporters only name it in the human-readable part.
      const m = /message-id (?:of|is|:)\s*<?([^\s<>]+@[^\s<>]+?)>?[\s.,]/i.exec(humanText());
      if (m) r.originalMessageID = `<${m[1]}>`;
    }
    if (orig?.get('subject') !== undefined) r.originalSubject = decodeHeaderValue(orig.get('subject')!);
    const of = firstAddress(orig, 'from');
    if (of) r.originalFrom = of;
    if (!r.originalRcptTo) {
      const to = firstAddress(orig, 'to');
      if (to) r.originalRcptTo = to;
    }
    return r;
  };
  if (fb) {
    const { fields, all } = parseFields(partText(buf, fb));
    const r: ArfReport = { format: 'arf', feedbackType: stripComments(fields['feedback-type'] ?? '').text.toLowerCase(), fields, errors: [] };
    if (!r.feedbackType) r.errors.push('missing Feedback-Type');
    if (!/feedback-report/i.test(top.get('content-type') ?? '')) r.errors.push('top level is not multipart/report; report-type=feedback-report');
    if (fields['user-agent']) r.userAgent = fields['user-agent'];
    else r.errors.push('missing User-Agent');
    if (fields['version']) r.version = fields['version'];
    else r.errors.push('missing Version');
    const rcpt = all.get('original-rcpt-to')?.[0] ?? fields['removal-recipient'];
    if (rcpt) r.originalRcptTo = cleanAddress(rcpt);
    if (fields['original-mail-from']) r.originalMailFrom = cleanAddress(fields['original-mail-from']);
    if (fields['source-ip']) r.sourceIP = stripComments(fields['source-ip']).text.replace(/^\[|\]$/g, '');
    const ad = parseDate(fields['arrival-date'] ?? fields['received-date']);
    if (ad) r.arrivalDate = ad;
    if (fields['reporting-mta']) r.reportingMTA = stripComments(fields['reporting-mta'].replace(/^\s*dns\s*;/i, '')).text;
    if (all.get('reported-domain')) r.reportedDomain = all.get('reported-domain')!.map((d) => d.trim());
    if (all.get('reported-uri')) r.reportedURI = all.get('reported-uri')!.map((d) => d.trim());
    if (fields['auth-failure']) r.authFailure = fields['auth-failure'].toLowerCase();
    return fill(r);
  }
  // Microsoft JMRP: not ARF, but a complaint with the original attached.
  const subject = decodeHeaderValue(top.get('subject') ?? '');
  const jmrpRcpt = orig?.get('x-hmxmroriginalrecipient') ?? top.get('x-hmxmroriginalrecipient');
  if (jmrpRcpt !== undefined || (/complaint about message from/i.test(subject) && /hotmail|outlook|msn|live\.com/i.test(top.get('from') ?? ''))) {
    const r: ArfReport = { format: 'jmrp', feedbackType: 'abuse', userAgent: 'JMRP', fields: {}, errors: [] };
    if (jmrpRcpt) r.originalRcptTo = cleanAddress(jmrpRcpt);
    const ip = /complaint about message from\s+([0-9a-fA-F.:]+)/i.exec(subject);
    if (ip) r.sourceIP = ip[1]!;
    const ad = parseDate(orig?.get('date'));
    if (ad) r.arrivalDate = ad;
    return fill(r);
  }
  // Amazon SES complaint notification by mail.
  if (root.mediaType === 'TEXT') {
    let text = partText(buf, root);
    if (text.includes('\\"notificationType\\"')) text = text.replace(/\\"/g, '"');
    if (/"notificationType"\s*:\s*"Complaint"/.test(text)) {
      const flat = text.replace(/\r?\n[ \t]?/g, '');
      const r: ArfReport = { format: 'amazonses', feedbackType: (/"complaintFeedbackType"\s*:\s*"([^"]+)"/.exec(flat)?.[1] ?? 'abuse').toLowerCase(), fields: {}, errors: [] };
      const ua = /"userAgent"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (ua) r.userAgent = ua;
      const rc = /"complainedRecipients"\s*:\s*\[\s*\{[^}]*"emailAddress"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (rc) r.originalRcptTo = rc;
      const src = /"source"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (src) r.originalMailFrom = src;
      const ip = /"sourceIp"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (ip) r.sourceIP = ip;
      const ad = /"arrivalDate"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (ad && Number.isFinite(Date.parse(ad))) r.arrivalDate = new Date(ad);
      const mid = /"commonHeaders".*?"messageId"\s*:\s*"([^"]+)"/.exec(flat)?.[1] ?? /"messageId"\s*:\s*"([^"]+)"/.exec(flat)?.[1];
      if (mid) r.originalMessageID = messageIDOf(mid)!;
      return r;
    }
  }
  // Apple Mail's unsubscribe (rfc8058-like "List-Unsubscribe" by mail).
  if (top.get('x-apple-unsubscribe')?.toLowerCase() === 'true') {
    const r: ArfReport = { format: 'apple-unsubscribe', feedbackType: 'opt-out', userAgent: 'Apple Mail', fields: {}, errors: [] };
    const from = firstAddress(top, 'from');
    if (from) r.originalRcptTo = from;
    return r;
  }
  return undefined;
}
