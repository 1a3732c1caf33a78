// Bounce recognition beyond rfc3464: one entry point, analyzeBounce, that first looks for a
// (global-)delivery-status report at any depth (dsn/parse.ts) and otherwise reads the plain-text
// bounce formats of qmail, Exim, Postfix/Sendmail (old), Exchange 2003, old Gmail, Yahoo, OpenSMTPD,
// DragonFly, Notes/Domino and others, plus X-Failed-Recipients. Auto-replies (rfc3834) and ordinary
// messages are told apart from bounces. Never throws.

import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader, type Header } from '../message/header.js';
import { decodeHeaderValue } from '../message/decode.js';
import { parseAddressList, isGroup } from '../message/address.js';
import { htmlToText } from '../message/text.js';
import { mediaOf, messageIDOf, walkParts, parseDsnParts, parseDeliveryStatus, recipientFromFields, partText, type ParsedDsn } from './parse.js';
import { classify, isPermanent, statusForClass, type BounceClass } from './classify.js';
import { parseArf, type ArfReport } from './arf.js';
import { cleanAddress, findAddresses, findCodes, findEnhanced } from './fields.js';

export type { BounceClass } from './classify.js';

export interface BounceRecipient {
  /** The failed (or reported) recipient address. */
  address: string;
  /** rfc3464 Action, or "failed"/"delayed" inferred from the text. */
  action: string;
  /** Enhanced status: as stated, else inferred from the class ("5.1.1" for userunknown, …). */
  status: string;
  /** Whether `status` was inferred rather than stated in the message. */
  statusInferred?: boolean;
  /** SMTP reply code, only when the message states one. */
  smtpCode?: number;
  /** Enhanced code, only when the message states one. */
  enhancedCode?: string;
  /** The remote reply or the bounce's words about this recipient. */
  diagnostic?: string;
  remoteMTA?: string;
  class: BounceClass;
  /** Permanent (5xx) failure rather than a delay/temporary failure. */
  permanent: boolean;
  finalRecipient?: string;
  originalRecipient?: string;
}

export interface BounceResult {
  /** dsn: an rfc3464 report; bounce: a non-standard bounce; autoreply: an rfc3834 auto-reply or
   * out-of-office; notabounce: anything else. */
  kind: 'dsn' | 'bounce' | 'complaint' | 'autoreply' | 'notabounce';
  isBounce: boolean;
  /** Which recogniser produced the result: "rfc3464", "qmail", "exim", "generic", … */
  source: string;
  /** Overall class: the first recipient's, or autoreply / notabounce. */
  class: BounceClass;
  recipients: BounceRecipient[];
  originalMessageID?: string;
  envelopeID?: string;
  reportingMTA?: string;
  subject?: string;
  from?: string;
  /** The rfc3464 parse, when the message holds a report. */
  dsn?: ParsedDsn;
  /** The feedback report, when kind is "complaint" (rfc5965 ARF, JMRP, SES, Apple unsubscribe). */
  complaint?: ArfReport;
  errors: string[];
}

const BOUNCE_FROM = /mailer[- ]?daemon|post_?master|mail ?delivery|maildelivery|mail ?administrator|system ?administrator|mailmaster|bounce|mail-daemon|mdaemon|MAILER_DAEMON|Mail Delivery Subsystem|nobody@|root@|Internet Mail Delivery|Mail Transport System|network administrator/i;
const BOUNCE_SUBJECT =
  /undeliver|delivery (?:status|fail|notification|problem|report|error|has failed|incomplete)|returned mail|return(?:ed)? to sender|failure notice|mail delivery failed|could not be delivered|not delivered|non-?deliver|nondeliverable|failed delivery|delivery failure|mail system error|could not send|message (?:not delivered|delivery failure|rejected)|rejected|bounce|unzustellbar|unable to deliver|mail failure|DELIVERY FAILURE|NDN|NDR|permanent error|mail could not|error sending|delivery notification|failed mail|Delivery Final Failure|Undelivered Mail|Mail Delivery|couldn't be delivered|fail(?:ed|ure)/i;
const BOUNCE_BODY =
  /This is the qmail-send program|This message was created automatically by mail delivery software|The following address(?:es)? (?:had permanent fatal errors|failed)|Delivery to the following recipients? (?:failed|has been delayed)|I'm afraid I wasn't able to deliver|Your message (?:did not reach|could not be delivered|was not delivered|cannot be delivered|to .{0,120} (?:couldn't|could not|was not|has not been) (?:be )?delivered)|(?:could not|couldn't|was not|wasn't|cannot|unable to) (?:be )?deliver(?:ed)?|Delivery has failed|had (?:delivery|permanent fatal) (?:errors|problems)|There was an error delivering your mail|delivery (?:to the following|of your message) .{0,60}(?:failed|delayed)|did not reach the following recipient|permanent(?:ly)? (?:error|fail)|undeliverable|Unrouteable|rejected your message|returned (?:to you|mail)|SMTP error from remote|Remote host said|said: [45]\d\d|Technical details of (?:permanent|temporary) failure|unable to deliver|has been delayed|could not deliver|Delivery Status Notification|mail delivery failed|non-?delivery/i;
const AUTOREPLY_SUBJECT = /^(?:auto(?:matic)?[ -]?(?:reply|response|antwort|answer)|auto:|autoreply|out of (?:the )?office|vacation|on vacation|away from|abwesen|absence|r[ée]ponse automatique|automatisch|I am out|I'm out|I will be out|thank you for (?:your )?(?:e-?mail|message|contacting))/i;

const RETURNED_PART = /^(?:message\/rfc822|message\/global|text\/rfc822-headers|message\/global-headers)$/;

/** A line holding an SMTP error reply (possibly after a transcript marker). */
const SMTP_REPLY_LINE = /^\s*(?:<<<|Received >>>|[^:\n]{0,40}said:?|Remote host said:|Error:|reason:|\(reason:)?\s*[45][0-5]\d(?:[ -]+[245]\.\d{1,3}\.\d{1,3}|[ -])/m;

/** Lines that start the returned copy of the original in plain-text bounces. */
const COPY_SEPARATORS = [
  /^-+ ?Below this line is a copy of the message/im,
  /^-+ This is a copy of the message/im,
  /^-+ ?Original message ?-+/im,
  /^-+ ?Original Message (?:follows|Header) ?-+/im,
  /^Message headers follow/im,
  /^-+ ?(?:The )?(?:original|returned|unsent) (?:message|mail)/im,
  /^-+ ?(?:Returned|Unsent|Undelivered) message ?-+/im,
  /^-+ ?(?:message|headers) follow/im,
  /^-+ The header of the original message is following/im,
  /^Original message (?:follows|headers)/im,
  /^-+Transcript of session follows/im,
  /^-+ ?Forwarded message/im,
  /^Received: /m,
  /^Return-Path: /m,
];

function addrOf(h: Header, name: string): string[] {
  const out: string[] = [];
  for (const v of h.getAll(name)) {
    for (const a of parseAddressList(v)) {
      for (const m of isGroup(a) ? a.addresses : [a]) {
        if (m.mailbox && m.host) out.push(`${m.mailbox}@${m.host}`);
      }
    }
  }
  return out;
}

/** Human-readable text of the message outside embedded/returned messages. */
function humanTexts(buf: Buffer, p: Part, out: string[], depth = 0): void {
  if (depth > 20) return;
  const t = mediaOf(p);
  if (p.mediaType === 'MULTIPART') {
    const alt = t === 'multipart/alternative';
    for (const c of p.parts) {
      const before = out.length;
      humanTexts(buf, c, out, depth + 1);
      if (alt && out.length > before && mediaOf(c) === 'text/plain') break;
    }
    return;
  }
  if (t === 'text/plain' || (p.mediaType === 'TEXT' && p.mediaSubType === 'PLAIN')) out.push(partText(buf, p));
  else if (t === 'text/html') out.push(htmlToText(partText(buf, p)));
}

/** Splits bounce text into the human part and the returned copy, at the first separator found. */
function splitCopy(text: string): { human: string; copy: string } {
  let best = -1;
  for (const re of COPY_SEPARATORS) {
    const m = re.exec(text);
    if (m && m.index > 0 && (best < 0 || m.index < best)) {
      // "Received:"/"Return-Path:" only count once something was said before them.
      if ((re.source.startsWith('^Received') || re.source.startsWith('^Return-Path')) && m.index < 40) continue;
      best = m.index;
    }
  }
  if (best < 0) return { human: text, copy: '' };
  return { human: text.slice(0, best), copy: text.slice(best) };
}

function headerFromText(copy: string): Header | undefined {
  // Skip the separator line and blank lines, then read a header block.
  const lines = copy.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && !/^[!-9;-~]+:/.test(lines[i]!)) i++;
  if (i >= lines.length) return undefined;
  const h = parseHeader(Buffer.from(lines.slice(i).join('\r\n'), 'utf8'));
  return h.fields.some((f) => f.key) ? h : undefined;
}

const NOT_RECIPIENT = /^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|MAILER_DAEMON|nobody|root|abuse|noreply|no-reply|bounce[s]?|double-bounce)@/i;

interface Found {
  address: string;
  paragraph: string;
}

/** Recipients named by the human text, each with the paragraph describing it. */
function recipientsFromText(human: string, exclude: Set<string>, bounceFrom: string): { found: Found[]; source: string } {
  const okStrong = (a: string) => a.includes('@') && a.toLowerCase() !== bounceFrom && /@[^@]+\.[^@]+$/.test(a) && a.length < 255;
  const ok = (a: string) => {
    const k = a.toLowerCase();
    return a.includes('@') && !exclude.has(k) && !NOT_RECIPIENT.test(a) && /@[^@]+\.[^@]+$/.test(a) && a.length < 255;
  };
  const lines = human.split(/\r?\n/);
  const para = (i: number): string => {
    const out: string[] = [];
    for (let j = i; j < lines.length && out.length < 25; j++) {
      if (j > i && lines[j]!.trim() === '' && out.join('').trim().length > 20) break;
      out.push(lines[j]!);
    }
    return out.join('\n');
  };
  // qmail / Yahoo / OpenSMTPD-style "<addr>:" lines, Exim's indented address lines, Gmail's
  // indented address after "recipient failed permanently:", Exchange 2003 "addr on <date>".
  const strong: Found[] = [];
  let source = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    let m = /^\s*<([^<>\s]+@[^<>\s]+)>:?\s*(.*)$/.exec(l);
    if (m && okStrong(cleanAddress(m[1]!))) {
      strong.push({ address: cleanAddress(m[1]!), paragraph: para(i) });
      source ||= 'angle-line';
      continue;
    }
    m = /^\s+([^\s<>()"]+@[^\s<>()",;]+)\s*(?:$|<|\(|on \w|\.\.\.|:|\[)/.exec(l) ?? /^([^\s<>()"]+@[^\s<>()",;]+?)(?:\.\.\.|:|\s*$|\s+on\s|\s+\[|\s+\()/.exec(l);
    if (m && okStrong(cleanAddress(m[1]!))) {
      strong.push({ address: cleanAddress(m[1]!), paragraph: para(i) });
      source ||= 'address-line';
    }
  }
  if (strong.length) return { found: dedupe(strong), source };
  // Generic: addresses in recipient context, then any address.
  const ctx = /(?:to|recipient|address|user|rcpt|mailbox|for|delivering your (?:mail|message) to|deliver(?:ed|y)? to)\W{0,12}$/i;
  const anyFound: Found[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    for (const a of findAddresses(l)) {
      const c = cleanAddress(a);
      const before = l.slice(0, l.indexOf(a));
      const f = { address: c, paragraph: para(Math.max(0, i - 1)) };
      if ((ctx.test(before) || /^\s*$/.test(before.replace(/[<"'(]/g, ''))) && okStrong(c) && !exclude.has(c.toLowerCase())) strong.push(f);
      else if (ok(c)) anyFound.push(f);
    }
  }
  if (strong.length) return { found: dedupe(strong), source: 'context' };
  return { found: dedupe(anyFound).slice(0, 1), source: 'any-address' };
}

function dedupe(l: Found[]): Found[] {
  const seen = new Set<string>();
  return l.filter((f) => {
    const k = f.address.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Recogniser name for a plain-text bounce, from its wording. */
function sourceOf(text: string, h: Header): string {
  if (/This is the qmail-send program|qmail-send/i.test(text)) return 'qmail';
  if (/This message was created automatically by mail delivery software/i.test(text) || h.has('x-failed-recipients')) return /google|gmail/i.test(h.get('from') ?? '') ? 'gmail' : 'exim';
  if (/Delivery to the following recipient/i.test(text)) return 'gmail';
  if (/did not reach the following recipient/i.test(text)) return 'exchange2003';
  if (/Sorry, we were unable to deliver your message/i.test(text)) return 'yahoo';
  if (/DragonFly Mail Agent/i.test(text)) return 'dragonfly';
  if (/OpenSMTPD|This is the MAILER-DAEMON, please DO NOT REPLY/i.test(text)) return 'opensmtpd';
  if (/The following address(?:es)? had permanent fatal errors|Transcript of session follows/i.test(text)) return 'sendmail';
  return 'generic';
}

function recipientOfCopy(copyHeader: Header | undefined): string[] {
  if (!copyHeader) return [];
  return [...addrOf(copyHeader, 'to'), ...addrOf(copyHeader, 'cc')].filter((a) => !NOT_RECIPIENT.test(a));
}

function finishRecipient(r: Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string }, text: string): BounceRecipient {
  let status = r.status;
  const enh = r.enhancedCode;
  // Prefer the more specific of Status and the diagnostic's code (x.0.0 says nothing).
  if (enh && (!status || /\.0\.0$/.test(status)) && !/\.0\.0$/.test(enh)) status = enh;
  let cls = classify({ status: status ?? enh, smtpCode: r.smtpCode, text, action: r.action });
  if (r.action === 'delayed' && cls === 'expired') cls = 'temporary';
  // Provider rule: Google Groups' bounce (in the poster's language) means the group does not exist
  // or does not accept the post; it states no code.
  if (cls === 'other' && /@googlegroups\.com$/i.test(r.address) && !r.smtpCode) cls = 'userunknown';
  const permanent = r.action === 'delayed' ? false : isPermanent(status ?? enh, r.smtpCode, r.action);
  const out: BounceRecipient = { ...r, status: status ?? '', class: cls, permanent };
  if (!status) {
    out.status = statusForClass(cls, permanent);
    out.statusInferred = true;
  }
  return out;
}

function fromDsn(buf: Buffer, dsn: ParsedDsn, human: string): BounceRecipient[] {
  const out: BounceRecipient[] = [];
  for (const r of dsn.recipients) {
    let smtpCode = r.smtpCode;
    let enhancedCode = r.enhancedCode;
    let diagnostic = r.diagnostic;
    // Missing or code-less diagnostic: look for the recipient in the human text.
    if (smtpCode === undefined || !diagnostic) {
      const i = human.toLowerCase().indexOf(r.address.toLowerCase());
      const near = i >= 0 ? human.slice(i, i + 600) : human.slice(0, 2000);
      const c = findCodes(near);
      if (smtpCode === undefined && c.smtpCode !== undefined) smtpCode = c.smtpCode;
      if ((enhancedCode === undefined || /\.0\.0$/.test(enhancedCode)) && c.enhancedCode && !/\.0\.0$/.test(c.enhancedCode)) enhancedCode = c.enhancedCode;
      if (!diagnostic && c.smtpCode !== undefined) diagnostic = near.split(/\n\s*\n/)[0]!.replace(/\s+/g, ' ').trim();
    }
    const text = [diagnostic ?? '', r.statusComment ?? '', diagnostic ? '' : human.slice(0, 3000)].join(' ');
    let address = r.address;
    if (!plausible(address)) {
      const alt = [r.originalRecipient, ...recipientsFromText(human, new Set(), '').found.map((f) => f.address)].find((a) => a && plausible(a));
      if (alt) address = alt;
    }
    const br: Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string } = {
      address,
      action: r.action || 'failed',
      status: r.fields['status'] !== undefined && findEnhanced(r.fields['status']) ? r.status : undefined,
      finalRecipient: r.finalRecipient,
    };
    if (smtpCode !== undefined) br.smtpCode = smtpCode;
    if (enhancedCode !== undefined) br.enhancedCode = enhancedCode;
    if (diagnostic) br.diagnostic = diagnostic;
    if (r.remoteMTA) br.remoteMTA = r.remoteMTA;
    if (r.originalRecipient) br.originalRecipient = r.originalRecipient;
    if (br.status === undefined) delete br.status;
    out.push(finishRecipient(br, text));
  }
  void buf;
  return out;
}

/** An address with a local part and a domain. */
function plausible(a: string): boolean {
  const at = a.lastIndexOf('@');
  return at > 0 && at < a.length - 1 && !/\s/.test(a);
}

/** Delivery-status fields written into a text part (some MTAs do that instead of a status part). */
function dsnInText(human: string): ParsedDsn | undefined {
  const m = /^(?:Reporting-MTA|Original-Envelope-Id|Final-Recipient|Original-Recipient|Action)\s*:/im.exec(human);
  if (!m || !/^Final-Recipient\s*:/im.test(human)) return undefined;
  const parsed = parseDeliveryStatus(human.slice(m.index));
  const errors = [...parsed.errors];
  const res: ParsedDsn = { messageFields: parsed.messageFields, recipients: [], utf8: false, errors };
  for (const b of parsed.blocks) {
    const r = recipientFromFields(b, errors);
    if (r) res.recipients.push(r);
  }
  if (parsed.messageFields['reporting-mta']) res.reportingMTA = parsed.messageFields['reporting-mta'].replace(/^\s*dns\s*;\s*/i, '').trim();
  return res.recipients.length ? res : undefined;
}

/** Analyses a message that may be a bounce. Never throws. */
export function analyzeBounce(message: Buffer): BounceResult {
  try {
    return analyze(message, 0);
  } catch (e) {
    return { kind: 'notabounce', isBounce: false, source: 'error', class: 'notabounce', recipients: [], errors: [`internal: ${String(e)}`] };
  }
}

function analyze(buf: Buffer, depth: number): BounceResult {
  const root = parseBuffer(buf);
  const top = parseHeader(buf.subarray(root.headerOffset, root.bodyOffset));
  const subject = decodeHeaderValue(top.get('subject') ?? '');
  const fromRaw = top.get('from') ?? '';
  const from = addrOf(top, 'from')[0];
  const res = (kind: BounceResult['kind'], cls: BounceClass, source: string): BounceResult => {
    const r: BounceResult = { kind, isBounce: kind === 'dsn' || kind === 'bounce', source, class: cls, recipients: [], errors: [] };
    if (subject) r.subject = subject;
    if (from) r.from = from;
    return r;
  };
  if (depth === 0) {
    const arf = parseArf(buf);
    if (arf) {
      const r = res('complaint', 'notabounce', `complaint-${arf.format}`);
      r.complaint = arf;
      if (arf.originalMessageID) r.originalMessageID = arf.originalMessageID;
      return r;
    }
  }
  const texts: string[] = [];
  humanTexts(buf, root, texts);
  const allText = texts.join('\n');
  const { human, copy } = splitCopy(allText);

  let dsn = parseDsnParts(buf, root);
  let dsnSource = 'rfc3464';
  if (!dsn || dsn.recipients.length === 0) {
    const t = dsnInText(human);
    if (t) {
      dsn = t;
      dsnSource = 'rfc3464-text';
    }
  }
  if (dsn && dsn.recipients.length > 0) {
    const r = res(dsnSource === 'rfc3464' ? 'dsn' : 'bounce', 'other', dsnSource);
    r.dsn = dsn;
    r.errors.push(...dsn.errors);
    r.recipients = fromDsn(buf, dsn, human);
    r.class = r.recipients[0]!.class;
    if (dsn.originalMessageID) r.originalMessageID = dsn.originalMessageID;
    else {
      const ch = headerFromText(copy);
      const mid = messageIDOf(ch?.get('message-id'));
      if (mid) r.originalMessageID = mid;
    }
    if (dsn.envelopeID) r.envelopeID = dsn.envelopeID;
    if (dsn.reportingMTA) r.reportingMTA = dsn.reportingMTA;
    return r;
  }

  const ses = sesNotification(allText);
  if (ses) {
    const r = res(ses.kind, 'other', 'amazonses-json');
    r.recipients = ses.recipients.map((x) => finishRecipient(x, x.diagnostic ?? ''));
    if (r.recipients.length) r.class = r.recipients[0]!.class;
    if (ses.messageID) r.originalMessageID = ses.messageID;
    if (ses.reportingMTA) r.reportingMTA = ses.reportingMTA;
    if (ses.kind === 'notabounce') r.class = 'notabounce';
    return r;
  }

  const failedHeader = top.getAll('x-failed-recipients').flatMap((v) => v.split(/[,\s]+/)).map(cleanAddress).filter((a) => a.includes('@'));
  const autoSubmitted = (top.get('auto-submitted') ?? '').toLowerCase();
  let hasReturned = false;
  walkParts(root, (p) => {
    if (p !== root && RETURNED_PART.test(mediaOf(p))) hasReturned = true;
    return hasReturned;
  });
  const bounceLike =
    failedHeader.length > 0 ||
    (hasReturned && BOUNCE_BODY.test(human)) ||
    !!dsn ||
    /report-type="?delivery-status/i.test(top.get('content-type') ?? '') ||
    (BOUNCE_FROM.test(fromRaw) && (BOUNCE_SUBJECT.test(subject) || BOUNCE_BODY.test(human))) ||
    (BOUNCE_SUBJECT.test(subject) && BOUNCE_BODY.test(human)) ||
    /This is the qmail-send program|This message was created automatically by mail delivery software/.test(human) ||
    (/<>/.test(fromRaw) && (BOUNCE_BODY.test(human) || BOUNCE_SUBJECT.test(subject))) ||
    (!AUTOREPLY_SUBJECT.test(subject) && SMTP_REPLY_LINE.test(human) && (BOUNCE_FROM.test(fromRaw) || BOUNCE_SUBJECT.test(subject) || (hasReturned && /\berror\b|fail|エラー/i.test(human.slice(0, 2000))))) ||
    (/エラー|送信できません|配信できません|届きません|不達/.test(subject + human.slice(0, 1000)) && findAddresses(human).length > 0);
  const autoReplyLike =
    (autoSubmitted !== '' && autoSubmitted !== 'no') ||
    top.has('x-autoreply') ||
    top.has('x-autorespond') ||
    /auto[_-]?reply/i.test(top.get('precedence') ?? '') ||
    AUTOREPLY_SUBJECT.test(subject);
  if (!bounceLike) {
    // A bounce forwarded inside another message.
    if (depth < 2) {
      let inner: BounceResult | undefined;
      const walk = (p: Part): void => {
        if (inner) return;
        if (p.message) {
          const sub = buf.subarray(p.message.headerOffset, p.message.endOffset);
          const r = analyze(sub, depth + 1);
          if (r.isBounce) inner = r;
          return;
        }
        p.parts.forEach(walk);
      };
      walk(root);
      if (inner) return inner;
    }
    if (autoReplyLike) return res('autoreply', 'autoreply', 'rfc3834');
    return res('notabounce', 'notabounce', 'none');
  }

  const r = res('bounce', 'other', sourceOf(human, top));
  if (dsn) {
    r.dsn = dsn;
    r.errors.push(...dsn.errors);
  }
  const copyHeader = (() => {
    for (const p of root.parts.length ? root.parts : [root]) {
      if (p.message) return parseHeader(buf.subarray(p.message.headerOffset, p.message.bodyOffset));
      if (mediaOf(p) === 'text/rfc822-headers') return parseHeader(buf.subarray(p.bodyOffset, p.endOffset));
    }
    return headerFromText(copy);
  })();
  const mid = messageIDOf(copyHeader?.get('message-id')) ?? messageIDOf(top.get('x-original-message-id'));
  if (mid) r.originalMessageID = mid;

  const exclude = new Set<string>([...addrOf(top, 'to'), ...addrOf(top, 'from'), ...addrOf(copyHeader ?? parseHeader(Buffer.alloc(0)), 'from')].map((a) => a.toLowerCase()));
  let found: Found[];
  if (failedHeader.length) {
    found = failedHeader.map((a) => {
      const i = human.toLowerCase().indexOf(a.toLowerCase());
      return { address: a, paragraph: i >= 0 ? human.slice(i, i + 800) : human };
    });
  } else {
    const t = recipientsFromText(human, exclude, (from ?? '').toLowerCase());
    found = t.found;
    if (!found.length) {
      const copyTo = recipientOfCopy(copyHeader).filter((a) => !exclude.has(a.toLowerCase()));
      if (copyTo.length) found = [{ address: copyTo[0]!, paragraph: human }];
      r.errors.push('recipient from the returned message');
    }
  }
  const delayed = /(?:has been|is) delayed|will (?:be retried|retry|continue)|still trying|not yet been delivered|Delivery Status Notification \(Delay\)|could not send|temporar(?:y|ily) (?:failure|error)/i.test(subject + '\n' + human.slice(0, 3000)) &&
    !/permanent|given up|gave up/i.test(human.slice(0, 3000));
  for (const f of found) {
    // Codes: in the paragraph about this recipient, else anywhere in the human text.
    let c = findCodes(f.paragraph.replace(new RegExp(escapeRe(f.address), 'gi'), ''));
    let diagSrc = f.paragraph;
    if (c.smtpCode === undefined && c.enhancedCode === undefined) {
      c = findCodes(human.replace(/[^\s]+@[^\s]+/g, ''));
      diagSrc = human;
    }
    const diag = diagnosticLine(diagSrc, c.smtpCode, c.enhancedCode) ?? f.paragraph.replace(/\s+/g, ' ').trim().slice(0, 500);
    const br: Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string } = {
      address: f.address,
      action: delayed ? 'delayed' : 'failed',
    };
    if (c.smtpCode !== undefined) br.smtpCode = c.smtpCode;
    if (c.enhancedCode !== undefined) br.enhancedCode = c.enhancedCode;
    if (diag) br.diagnostic = diag;
    r.recipients.push(finishRecipient(br, `${f.paragraph}\n${diag ?? ''}\n${found.length === 1 ? human.slice(0, 3000) : ''}`));
  }
  if (r.recipients.length) r.class = r.recipients[0]!.class;
  else r.errors.push('no recipient found');
  return r;
}

/** Amazon SES notifications delivered by mail (SNS JSON, "notificationType":"Bounce"/"Delivery"). */
function sesNotification(text: string): { kind: BounceResult['kind']; recipients: (Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string })[]; messageID?: string; reportingMTA?: string } | undefined {
  if (text.includes('\\"notificationType\\"')) text = text.replace(/\\"/g, '"');
  const t = /"notificationType"\s*:\s*"(Bounce|Delivery|Complaint)"/.exec(text);
  if (!t) return undefined;
  // The JSON is often folded or cut by mail transport: read it with patterns rather than JSON.parse.
  const flat = text.replace(/\r?\n[ \t]?/g, '');
  const recipients: (Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string })[] = [];
  const type = t[1]!;
  const listRe = type === 'Bounce' ? /"bouncedRecipients"\s*:\s*\[(.*?)\]/ : type === 'Delivery' ? /"recipients"\s*:\s*\[(.*?)\]/ : undefined;
  const list = listRe ? listRe.exec(flat)?.[1] ?? '' : '';
  const str = (o: string, k: string) => new RegExp(`"${k}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(o)?.[1];
  if (type === 'Bounce') {
    for (const m of list.matchAll(/\{[^{}]*\}/g)) {
      const o = m[0];
      const address = str(o, 'emailAddress');
      if (!address) continue;
      const diag = str(o, 'diagnosticCode');
      const x: Omit<BounceRecipient, 'class' | 'permanent' | 'status'> & { status?: string } = { address, action: str(o, 'action') ?? 'failed' };
      const st = str(o, 'status');
      if (st && /^[245]\.\d+\.\d+$/.test(st)) x.status = st;
      if (diag) {
        const d = diag.replace(/^\s*smtp\s*;\s*/i, '');
        x.diagnostic = d;
        const c = findCodes(d);
        if (c.smtpCode !== undefined) x.smtpCode = c.smtpCode;
        if (c.enhancedCode !== undefined) x.enhancedCode = c.enhancedCode;
      }
      if (x.enhancedCode === undefined && x.status) x.enhancedCode = x.status;
      recipients.push(x);
    }
  } else if (type === 'Delivery') {
    for (const m of list.matchAll(/"([^"@]+@[^"]+)"/g)) recipients.push({ address: m[1]!, action: 'delivered', status: '2.0.0' });
  }
  const mail = /"mail"\s*:\s*\{(.*)$/.exec(flat)?.[1] ?? '';
  const out: ReturnType<typeof sesNotification> = { kind: type === 'Complaint' ? 'notabounce' : type === 'Bounce' ? 'bounce' : 'dsn', recipients };
  const mid = /"commonHeaders".*?"messageId"\s*:\s*"([^"]+)"/.exec(mail)?.[1] ?? /"name"\s*:\s*"Message-ID"\s*,\s*"value"\s*:\s*"([^"]+)"/i.exec(mail)?.[1];
  if (mid) out.messageID = messageIDOf(mid);
  const rm = /"reportingMTA"\s*:\s*"(?:dsn|dns);\s*([^"]+)"/.exec(flat)?.[1];
  if (rm) out.reportingMTA = rm;
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The line(s) holding the SMTP reply, for the diagnostic. */
function diagnosticLine(text: string, code: number | undefined, enh: string | undefined): string | undefined {
  const key = code !== undefined ? String(code) : enh;
  if (!key) return undefined;
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => l.includes(key));
  if (i < 0) return undefined;
  const out = [lines[i]!.trim()];
  for (let j = i + 1; j < lines.length && j < i + 6; j++) {
    const l = lines[j]!;
    if (l.trim() === '') break;
    if (/^\s/.test(l) || (code !== undefined && l.startsWith(String(code)))) out.push(l.trim());
    else break;
  }
  return out.join(' ').slice(0, 1000);
}

/** How much of a message's start `looksLikeReport` reads to find the end of its header. */
const REPORT_HEADER_SCAN = 64 * 1024;

/**
 * A cheap first look, from the top-level header alone, at whether a message may be a bounce, DSN
 * or complaint: worth the full `analyzeBounce` (which costs about 50 µs per KiB). For the incoming
 * path, where every message delivered to an account that keeps retired messages would otherwise
 * be analysed. True for a null reverse path (rfc5321:4.5.5: DSNs are sent with one),
 * multipart/report (rfc6522: DSNs, ARF, MDNs), X-Failed-Recipients, complaint headers (JMRP,
 * Apple), a bounce-like From/Sender/subject, or Auto-Submitted other than "no" (rfc3834).
 * `mailFrom` is the SMTP MAIL FROM ('' for the null path; undefined when unknown). Never throws.
 */
export function looksLikeReport(message: Buffer, mailFrom?: string): boolean {
  if (mailFrom === '') return true;
  try {
    const head = message.subarray(0, REPORT_HEADER_SCAN);
    let end = head.indexOf('\r\n\r\n');
    if (end < 0) end = head.indexOf('\n\n');
    const top = parseHeader(end < 0 ? head : head.subarray(0, end + 2));
    if (/^\s*multipart\/report\b/i.test(top.get('content-type') ?? '')) return true;
    if (top.has('x-failed-recipients') || top.has('x-hmxmroriginalrecipient') || top.has('x-apple-unsubscribe')) return true;
    const auto = (top.get('auto-submitted') ?? '').trim().toLowerCase();
    if (auto !== '' && !auto.startsWith('no')) return true;
    const sender = `${top.get('from') ?? ''} ${top.get('sender') ?? ''}`;
    if (BOUNCE_FROM.test(sender) || /amazonses|sns\.amazonaws|<>/i.test(sender)) return true;
    const subject = decodeHeaderValue(top.get('subject') ?? '');
    return BOUNCE_SUBJECT.test(subject) || /complaint|abuse report|feedback report|エラー|送信できません|配信できません|不達/i.test(subject);
  } catch {
    return true;
  }
}
