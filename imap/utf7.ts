// Modified UTF-7 for mailbox names (rfc3501:5.1.3, kept by rfc9051:5.1 for IMAP4rev1 clients that
// did not ENABLE UTF8=ACCEPT). Printable US-ASCII except "&" stands for itself; "&" is "&-"; any
// other run of characters is "&" + modified BASE64 (rfc2045 alphabet with "," for "/", no padding)
// of its UTF-16BE code units + "-".

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export class Utf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Utf7Error';
  }
}

function direct(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** Encodes a (UTF-16) string as modified UTF-7. Never throws. */
export function encodeUtf7(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x26) {
      out += '&-';
      i++;
      continue;
    }
    if (direct(c)) {
      out += s[i];
      i++;
      continue;
    }
    // rfc3501:5.1.3: a run of non-direct characters, as base64 of UTF-16BE code units.
    let j = i;
    while (j < s.length && !direct(s.charCodeAt(j))) j++;
    const bytes: number[] = [];
    for (let k = i; k < j; k++) {
      const u = s.charCodeAt(k);
      bytes.push(u >> 8, u & 0xff);
    }
    out += '&';
    let k = 0;
    for (; k + 2 < bytes.length; k += 3) {
      const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8) | bytes[k + 2]!;
      out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
    }
    const rest = bytes.length - k;
    if (rest === 1) {
      const n = bytes[k]! << 16;
      out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    } else if (rest === 2) {
      const n = (bytes[k]! << 16) | (bytes[k + 1]! << 8);
      out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
    }
    out += '-';
    i = j;
  }
  return out;
}

/**
 * Decodes modified UTF-7. Throws Utf7Error on anything rfc3501:5.1.3 does not allow: non-printable
 * or non-ASCII characters, an unterminated shift, bad base64, leftover non-zero bits, an odd number
 * of bytes, unpaired surrogates, encoded characters that must be direct, and two encoded runs
 * back to back (they must be one run).
 */
export function decodeUtf7(s: string): string {
  let out = '';
  let i = 0;
  let lastRunEnd = -1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!direct(c)) throw new Utf7Error('non-printable or non-ASCII character in modified UTF-7');
    if (c !== 0x26) {
      out += s[i];
      i++;
      continue;
    }
    const end = s.indexOf('-', i + 1);
    if (end < 0) throw new Utf7Error('unterminated "&" shift');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastRunEnd === i) throw new Utf7Error('adjacent encoded runs');
    let bits = 0;
    let nbits = 0;
    const units: number[] = [];
    let pending = -1;
    for (let k = i + 1; k < end; k++) {
      const ch = s.charCodeAt(k);
      const v = ch < 128 ? DECODE[ch]! : -1;
      if (v < 0) throw new Utf7Error('invalid base64 character in modified UTF-7');
      bits = (bits << 6) | v;
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        const byte = (bits >> nbits) & 0xff;
        bits &= (1 << nbits) - 1;
        if (pending < 0) pending = byte;
        else {
          units.push((pending << 8) | byte);
          pending = -1;
        }
      }
    }
    if (pending >= 0 || nbits >= 6 || bits !== 0) throw new Utf7Error('bad padding in modified UTF-7');
    let run = '';
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (u >= 0xd800 && u <= 0xdbff) {
        const lo = units[k + 1];
        if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw new Utf7Error('unpaired surrogate');
        run += String.fromCharCode(u, lo);
        k++;
        continue;
      }
      if (u >= 0xdc00 && u <= 0xdfff) throw new Utf7Error('unpaired surrogate');
      if (direct(u)) throw new Utf7Error('encoded printable ASCII character');
      run += String.fromCharCode(u);
    }
    out += run;
    i = end + 1;
    lastRunEnd = i;
  }
  return out;
}

/** decodeUtf7, or null when the input is not valid modified UTF-7. */
export function tryDecodeUtf7(s: string): string | null {
  try {
    return decodeUtf7(s);
  } catch {
    return null;
  }
}
