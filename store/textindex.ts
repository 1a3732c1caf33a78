/**
 * Text of a message for the full-text index (fts.db message_text: FTS5, trigram tokens, columns
 * header and body; store/fts.ts), used by IMAP SEARCH TEXT/BODY (rfc9051:6.4.4). Runs off the
 * delivery path, in the indexer worker thread; SEARCH first waits for what is pending.
 *
 * - header: the top-level header fields as "Name: value" lines, rfc2047 words decoded.
 * - body: decoded text/plain parts and text/html parts reduced to text (one alternative of a
 *   multipart/alternative, embedded messages included), the same choice as message/text.ts.
 *   Attachments (Content-Disposition: attachment, non-text types) are not indexed: SEARCH BODY
 *   finds words of the message, not of attached files (mox and Dovecot without FTS plugins do
 *   not decode attachments either).
 * Only the byte ranges of the chosen parts are read, so a message with a large attachment costs
 * no more than its text.
 */
import { decodeCharset, decodeHeaderValue, decodeTransfer } from '../message/decode.js';
import { parseHeader } from '../message/header.js';
import { parseBuffer, type Part } from '../message/part.js';
import { htmlToText } from '../message/text.js';

/** Messages indexed per transaction (each needs its bytes read first). */
export const INDEX_BATCH = 200;
/** At most this many characters of body text per message go into the index: bounds index size
 * and indexing time for huge text bodies (mail search rarely needs more than the first 256 K). */
export const MAX_INDEX_BODY = 256 * 1024;
/** Header bytes read for indexing; real headers are a few KiB. */
export const MAX_INDEX_HEADER = 64 * 1024;
/** Raw bytes read of one text part: a base64 body of this size decodes to ~3/4 of it. */
export const MAX_INDEX_PART = 2 * 1024 * 1024;
/** A message without parse tree larger than this is indexed by header only (re-parsing is the
 * exception: every delivery path stores the tree). */
export const MAX_REPARSE = 32 * 1024 * 1024;

export type ReadRange = (start: number, end: number) => Promise<Buffer>;

/** The text parts whose content the index takes, in message order. */
export function indexedTextParts(root: Part): Part[] {
  const out: Part[] = [];
  const walk = (p: Part, depth: number): void => {
    if (depth > 60) return;
    if (p.mediaType === 'MULTIPART') {
      if (p.mediaSubType === 'ALTERNATIVE') {
        // rfc2046:5.1.4: alternatives carry the same content; prefer text/plain, else the last.
        const plain = p.parts.find((c) => c.mediaType === 'TEXT' && c.mediaSubType === 'PLAIN');
        const pick = plain ?? p.parts[p.parts.length - 1];
        if (pick) walk(pick, depth + 1);
        return;
      }
      for (const c of p.parts) walk(c, depth + 1);
      return;
    }
    if (p.message) {
      walk(p.message, depth + 1);
      return;
    }
    if (p.mediaType !== 'TEXT' || p.contentDisposition === 'ATTACHMENT') return;
    if (p.mediaSubType !== 'PLAIN' && p.mediaSubType !== 'HTML') return;
    out.push(p);
  };
  walk(root, 0);
  return out;
}

/** Decoded text of one text part (charset and transfer encoding), HTML reduced to text. */
export async function partText(read: ReadRange, p: Part, maxRaw = MAX_INDEX_PART): Promise<string> {
  const end = Math.min(p.endOffset, p.bodyOffset + maxRaw);
  const raw = await read(p.bodyOffset, end);
  const text = decodeCharset(decodeTransfer(p.contentTransferEncoding, raw), p.contentTypeParams['charset']);
  return p.mediaSubType === 'HTML' ? htmlToText(text) : text;
}

/** Header lines with rfc2047 words decoded. */
export function headerText(headerBytes: Buffer): string {
  const h = parseHeader(headerBytes);
  let s = '';
  for (const f of h.fields) if (f.key) s += `${f.name}: ${decodeHeaderValue(f.value)}\n`;
  return s;
}

/** Header and body text of a message for the index. Never throws for malformed mail. */
export async function messageText(read: ReadRange, size: number, parsed: Part | null): Promise<{ header: string; body: string }> {
  let root = parsed;
  if (!root) {
    if (size > MAX_REPARSE) {
      return { header: headerText(await read(0, Math.min(size, MAX_INDEX_HEADER))), body: '' };
    }
    root = parseBuffer(await read(0, size));
  }
  const header = headerText(await read(root.headerOffset, Math.min(root.bodyOffset, root.headerOffset + MAX_INDEX_HEADER)));
  let body = '';
  for (const p of indexedTextParts(root)) {
    if (body.length >= MAX_INDEX_BODY) break;
    try {
      body += (await partText(read, p)) + '\n';
    } catch {
      // a part we cannot decode is skipped; the rest is still indexed
    }
  }
  if (body.length > MAX_INDEX_BODY) body = body.slice(0, MAX_INDEX_BODY);
  return { header, body };
}
