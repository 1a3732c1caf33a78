// Charset decoding of text (rfc2046:4.1.2 charset parameter, rfc2231:4 charsets in parameters).
// Uses Node's ICU TextDecoder (WHATWG encoding labels).

import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(charset: string): TextDecoder | null {
  const key = charset.trim().toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key === 'utf8' ? 'utf-8' : key, { fatal: false });
    } catch {
      d = null;
    }
    if (decoders.size < 100) decoders.set(key, d);
  }
  return d;
}

/**
 * Decodes bytes in a charset (WHATWG labels via ICU: iso-8859-*, windows-125x, koi8-r, shift_jis,
 * gb18030, big5, ...). Unknown or absent charset: UTF-8 if valid, else latin1 (best effort).
 */
export function decodeCharset(bytes: Buffer, charset: string | null | undefined): string {
  if (charset) {
    const cs = charset.trim().toLowerCase();
    // us-ascii labels map to windows-1252 in WHATWG; mail in "us-ascii" with 8-bit bytes is
    // usually UTF-8, so treat it like an unknown charset.
    if (cs !== 'us-ascii' && cs !== 'ascii' && cs !== 'unknown-8bit') {
      const d = decoderFor(cs);
      if (d) return d.decode(bytes);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

