// Header block parsing: rfc5322:2.2 (fields), rfc5322:2.2.3 (folding), rfc6532:3.2 (UTF-8 in
// header values). Works on the raw bytes of a header block so IMAP can return fields verbatim
// (BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)], rfc9051:6.4.5).

import { isUtf8 } from 'node:buffer';

/** One header field as it appears in the message. */
export interface HeaderField {
  /** Field name as written (without the colon, surrounding whitespace removed). "" for a garbage line. */
  readonly name: string;
  /** Lower-cased name for case-insensitive lookup. */
  readonly key: string;
  /** The field's raw bytes, including continuation lines and the final line ending. */
  readonly raw: Buffer;
  /** The value unfolded (line endings before whitespace removed), leading/trailing whitespace
   * trimmed, bytes decoded as UTF-8 (or latin1 when not valid UTF-8). Still RFC 2047-encoded. */
  readonly value: string;
}

/** Decodes header bytes: UTF-8 when valid (rfc6532), otherwise latin1 so no byte is lost. */
export function decodeHeaderBytes(b: Buffer): string {
  return isUtf8(b) ? b.toString('utf8') : b.toString('latin1');
}

/** True if any byte has the high bit set (8-bit header data, rfc6532 or broken). */
export function has8bit(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return true;
  return false;
}

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;
const COLON = 58;

/** Removes CRLF/LF line breaks (unfolding, rfc5322:2.2.3). Bare CRs are kept. */
function unfold(s: string): string {
  if (s.indexOf('\n') < 0) return s;
  return s.replace(/\r?\n/g, '');
}

/** The parsed header block of a message or MIME part. */
export class Header {
  /** Fields in the order they appear. */
  readonly fields: HeaderField[];
  private index: Map<string, HeaderField[]> | undefined;

  constructor(fields: HeaderField[]) {
    this.fields = fields;
  }

  private byKey(): Map<string, HeaderField[]> {
    if (!this.index) {
      const m = new Map<string, HeaderField[]>();
      for (const f of this.fields) {
        if (!f.key) continue;
        const l = m.get(f.key);
        if (l) l.push(f);
        else m.set(f.key, [f]);
      }
      this.index = m;
    }
    return this.index;
  }

  /** Value of the first field with this name (case-insensitive), or undefined. */
  get(name: string): string | undefined {
    return this.byKey().get(name.toLowerCase())?.[0]?.value;
  }

  /** Values of all fields with this name, in order. */
  getAll(name: string): string[] {
    return (this.byKey().get(name.toLowerCase()) ?? []).map((f) => f.value);
  }

  has(name: string): boolean {
    return this.byKey().has(name.toLowerCase());
  }

  /**
   * Raw bytes of the fields whose names are (not, when `not` is true) in `names`, followed by the
   * blank line that ends a header, as IMAP BODY[HEADER.FIELDS (...)] returns them (rfc9051:6.4.5).
   */
  selectRaw(names: readonly string[], not = false): Buffer {
    const set = new Set(names.map((n) => n.toLowerCase()));
    const out: Buffer[] = [];
    for (const f of this.fields) {
      if (!f.key) continue;
      if (set.has(f.key) !== not) out.push(f.raw);
    }
    out.push(Buffer.from('\r\n'));
    return Buffer.concat(out);
  }
}

/**
 * Parses a header block. `buf` may include the blank line that ends the header and may use CRLF
 * or bare LF line endings. Never throws. Lines that are not fields (no colon) are kept with an
 * empty name so raw output stays complete. Parsing stops at the first empty line.
 */
export function parseHeader(buf: Buffer): Header {
  const fields: HeaderField[] = [];
  let pos = 0;
  const n = buf.length;
  while (pos < n) {
    // A field: the first line plus continuation lines starting with SP/TAB.
    const start = pos;
    let lineEnd = buf.indexOf(LF, pos);
    if (lineEnd < 0) lineEnd = n;
    else lineEnd++;
    // Empty line: end of header.
    if (lineEnd - start === 1 || (lineEnd - start === 2 && buf[start] === CR && buf[start + 1] === LF)) break;
    if (start === lineEnd) break;
    pos = lineEnd;
    while (pos < n && (buf[pos] === SP || buf[pos] === TAB)) {
      let e = buf.indexOf(LF, pos);
      pos = e < 0 ? n : e + 1;
    }
    const raw = buf.subarray(start, pos);
    const colon = raw.indexOf(COLON);
    // A name may not contain whitespace-only/line breaks; a colon after a line break means garbage.
    const firstNl = raw.indexOf(LF);
    if (colon <= 0 || (firstNl >= 0 && colon > firstNl) || raw[0] === SP || raw[0] === TAB) {
      fields.push({ name: '', key: '', raw, value: unfold(decodeHeaderBytes(raw)).trim() });
      continue;
    }
    const name = raw.subarray(0, colon).toString('latin1').trim();
    fields.push(new Field(name, raw, colon + 1));
  }
  return new Header(fields);
}

/**
 * A field whose value is decoded when first asked for: most fields of a message (Received,
 * DKIM-Signature, ARC stacks) are never looked at by value.
 */
class Field implements HeaderField {
  readonly key: string;
  private decoded: string | undefined;
  constructor(
    readonly name: string,
    readonly raw: Buffer,
    private readonly valueStart: number,
  ) {
    this.key = name.toLowerCase();
  }
  get value(): string {
    return (this.decoded ??= unfold(decodeHeaderBytes(this.raw.subarray(this.valueStart))).trim());
  }
}

/** A structured header value like Content-Type or Content-Disposition: value plus parameters. */
export interface ParamValue {
  value: string;
  /** Lower-case names; rfc2231 continuations joined and charset-decoded. */
  params: Record<string, string>;
}

/** Removes rfc5322:3.2.2 comments outside quoted strings. */
function stripComments(s: string): string {
  if (s.indexOf('(') < 0) return s;
  let out = '';
  let depth = 0;
  let inQ = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && (inQ || depth)) {
      if (!depth) out += c + s[i + 1];
      i++;
    } else if (inQ) {
      out += c;
      if (c === '"') inQ = false;
    } else if (c === '(') depth++;
    else if (c === ')' && depth) depth--;
    else if (!depth) {
      if (c === '"') inQ = true;
      out += c;
    }
  }
  return out;
}

function pctDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of Buffer.from(s[i]!, 'utf8')) out.push(b);
  }
  return Buffer.from(out);
}

/**
 * Parses "value; name=token; name="quoted"; name*=utf-8''%E2%82%AC; name*0*=...; name*1=..."
 * (rfc2045:5.1 parameters, rfc2231:3-4 continuations and charsets). Lenient: parameters without
 * "=" are skipped, unterminated quotes run to the end. `decode` turns bytes in a charset into text.
 */
export function parseParamValue(input: string, decode: (b: Buffer, charset: string | null) => string): ParamValue {
  const s = stripComments(input);
  const semi = s.indexOf(';');
  const value = (semi < 0 ? s : s.slice(0, semi)).trim();
  const raw = new Map<string, string>(); // name as written (lower-case, with * parts) -> value
  let i = semi < 0 ? s.length : semi + 1;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ';' || s[i] === ' ' || s[i] === '\t')) i++;
    const eq = s.indexOf('=', i);
    const nextSemi = s.indexOf(';', i);
    if (eq < 0 || (nextSemi >= 0 && nextSemi < eq)) {
      i = nextSemi < 0 ? n : nextSemi + 1;
      continue;
    }
    const name = s.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let v = '';
    if (s[i] === '"') {
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        v += s[i];
        i++;
      }
      i++;
      const ns = s.indexOf(';', i);
      i = ns < 0 ? n : ns + 1;
    } else {
      const ns = s.indexOf(';', i);
      v = (ns < 0 ? s.slice(i) : s.slice(i, ns)).trim();
      i = ns < 0 ? n : ns + 1;
    }
    // "__proto__" would not become an own property of the params object; skip it.
    if (name && name !== '__proto__' && !raw.has(name)) raw.set(name, v);
  }
  // rfc2231:3 continuations (name*0, name*1*, ...) and rfc2231:4 extended values (name*).
  const params: Record<string, string> = {};
  const ext = new Map<string, { idx: number; enc: boolean; v: string }[]>();
  for (const [name, v] of raw) {
    const m = /^(.+?)\*(?:(\d+)(\*)?)?$/.exec(name);
    if (!m) {
      params[name] = v;
      continue;
    }
    const base = m[1]!;
    const idx = m[2] === undefined ? 0 : Number(m[2]);
    const enc = m[2] === undefined ? true : m[3] === '*';
    const l = ext.get(base) ?? [];
    l.push({ idx, enc, v });
    ext.set(base, l);
  }
  for (const [base, segs] of ext) {
    segs.sort((a, b) => a.idx - b.idx);
    let charset: string | null = null;
    const bufs: Buffer[] = [];
    segs.forEach((seg, k) => {
      let v = seg.v;
      if (seg.enc && k === 0) {
        // charset'language'value
        const q1 = v.indexOf("'");
        const q2 = q1 < 0 ? -1 : v.indexOf("'", q1 + 1);
        if (q2 >= 0) {
          charset = v.slice(0, q1) || null;
          v = v.slice(q2 + 1);
        }
      }
      bufs.push(seg.enc ? pctDecode(v) : Buffer.from(v, 'utf8'));
    });
    try {
      params[base] = decode(Buffer.concat(bufs), charset);
    } catch {
      params[base] = Buffer.concat(bufs).toString('latin1');
    }
  }
  return { value, params };
}
