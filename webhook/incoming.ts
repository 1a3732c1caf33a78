/**
 * The incoming-message webhook payload, mox's `webhook.Incoming` (mox-behaviour.md §2.4): the
 * message's addresses and ids from its header, the first readable text/plain and text/html parts
 * (decoded, 1 MiB each, LF line endings, no attachment data), the MIME structure, and Meta with
 * the delivery facts (storage id, envelope, verification verdicts, mailbox after rulesets).
 * Built once, when the hook is queued; every attempt sends the same bytes.
 */
import { domainToUnicode } from 'node:url';
import type { Part } from '../message/part.js';
import { parseHeader, type Header } from '../message/header.js';
import { parseAddressList, isGroup, type Address } from '../message/address.js';
import { decodeHeaderValue } from '../message/decode.js';
import { MAX_READABLE_TEXT, partStructure, readableParts, readableText, rfc3339Date, type PartStructure } from '../message/readable.js';
import { readRange } from '../store/msgfile.js';

/** Text and HTML are cut at this many bytes each (mox: 1 MiB). */
export const MAX_TEXT_BYTES = MAX_READABLE_TEXT;

export interface NameAddress {
  Name: string;
  /** Unicode form (IDNA domains decoded). */
  Address: string;
}

export type Structure = PartStructure;

export interface IncomingMeta {
  MsgID: number;
  MailFrom: string;
  MailFromValidated: boolean;
  MsgFromValidated: boolean;
  RcptTo: string;
  DKIMVerifiedDomains: string[];
  RemoteIP: string;
  Received: string;
  MailboxName: string;
  Automated: boolean;
}

export interface IncomingPayload {
  Version: 0;
  From: NameAddress[];
  To: NameAddress[];
  CC: NameAddress[];
  BCC: NameAddress[];
  ReplyTo: NameAddress[];
  Subject: string;
  MessageID: string;
  InReplyTo: string;
  References: string[];
  /** RFC 3339, or null when the message has no (valid) Date. */
  Date: string | null;
  Text: string;
  HTML: string;
  Structure: Structure;
  Meta: IncomingMeta;
}

/** The verdicts stored as the message's meta.auth by the SMTP delivery path (auth/verify.ts). */
interface AuthMeta {
  spf?: { result?: string; identity?: string };
  dmarc?: { result?: string };
  dkimVerifiedDomains?: string[];
}

/** One stored copy of a message delivered over SMTP: what the payload is built from. */
export interface IncomingFacts {
  /** Storage id in the account (for the webapi's MessageGet). */
  msgId: number;
  parsed: Part;
  /** The stored message bytes, or a file holding them. */
  data: Buffer | { tempPath: string };
  mailFrom: string;
  rcptTo: string;
  remoteIP: string;
  receivedAt: Date;
  mailbox: string;
  auth?: unknown;
}

function unicodeAddress(a: Address): string {
  const host = a.host ? domainToUnicode(a.host) || a.host : '';
  return host ? `${a.mailbox ?? ''}@${host}` : (a.mailbox ?? '');
}

function addresses(h: Header, name: string): NameAddress[] {
  const v = h.get(name);
  if (v === undefined) return [];
  const out: NameAddress[] = [];
  for (const a of parseAddressList(v)) {
    for (const m of isGroup(a) ? a.addresses : [a]) {
      if (!m.mailbox) continue;
      out.push({ Name: m.name ? decodeHeaderValue(m.name) : '', Address: unicodeAddress(m) });
    }
  }
  return out;
}

/** Message ids in a References/In-Reply-To value, with their angle brackets. */
function msgIds(v: string | undefined): string[] {
  if (!v) return [];
  return [...v.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]}>`);
}

async function bytes(data: IncomingFacts['data'], start: number, end: number): Promise<Buffer> {
  return Buffer.isBuffer(data) ? data.subarray(start, end) : readRange(data.tempPath, start, end);
}

/** mox: automated if there is no envelope sender, a mailing-list or auto-submitted marker, or it is a report. */
function automated(h: Header, mailFrom: string, root: Part): boolean {
  if (!mailFrom) return true;
  for (const k of ['list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'precedence']) if (h.has(k)) return true;
  const as = h.get('auto-submitted');
  if (as !== undefined && as.trim().toLowerCase() !== 'no') return true;
  return root.mediaType === 'MULTIPART' && root.mediaSubType === 'REPORT';
}

export async function incomingPayload(f: IncomingFacts): Promise<IncomingPayload> {
  const root = f.parsed;
  const h = parseHeader(await bytes(f.data, root.headerOffset, root.bodyOffset));
  const { text, html } = readableParts(root);
  const read = (start: number, end: number) => bytes(f.data, start, end);
  const auth = (f.auth ?? {}) as AuthMeta;
  const inReplyTo = msgIds(h.get('in-reply-to'))[0] ?? '';
  const refs = msgIds(h.get('references'));
  return {
    Version: 0,
    From: addresses(h, 'from'),
    To: addresses(h, 'to'),
    CC: addresses(h, 'cc'),
    BCC: addresses(h, 'bcc'),
    ReplyTo: addresses(h, 'reply-to'),
    Subject: decodeHeaderValue(h.get('subject') ?? ''),
    MessageID: msgIds(h.get('message-id'))[0] ?? '',
    InReplyTo: inReplyTo,
    References: refs,
    Date: rfc3339Date(h.get('date')),
    Text: text ? await readableText(read, text) : '',
    HTML: html ? await readableText(read, html) : '',
    Structure: partStructure(root),
    Meta: {
      MsgID: f.msgId,
      MailFrom: f.mailFrom,
      MailFromValidated: auth.spf?.result === 'pass' && (auth.spf.identity ?? 'mailfrom') === 'mailfrom',
      MsgFromValidated: auth.dmarc?.result === 'pass',
      RcptTo: f.rcptTo,
      DKIMVerifiedDomains: [...(auth.dkimVerifiedDomains ?? [])],
      RemoteIP: f.remoteIP,
      Received: f.receivedAt.toISOString(),
      MailboxName: f.mailbox,
      Automated: automated(h, f.mailFrom, root),
    },
  };
}
