// IMAP data values and their wire syntax (rfc9051:4: atom, number, string = quoted / literal, NIL,
// parenthesized list). Shared by ENVELOPE/BODYSTRUCTURE here and by the IMAP server's responses.

export interface ImapAtom {
  readonly kind: 'atom';
  readonly value: string;
}
export interface ImapLiteral {
  readonly kind: 'literal';
  readonly value: string | Buffer;
}
/** Values written one after another without separator, e.g. "1*body" in body-type-mpart. */
export interface ImapConcat {
  readonly kind: 'concat';
  readonly values: readonly ImapValue[];
}
/** null is NIL; strings are emitted quoted, or as literal when they must be; arrays are lists. */
export type ImapValue = null | number | string | ImapAtom | ImapLiteral | ImapConcat | readonly ImapValue[];

export function atom(value: string): ImapAtom {
  return { kind: 'atom', value };
}
export function literal(value: string | Buffer): ImapLiteral {
  return { kind: 'literal', value };
}
export function concat(values: readonly ImapValue[]): ImapConcat {
  return { kind: 'concat', values };
}

export interface FormatOptions {
  /** Client enabled UTF8=ACCEPT (rfc9051:6.3.1 / rfc6855): non-ASCII may go in quoted strings. */
  utf8?: boolean;
  /** Strings longer than this (in bytes) are sent as literals. */
  maxQuoted?: number;
}

/** Quoted strings longer than this become literals: keeps lines short for clients that limit them. */
export const DEFAULT_MAX_QUOTED = 1024;

function needsLiteral(s: string, opts: FormatOptions): boolean {
  const max = opts.maxQuoted ?? DEFAULT_MAX_QUOTED;
  if (s.length > max) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // rfc9051:9 quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR excludes CR, LF and NUL; non-ASCII
    // only with UTF8=ACCEPT.
    if (c === 13 || c === 10 || c === 0) return true;
    if (c >= 0x80 && !opts.utf8) return true;
  }
  if (opts.utf8 && Buffer.byteLength(s) > max) return true;
  return false;
}

function quote(s: string): string {
  if (s.indexOf('"') < 0 && s.indexOf('\\') < 0) return '"' + s + '"';
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

function emit(v: ImapValue, opts: FormatOptions, out: (string | Buffer)[]): void {
  if (v === null) out.push('NIL');
  else if (typeof v === 'number') out.push(String(Math.trunc(v)));
  else if (typeof v === 'string') {
    if (needsLiteral(v, opts)) out.push(`{${Buffer.byteLength(v)}}\r\n`, v);
    else out.push(quote(v));
  } else if (Array.isArray(v)) {
    out.push('(');
    for (let i = 0; i < v.length; i++) {
      if (i) out.push(' ');
      emit(v[i] as ImapValue, opts, out);
    }
    out.push(')');
  } else {
    const o = v as ImapAtom | ImapLiteral | ImapConcat;
    if (o.kind === 'atom') out.push(o.value);
    else if (o.kind === 'concat') for (const x of o.values) emit(x, opts, out);
    else {
      const len = typeof o.value === 'string' ? Buffer.byteLength(o.value) : o.value.length;
      out.push(`{${len}}\r\n`, o.value);
    }
  }
}

/** emit() into one string (Buffer literals decoded as UTF-8): no array of tokens. */
function emitString(v: ImapValue, opts: FormatOptions): string {
  if (v === null) return 'NIL';
  if (typeof v === 'number') return String(Math.trunc(v));
  if (typeof v === 'string') return needsLiteral(v, opts) ? `{${Buffer.byteLength(v)}}\r\n${v}` : quote(v);
  if (Array.isArray(v)) {
    let s = '(';
    for (let i = 0; i < v.length; i++) {
      if (i) s += ' ';
      s += emitString(v[i] as ImapValue, opts);
    }
    return s + ')';
  }
  const o = v as ImapAtom | ImapLiteral | ImapConcat;
  if (o.kind === 'atom') return o.value;
  if (o.kind === 'concat') {
    let s = '';
    for (const x of o.values) s += emitString(x, opts);
    return s;
  }
  if (typeof o.value === 'string') return `{${Buffer.byteLength(o.value)}}\r\n${o.value}`;
  return `{${o.value.length}}\r\n${o.value.toString('utf8')}`;
}

/** Serializes an IMAP value as a string (Buffer literals are decoded as UTF-8). */
export function formatImapValue(v: ImapValue, opts: FormatOptions = {}): string {
  return emitString(v, opts);
}

/** Serializes an IMAP value as bytes (exact for Buffer literals). */
export function formatImapValueBytes(v: ImapValue, opts: FormatOptions = {}): Buffer {
  const out: (string | Buffer)[] = [];
  emit(v, opts, out);
  // Runs of strings are joined first: one Buffer per run, not one per token (a FETCH of 10,000
  // envelopes has hundreds of thousands of tokens).
  const parts: Buffer[] = [];
  let run = '';
  for (const x of out) {
    if (typeof x === 'string') run += x;
    else {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(x);
    }
  }
  if (run || parts.length === 0) parts.push(Buffer.from(run, 'utf8'));
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
