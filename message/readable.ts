/**
 * What applications see of a stored message, shared by webapi MessageGet and the incoming
 * webhook (mox-behaviour.md §1.2 and §2.4, mox's `webhook.Structure`): the MIME structure with
 * decoded file names, the first readable text/plain and text/html parts and their decoded text
 * (capped, LF line endings), and the Date header as RFC 3339.
 */
import type { Part } from './part.js';
import { decodeHeaderValue } from './decode.js';
import { decodeTransfer } from './transfer.js';
import { decodeCharset } from './charset.js';

/** Text and HTML are cut at this many bytes of UTF-8 each (mox: 1 MiB). */
export const MAX_READABLE_TEXT = 1024 * 1024;

/** mox's Structure of a part. */
export interface PartStructure {
  /** Lower case, e.g. "text/plain". */
  ContentType: string;
  /** Parameter names lower case (rfc2231 decoded by the parser). */
  ContentTypeParams: Record<string, string>;
  ContentID: string;
  /** Lower case, without parameters. */
  ContentDisposition: string;
  /** From the disposition's filename or the type's name parameter, rfc2047 decoded. */
  Filename: string;
  DecodedSize: number;
  /** Children of a multipart (an embedded message/rfc822 is not descended into, as mox). */
  Parts: PartStructure[];
}

export function partStructure(p: Part): PartStructure {
  const filename = p.contentDispositionParams['filename'] ?? p.contentTypeParams['name'] ?? '';
  return {
    ContentType: `${p.mediaType}/${p.mediaSubType}`.toLowerCase(),
    ContentTypeParams: { ...p.contentTypeParams },
    ContentID: p.contentId ?? '',
    ContentDisposition: (p.contentDisposition ?? '').toLowerCase(),
    Filename: filename ? decodeHeaderValue(filename) : '',
    DecodedSize: p.decodedSize,
    Parts: p.parts.map(partStructure),
  };
}

/** The first text/plain and text/html leaf parts that are not attachments, depth first. */
export function readableParts(root: Part): { text?: Part; html?: Part } {
  const out: { text?: Part; html?: Part } = {};
  const walk = (p: Part): void => {
    if (out.text && out.html) return;
    if (p.mediaType === 'MULTIPART') {
      for (const c of p.parts) walk(c);
      return;
    }
    if (p.mediaType !== 'TEXT' || p.contentDisposition === 'ATTACHMENT') return;
    if (p.mediaSubType === 'PLAIN' && !out.text) out.text = p;
    else if (p.mediaSubType === 'HTML' && !out.html) out.html = p;
  };
  walk(root);
  return out;
}

/**
 * Decoded text of a part, at most `max` bytes of UTF-8, CRLF → LF. `read(start, end)` returns the
 * message bytes in that range; only as much of the raw body is read as can decode to `max` bytes
 * (quoted-printable needs at most 3 raw bytes per decoded byte).
 */
export async function readableText(read: (start: number, end: number) => Promise<Buffer>, p: Part, max = MAX_READABLE_TEXT): Promise<string> {
  const raw = await read(p.bodyOffset, Math.min(p.endOffset, p.bodyOffset + 3 * max + 4096));
  let bytes = decodeTransfer(p.contentTransferEncoding, raw);
  // CRLF → LF at most halves the text, so twice the cap is enough before it.
  const cut = bytes.length > 2 * max;
  if (cut) bytes = bytes.subarray(0, 2 * max);
  let s = decodeCharset(bytes, p.contentTypeParams['charset']);
  // A multi-byte character cut in half decodes to U+FFFD: drop it.
  if (cut) s = s.replace(/\ufffd$/, '');
  s = s.replace(/\r\n/g, '\n');
  const utf8 = Buffer.from(s, 'utf8');
  if (utf8.length <= max) return s;
  let end = max;
  while (end > 0 && (utf8[end]! & 0xc0) === 0x80) end--; // not inside a UTF-8 sequence
  return utf8.subarray(0, end).toString('utf8');
}

/** An RFC 5322 Date header value as RFC 3339 (UTC); null when absent or unparsable. */
export function rfc3339Date(v: string | undefined): string | null {
  if (!v) return null;
  // Comments like "(UTC)" or "(CEST)" confuse Date.parse.
  const d = new Date(v.replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim());
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
