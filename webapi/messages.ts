/**
 * The message methods: MessageGet, MessageRawGet, MessagePartGet, MessageDelete,
 * MessageFlagsAdd/Remove, MessageMove, on the authenticated account's store (store/account.ts).
 * Messages are addressed by their id in the account (MsgID, the id incoming webhooks carry); an
 * expunged or unknown id is `messageNotFound`. MessageGet uses the MIME structure and auth
 * verdicts stored at delivery (never re-parsing unless a message has no stored structure).
 */
import type { Account } from '../store/account.js';
import { MailboxNotFoundError, StoreError, type FlagName, type Message as StoredMessage } from '../store/types.js';
import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader } from '../message/header.js';
import { parseAddressList, flattenForImap, type Address } from '../message/address.js';
import { decodeHeaderValue, decodeTransfer } from '../message/decode.js';
import { partStructure, readableParts, readableText, rfc3339Date } from '../message/readable.js';
import { ApiError } from './errors.js';
import type { MessageGetResultT, MessageMetaT, NameAddressT } from './types.js';

/** Raw bytes read per chunk when streaming a message or part to the client. */
export const STREAM_CHUNK = 1024 * 1024;

/** Message (not expunged) by MsgID, or messageNotFound. */
export function xmessage(acc: Account, msgID: number | null | undefined): StoredMessage {
  const id = msgID ?? 0;
  const m = Number.isSafeInteger(id) && id > 0 ? acc.getMessage(id) : undefined;
  if (!m || m.expunged) throw new ApiError('messageNotFound', 'message not found');
  return m;
}

/** The stored MIME structure, or (for messages stored without one) parsed now. */
async function xpart(acc: Account, m: StoredMessage): Promise<Part> {
  if (m.parsed && typeof m.parsed === 'object') return m.parsed as Part;
  return parseBuffer(await acc.readMessage(m.id));
}

function nameAddresses(value: string | undefined): NameAddressT[] & Array<{ Name: string; Address: string }> {
  if (value === undefined) return [];
  return flattenForImap(parseAddressList(value))
    .filter((a: Address) => a.mailbox !== null && a.host !== null)
    .map((a) => ({ Name: a.name ? decodeHeaderValue(a.name) : '', Address: a.host ? `${a.mailbox}@${a.host.toLowerCase()}` : a.mailbox! }));
}

const FLAG_ORDER: FlagName[] = ['seen', 'answered', 'flagged', 'deleted', 'draft'];

export function flagStrings(m: StoredMessage): string[] {
  return [...FLAG_ORDER.filter((f) => m.flags[f]).map((f) => `\\${f}`), ...m.keywords];
}

interface StoredMeta {
  auth?: {
    spf?: { result?: string; identity?: string };
    dkimVerifiedDomains?: string[];
    dmarc?: { result?: string };
  };
}

function isDSN(root: Part): boolean {
  if (root.mediaType !== 'MULTIPART' || root.mediaSubType !== 'REPORT') return false;
  const rt = (root.contentTypeParams['report-type'] ?? '').toLowerCase();
  return rt === 'delivery-status' || rt === 'global-delivery-status';
}

export async function messageGet(acc: Account, req: { MsgID?: number | null }): Promise<MessageGetResultT> {
  const m = xmessage(acc, req.MsgID);
  const root = await xpart(acc, m);
  const h = parseHeader(await acc.readMessage(m.id, root.headerOffset, root.bodyOffset));
  const { text, html } = readableParts(root);
  const read = (start: number, end: number) => acc.readMessage(m.id, start, end);
  const refs: string[] = [];
  for (const v of h.getAll('references')) for (const w of v.split(/[ \t]+/)) if (w) refs.push(w);
  const irt = h.get('in-reply-to')?.trim();
  if (irt && !refs.includes(irt)) refs.unshift(irt);
  const from = nameAddresses(h.get('from'));
  const meta = (m.meta ?? {}) as StoredMeta;
  const auth = meta.auth ?? {};
  const mb = acc.mailbox(m.mailboxId);
  const metaOut: MessageMetaT = {
    Size: m.size,
    DSN: isDSN(root),
    Flags: flagStrings(m),
    MailFrom: m.mailFrom ?? '',
    MailFromValidated: auth.spf?.result === 'pass' && auth.spf.identity !== 'helo',
    RcptTo: m.rcptTo ?? '',
    MsgFrom: from[0]?.Address ?? '',
    MsgFromValidated: auth.dmarc?.result === 'pass',
    DKIMVerifiedDomains: auth.dkimVerifiedDomains ?? [],
    RemoteIP: m.remoteIp ?? '',
    MailboxName: mb?.name ?? '',
  };
  return {
    Message: {
      From: from,
      To: nameAddresses(h.get('to')),
      CC: nameAddresses(h.get('cc')),
      BCC: nameAddresses(h.get('bcc')),
      ReplyTo: nameAddresses(h.get('reply-to')),
      MessageID: h.get('message-id') ?? '',
      References: refs,
      Date: rfc3339Date(h.get('date')),
      Subject: decodeHeaderValue(h.get('subject') ?? ''),
      Text: text ? await readableText(read, text) : '',
      HTML: html ? await readableText(read, html) : '',
    },
    Structure: partStructure(root),
    Meta: metaOut,
  };
}

/** Chunks of [start, end) of a message, read through the store (inline BLOB or file). */
export async function* messageChunks(acc: Account, id: number, start: number, end: number): AsyncGenerator<Buffer> {
  for (let pos = start; pos < end; pos += STREAM_CHUNK) {
    const b = await acc.readMessage(id, pos, Math.min(end, pos + STREAM_CHUNK));
    if (!b.length) return;
    yield b;
  }
}

export function messageRawGet(acc: Account, req: { MsgID?: number | null }): { stream: AsyncIterable<Buffer>; size: number } {
  const m = xmessage(acc, req.MsgID);
  return { stream: messageChunks(acc, m.id, 0, m.size), size: m.size };
}

/** The part at a path of 0-based indexes into multipart children, or partNotFound. */
export function partAtPath(root: Part, path: readonly number[]): Part {
  let p = root;
  path.forEach((index, i) => {
    const children = p.mediaType === 'MULTIPART' ? p.parts : [];
    if (!Number.isInteger(index) || index < 0 || index >= children.length) {
      throw new ApiError('partNotFound', `part ${index} at index ${i} not found`);
    }
    p = children[index]!;
  });
  return p;
}

/** Transfer-decoded body of the chosen part (the message body for an empty path). */
export async function messagePartGet(acc: Account, req: { MsgID?: number | null; PartPath?: number[] | null }): Promise<Buffer> {
  const m = xmessage(acc, req.MsgID);
  const root = await xpart(acc, m);
  const p = partAtPath(root, req.PartPath ?? []);
  return decodeTransfer(p.contentTransferEncoding, await acc.readMessage(m.id, p.bodyOffset, p.endOffset));
}

export function messageDelete(acc: Account, req: { MsgID?: number | null }): Record<string, never> {
  const id = req.MsgID ?? 0;
  const m = Number.isSafeInteger(id) && id > 0 ? acc.getMessage(id) : undefined;
  if (!m) throw new ApiError('messageNotFound', 'message not found');
  if (m.expunged) throw new ApiError('user', 'message already deleted');
  acc.expunge(m.mailboxId, { uids: [m.uid], deletedOnly: false });
  return {};
}

const SYSTEM_FLAGS: Record<string, FlagName> = {
  '\\seen': 'seen',
  '\\answered': 'answered',
  '\\flagged': 'flagged',
  '\\deleted': 'deleted',
  '\\draft': 'draft',
};

/** IMAP atom characters (rfc9051:9 atom-char: no specials, controls, SP or non-ASCII). */
const ATOM = /^[^\s(){}%*"\\\]\u0000-\u001f\u007f-\uffff]+$/;

/** mox's flag parsing: system flags and keywords case-insensitively; custom keywords lower case, IMAP atoms. */
export function parseFlags(list: readonly string[]): { flags: FlagName[]; keywords: string[] } {
  const flags: FlagName[] = [];
  const keywords: string[] = [];
  for (const f of list) {
    const l = f.toLowerCase();
    const sys = SYSTEM_FLAGS[l];
    if (sys) flags.push(sys);
    else if (l.startsWith('\\')) throw new ApiError('user', `unknown system flag ${JSON.stringify(f)}`);
    else if (!ATOM.test(l)) throw new ApiError('user', `invalid keyword ${JSON.stringify(f)}: must be an IMAP atom`);
    else keywords.push(l);
  }
  return { flags, keywords };
}

export function messageFlags(acc: Account, req: { MsgID?: number | null; Flags?: string[] | null }, mode: 'add' | 'remove'): Record<string, never> {
  const m = xmessage(acc, req.MsgID);
  const { flags, keywords } = parseFlags(req.Flags ?? []);
  if (!flags.length && !keywords.length) return {};
  acc.setFlags(m.mailboxId, [m.uid], { mode, flags, keywords });
  return {};
}

export function messageMove(acc: Account, req: { MsgID?: number | null; DestMailboxName?: string | null }): Record<string, never> {
  const m = xmessage(acc, req.MsgID);
  const name = req.DestMailboxName ?? '';
  const dst = name ? acc.mailbox(name) : undefined;
  if (!dst) throw new ApiError('user', `mailbox ${JSON.stringify(name)} not found`);
  // Already there: nothing to do.
  if (dst.id === m.mailboxId) return {};
  try {
    acc.moveMessages(m.mailboxId, [m.uid], dst.id);
  } catch (err) {
    if (err instanceof MailboxNotFoundError) throw new ApiError('user', `mailbox ${JSON.stringify(name)} not found`);
    if (err instanceof StoreError && err.code === 'invalid') throw new ApiError('user', err.message);
    throw err;
  }
  return {};
}
