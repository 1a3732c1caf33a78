// FETCH response items (rfc9051:7.5.2 "msg-att", rfc3501:7.4.2, rfc3516:4.2 BINARY, rfc7162:3.1.4
// MODSEQ, rfc8970 PREVIEW, rfc8514 SAVEDATE) for one message from the store: never re-parses the
// message (ENVELOPE/BODYSTRUCTURE come preformatted from the store, sections from the stored part
// offsets), and reads only the bytes a section or partial range needs.

import type { Account } from '../../store/account.js';
import type { UidSet } from '../../store/account-types.js';
import type { Message } from '../../store/types.js';
import { atom, concat, literal, type ImapValue } from '../../message/imapvalue.js';
import { bodyStructure, envelopeValue } from '../../message/bodystructure.js';
import { decodeTransfer, partByPath, sectionRange } from '../../message/decode.js';
import { parseHeader } from '../../message/header.js';
import { parseBuffer, type Part } from '../../message/part.js';
import { fetchNeedsParsed, type FetchAtt, type PartialRange, type Section } from './types.js';
import { messagePreview } from './preview.js';

/** What of the session the rendering depends on. */
export interface FetchSession {
  /** UTF8=ACCEPT enabled (rfc9051:6.3.1): non-ASCII may go in quoted strings. */
  utf8: boolean;
  /** IMAP4rev2 (no \Recent). */
  rev2: boolean;
  /** IMAP4rev1 \Recent for this session (rfc3501:2.3.2); absent: never recent. */
  isRecent?: (uid: number) => boolean;
}

/**
 * A FETCH that cannot be answered for a message. `code` is the response code for the tagged NO
 * (rfc3516:4.3 UNKNOWN-CTE: BINARY of a part whose Content-Transfer-Encoding we cannot decode).
 * The command turns it into its ImapError (NO [code] message).
 */
export class FetchError extends Error {
  constructor(
    readonly code: 'UNKNOWN-CTE' | 'SERVERBUG',
    message: string,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

/** Transfer encodings BINARY can decode (rfc2045:6.1); absent means 7BIT. */
const KNOWN_CTE = new Set(['7BIT', '8BIT', 'BINARY', 'BASE64', 'QUOTED-PRINTABLE']);

/** Whether rendering these attributes needs the message's parse tree (see fetchNeedsParsed). */
export const needsParsed = fetchNeedsParsed;

/**
 * The messages with these uids, with the columns the attributes need: the parse tree only when
 * needed (it is the heavy column); otherwise a lean listing with just the preformatted
 * ENVELOPE/BODYSTRUCTURE asked for (Account.imapMessages).
 */
export function loadForFetch(account: Account, mailboxId: number, uids: UidSet, atts: readonly FetchAtt[]): Message[] {
  if (needsParsed(atts)) return account.listMessages(mailboxId, { uids, full: true });
  return account.imapMessages(mailboxId, uids, {
    envelope: atts.some((a) => a.kind === 'ENVELOPE'),
    bodyStructure: atts.some((a) => a.kind === 'BODYSTRUCTURE'),
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** rfc9051:9 date-time, "02-Jan-2006 15:04:05 +0000" (UTC, so output never depends on the host). */
export function formatInternalDate(d: Date): string {
  return `${pad2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
}

/** FLAGS list (rfc9051:2.3.2): system flags, \Recent for rev1 when recent, then keywords. */
export function flagList(m: Message, s?: FetchSession): ImapValue[] {
  const l: ImapValue[] = [];
  if (m.flags.seen) l.push(atom('\\Seen'));
  if (m.flags.answered) l.push(atom('\\Answered'));
  if (m.flags.flagged) l.push(atom('\\Flagged'));
  if (m.flags.deleted) l.push(atom('\\Deleted'));
  if (m.flags.draft) l.push(atom('\\Draft'));
  if (s && !s.rev2 && s.isRecent?.(m.uid)) l.push(atom('\\Recent'));
  for (const k of m.keywords) l.push(atom(k));
  return l;
}

/** rfc9051:9 ATOM-CHAR: a header field name that is one can go unquoted in the response. */
function astring(s: string): string {
  return /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|~]+$/.test(s) ? s : '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/** The section as echoed in the response name, e.g. "1.2.HEADER.FIELDS (From To)". */
export function sectionSpec(sec: Section): string {
  let s = sec.part.join('.');
  if (sec.text) s += (s ? '.' : '') + sec.text;
  if (sec.text === 'HEADER.FIELDS' || sec.text === 'HEADER.FIELDS.NOT') s += ` (${(sec.fields ?? []).map(astring).join(' ')})`;
  return s;
}

/** Applies <offset.count> to a byte range of the message. */
function clip(start: number, end: number, p: PartialRange | undefined): [number, number] {
  if (!p) return [start, end];
  const a = Math.min(end, start + p.offset);
  return [a, Math.min(end, a + p.count)];
}

function sliceBuf(b: Buffer, p: PartialRange | undefined): Buffer {
  if (!p) return b;
  return b.subarray(Math.min(b.length, p.offset), Math.min(b.length, p.offset + p.count));
}

function bytesValue(b: Buffer): ImapValue {
  return b.length === 0 ? '' : literal(b);
}

/** Renders FETCH items for one message; see renderFetch. */
export class FetchRenderer {
  constructor(
    readonly account: Account,
    readonly session: FetchSession,
  ) {}

  /**
   * Makes sure m.parsed is there when it will be needed: read from the store when the row was
   * loaded without it, and, for rows stored without a tree (none of our delivery paths does
   * that; tests and old rows might), parsed from the bytes once.
   */
  private async ensureParsed(m: Message): Promise<void> {
    if (m.parsed === undefined) m.parsed = this.account.getMessage(m.id)?.parsed;
    if (m.parsed === undefined || m.parsed === null) m.parsed = parseBuffer(await this.read(m, 0, m.size));
  }

  private parsedOf(m: Message): Part | null {
    return (m.parsed as Part | undefined) ?? null;
  }

  /** The parse tree, or a minimal one (whole message as one text part) for rows without one. */
  private tree(m: Message): Part {
    const p = this.parsedOf(m);
    if (p) return p;
    return {
      headerOffset: 0, bodyOffset: 0, endOffset: m.size, rawLineCount: 0, decodedSize: m.size,
      mediaType: 'TEXT', mediaSubType: 'PLAIN', contentTypeParams: {}, contentId: null, contentDescription: null,
      contentTransferEncoding: null, contentDisposition: null, contentDispositionParams: {}, contentLanguage: null,
      contentLocation: null, contentMD5: null, parts: [],
    };
  }

  private read(m: Message, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Promise.resolve(Buffer.alloc(0));
    return this.account.readMessage(m.id, start, end);
  }

  /** Bytes of a BODY[section] (before <partial>), or null for a section that does not exist. */
  private async section(m: Message, sec: Section, partial: PartialRange | undefined): Promise<Buffer | null> {
    if (sec.part.length === 0 && !sec.text) {
      const [a, b] = clip(0, m.size, partial);
      return this.read(m, a, b);
    }
    const root = this.tree(m);
    if (sec.text === 'MIME' && sec.part.length === 0) return null;
    const spec = sec.part.join('.') + (sec.text ? (sec.part.length ? '.' : '') + (sec.text.startsWith('HEADER') ? 'HEADER' : sec.text) : '');
    const r = sectionRange(root, spec);
    if (!r) return null;
    if (sec.text === 'HEADER.FIELDS' || sec.text === 'HEADER.FIELDS.NOT') {
      // rfc9051:6.4.5: field names match case-insensitively; the result ends with the blank line.
      const hdr = parseHeader(await this.read(m, r.start, r.end));
      return sliceBuf(hdr.selectRaw(sec.fields ?? [], sec.text === 'HEADER.FIELDS.NOT'), partial);
    }
    const [a, b] = clip(r.start, r.end, partial);
    return this.read(m, a, b);
  }

  /** rfc3516:4.2 BINARY[part]: the part's body with its transfer encoding removed. */
  private async binary(m: Message, path: number[]): Promise<Buffer | null> {
    if (path.length === 0) return this.read(m, 0, m.size);
    const p = partByPath(this.tree(m), path);
    if (!p) return null;
    const raw = await this.read(m, p.bodyOffset, p.endOffset);
    if (p.mediaType === 'MULTIPART' || p.message) return raw;
    const cte = p.contentTransferEncoding;
    if (cte && !KNOWN_CTE.has(cte)) throw new FetchError('UNKNOWN-CTE', `unknown content-transfer-encoding ${cte}`);
    return decodeTransfer(cte, raw);
  }

  private binarySize(m: Message, path: number[]): number | null {
    if (path.length === 0) return m.size;
    const p = partByPath(this.tree(m), path);
    if (!p) return null;
    const cte = p.contentTransferEncoding;
    if (p.mediaType !== 'MULTIPART' && !p.message && cte && !KNOWN_CTE.has(cte)) {
      throw new FetchError('UNKNOWN-CTE', `unknown content-transfer-encoding ${cte}`);
    }
    return p.decodedSize;
  }

  /**
   * FETCH items of one message as a flat list [name, value, name, value, ...], in the order of
   * `atts` (duplicates kept). The caller writes `* <seq> FETCH (` + items + `)`; UID is not added
   * here (the UID FETCH command puts a { kind: 'UID' } in atts, rfc9051:6.4.9).
   */
  async render(m: Message, atts: readonly FetchAtt[]): Promise<ImapValue[]> {
    if (
      (m.parsed === undefined || m.parsed === null) &&
      (needsParsed(atts) ||
        (!m.imapEnvelope && atts.some((a) => a.kind === 'ENVELOPE')) ||
        (!m.imapBodyStructure && atts.some((a) => a.kind === 'BODYSTRUCTURE')))
    ) {
      await this.ensureParsed(m);
    }
    const out: ImapValue[] = [];
    for (const a of atts) {
      switch (a.kind) {
        case 'UID':
          out.push(atom('UID'), m.uid);
          break;
        case 'FLAGS':
          out.push(atom('FLAGS'), flagList(m, this.session));
          break;
        case 'INTERNALDATE':
          out.push(atom('INTERNALDATE'), formatInternalDate(m.receivedAt));
          break;
        case 'SAVEDATE':
          // rfc8514: we keep no separate save date; the internal date is when it was stored here
          // for deliveries and appends.
          out.push(atom('SAVEDATE'), formatInternalDate(m.receivedAt));
          break;
        case 'RFC822.SIZE':
          out.push(atom('RFC822.SIZE'), m.size);
          break;
        case 'MODSEQ':
          out.push(atom('MODSEQ'), [m.modseq]);
          break;
        case 'ENVELOPE':
          if (m.imapEnvelope) out.push(atom('ENVELOPE'), atom(m.imapEnvelope));
          else out.push(atom('ENVELOPE'), envelopeValue(this.parsedOf(m)?.envelope));
          break;
        case 'BODYSTRUCTURE':
          if (m.imapBodyStructure) out.push(atom('BODYSTRUCTURE'), atom(m.imapBodyStructure));
          else out.push(atom('BODYSTRUCTURE'), bodyStructure(this.tree(m), true));
          break;
        case 'BODY':
          out.push(atom('BODY'), bodyStructure(this.tree(m), false));
          break;
        case 'RFC822':
          out.push(atom('RFC822'), bytesValue(await this.read(m, 0, m.size)));
          break;
        case 'RFC822.HEADER': {
          const t = this.tree(m);
          out.push(atom('RFC822.HEADER'), bytesValue(await this.read(m, t.headerOffset, t.bodyOffset)));
          break;
        }
        case 'RFC822.TEXT': {
          const t = this.tree(m);
          out.push(atom('RFC822.TEXT'), bytesValue(await this.read(m, t.bodyOffset, t.endOffset)));
          break;
        }
        case 'BODY[]': {
          const b = await this.section(m, a.section, a.partial);
          // rfc9051:7.5.2: with a partial, the response names only the origin octet.
          out.push(atom(`BODY[${sectionSpec(a.section)}]${a.partial ? `<${a.partial.offset}>` : ''}`), b === null ? null : bytesValue(b));
          break;
        }
        case 'BINARY[]': {
          const b = await this.binary(m, a.part);
          const name = atom(`BINARY[${a.part.join('.')}]${a.partial ? `<${a.partial.offset}>` : ''}`);
          if (b === null) out.push(name, null);
          else {
            const v = sliceBuf(b, a.partial);
            // rfc3516:4.2 literal8 "~{n}": decoded content may hold NUL and bare CR/LF.
            out.push(name, v.length === 0 ? '' : concat([atom('~'), literal(v)]));
          }
          break;
        }
        case 'BINARY.SIZE': {
          const n = this.binarySize(m, a.part);
          out.push(atom(`BINARY.SIZE[${a.part.join('.')}]`), n);
          break;
        }
        case 'PREVIEW': {
          const t = this.parsedOf(m);
          const text = t ? await messagePreview((s, e) => this.read(m, s, e), t) : null;
          out.push(atom('PREVIEW'), text);
          break;
        }
      }
    }
    return out;
  }
}

/** Convenience: FETCH items of one message (see FetchRenderer.render). */
export function renderFetch(account: Account, m: Message, atts: readonly FetchAtt[], session: FetchSession): Promise<ImapValue[]> {
  return new FetchRenderer(account, session).render(m, atts);
}
