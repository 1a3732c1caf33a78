// Section addressing and body decoding for IMAP FETCH BODY[...] / BINARY[...] (rfc9051:6.4.5
// section-spec and part numbering), transfer decoding (rfc2045:6), charset decoding (rfc2046:4.1.2)
// and rfc2047 encoded words in header values.

import libmime from 'libmime';
import type { Part } from './part.js';
import { decodeCharset } from './charset.js';
import { decodeTransfer } from './transfer.js';

export { decodeCharset } from './charset.js';

export { decodeTransfer, decodeBase64, decodeQuotedPrintable, QPDecoder, Base64Counter } from './transfer.js';

/** A byte range [start, end) of the message file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Children as numbered by IMAP below a selected part (rfc9051:6.4.5). */
function subParts(p: Part): Part[] {
  if (p.mediaType === 'MULTIPART' && p.parts.length) return p.parts;
  if (p.message) return numbered(p.message);
  return [];
}

/** Part numbers of a message: a multipart's children, else part 1 is the message body itself. */
function numbered(msg: Part): Part[] {
  if (msg.mediaType === 'MULTIPART' && msg.parts.length) return msg.parts;
  return [msg];
}

/**
 * Resolves an IMAP part path like [1, 2] to the Part it names, or null. An empty path is the root.
 */
export function partByPath(root: Part, path: readonly number[]): Part | null {
  let cur: Part = root;
  let list = numbered(root);
  for (const n of path) {
    const next = list[n - 1];
    if (!next || !Number.isInteger(n)) return null;
    cur = next;
    list = subParts(cur);
  }
  return cur;
}

/**
 * Byte range of an IMAP section-spec (without HEADER.FIELDS lists, which the caller filters from
 * the HEADER range): "" (whole message), "HEADER", "TEXT", "1.2", "1.2.HEADER", "1.2.TEXT",
 * "1.2.MIME", "HEADER.FIELDS" / "HEADER.FIELDS.NOT" (as HEADER). Returns null for a section that
 * does not exist (e.g. "1.2.HEADER" of a part that is not message/rfc822).
 */
export function sectionRange(root: Part, section: string): ByteRange | null {
  const s = section.trim().toUpperCase();
  const m = /^(?:([1-9][0-9]*(?:\.[1-9][0-9]*)*)(?:\.(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT|MIME))?|(HEADER|HEADER\.FIELDS|HEADER\.FIELDS\.NOT|TEXT)?)$/.exec(s);
  if (!m) return null;
  const nums = m[1] ? m[1].split('.').map(Number) : [];
  const spec = m[2] ?? m[3] ?? '';
  if (nums.length === 0) {
    if (spec === '') return { start: root.headerOffset, end: root.endOffset };
    if (spec === 'TEXT') return { start: root.bodyOffset, end: root.endOffset };
    if (spec === 'MIME') return null;
    return { start: root.headerOffset, end: root.bodyOffset };
  }
  const p = partByPath(root, nums);
  if (!p) return null;
  if (spec === '') return { start: p.bodyOffset, end: p.endOffset };
  if (spec === 'MIME') return { start: p.headerOffset, end: p.bodyOffset };
  // HEADER/TEXT of a part: only for message/rfc822 parts (the embedded message).
  const msg = p.message;
  if (!msg) return null;
  if (spec === 'TEXT') return { start: msg.bodyOffset, end: msg.endOffset };
  return { start: msg.headerOffset, end: msg.bodyOffset };
}

/** Transfer-decoded body of a part, given the whole message bytes. */
export function partBody(message: Buffer, p: Part): Buffer {
  return decodeTransfer(p.contentTransferEncoding, message.subarray(p.bodyOffset, p.endOffset));
}

/** Text of a (transfer-decoded) body using the part's charset parameter (rfc2046:4.1.2). */
export function decodeText(p: Part, bytes: Buffer): string {
  return decodeCharset(bytes, p.contentTypeParams['charset']);
}

/** Decodes rfc2047 encoded words in a header value (unfolded). Never throws. */
export function decodeHeaderValue(value: string): string {
  if (value.indexOf('=?') < 0) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}
