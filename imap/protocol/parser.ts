/**
 * Tokenizer for one assembled IMAP command (reader.ts keeps literals inline): the productions of
 * rfc9051:9 that commands are made of. Every error is an ImapError BAD; nothing else is thrown
 * (checked by the property test).
 */
import { ImapError } from '../errors.js';
import type { SeqRange, SequenceSet } from '../seqset.js';
import type { ImapDate } from '../search/types.js';

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;

// rfc9051:9 atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
const ATOM_SPECIAL = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ATOM_SPECIAL[c] = 1;
ATOM_SPECIAL[0x7f] = 1;
for (const ch of '(){ %*"\\]') ATOM_SPECIAL[ch.charCodeAt(0)] = 1;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Largest mod-sequence value (rfc7162:7: 63-bit) we accept; JS numbers are exact to 2^53. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const utf8 = new TextDecoder('utf-8');

export class Parser {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    /** Stop position (the command's end, without the final CRLF). */
    readonly end: number = stripEnd(buf),
  ) {}

  error(msg: string): ImapError {
    return new ImapError('BAD', undefined, `${msg} (at byte ${this.pos})`);
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  peek(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  peekChar(c: string): boolean {
    return this.peek() === c.charCodeAt(0);
  }

  /** Consumes `s` (case-insensitive) if it is next. */
  take(s: string): boolean {
    if (this.pos + s.length > this.end) return false;
    for (let i = 0; i < s.length; i++) {
      let a = this.buf[this.pos + i]!;
      let b = s.charCodeAt(i);
      if (a >= 0x61 && a <= 0x7a) a -= 0x20;
      if (b >= 0x61 && b <= 0x7a) b -= 0x20;
      if (a !== b) return false;
    }
    this.pos += s.length;
    return true;
  }

  /** Consumes `s` if it is next followed by a non-atom character (a whole word). */
  takeWord(s: string): boolean {
    const save = this.pos;
    if (!this.take(s)) return false;
    if (this.pos < this.end && !ATOM_SPECIAL[this.buf[this.pos]!] && this.buf[this.pos] !== 0x5b && this.buf[this.pos] !== 0x2e) {
      this.pos = save;
      return false;
    }
    return true;
  }

  expect(s: string): void {
    if (!this.take(s)) throw this.error(`expected ${JSON.stringify(s)}`);
  }

  sp(): void {
    if (this.peek() !== SP) throw this.error('expected space');
    this.pos++;
  }

  takeSp(): boolean {
    if (this.peek() !== SP) return false;
    this.pos++;
    return true;
  }

  expectEnd(): void {
    if (!this.atEnd()) throw this.error('unexpected text at end of command');
  }

  /** rfc9051:9 atom (1*ATOM-CHAR). */
  atom(): string {
    const start = this.pos;
    while (this.pos < this.end && !ATOM_SPECIAL[this.buf[this.pos]!]) this.pos++;
    if (this.pos === start) throw this.error('expected atom');
    return this.buf.toString('latin1', start, this.pos);
  }

  /** An atom made of the given extra characters too (e.g. "]" for astring, "%*" for list-mailbox). */
  private chars(extra: string): string {
    const start = this.pos;
    while (this.pos < this.end) {
      const c = this.buf[this.pos]!;
      if (ATOM_SPECIAL[c] && !extra.includes(String.fromCharCode(c))) break;
      // 8-bit bytes are allowed in atoms only as UTF-8 (rfc6855 with UTF8=ACCEPT); be lenient.
      this.pos++;
    }
    if (this.pos === start) throw this.error('expected word');
    return utf8.decode(this.buf.subarray(start, this.pos));
  }

  /** rfc9051:9 tag: 1*<any ASTRING-CHAR except "+">. */
  tag(): string {
    const start = this.pos;
    while (this.pos < this.end) {
      const c = this.buf[this.pos]!;
      if ((ATOM_SPECIAL[c] && c !== 0x5d) || c === 0x2b || c >= 0x80) break;
      this.pos++;
    }
    if (this.pos === start) throw this.error('expected tag');
    return this.buf.toString('latin1', start, this.pos);
  }

  /** rfc9051:9 quoted string, or undefined when the next token is not one. Bytes. */
  private quotedBytes(): Buffer {
    this.pos++; // opening quote
    const out: number[] = [];
    let start = this.pos;
    const pieces: Buffer[] = [];
    for (;;) {
      if (this.pos >= this.end) throw this.error('unterminated quoted string');
      const c = this.buf[this.pos]!;
      if (c === 0x22) {
        pieces.push(this.buf.subarray(start, this.pos));
        this.pos++;
        break;
      }
      if (c === CR || c === LF) throw this.error('line break in quoted string');
      if (c === 0x5c) {
        const n = this.buf[this.pos + 1];
        if (this.pos + 1 >= this.end || (n !== 0x22 && n !== 0x5c)) throw this.error('bad escape in quoted string');
        pieces.push(this.buf.subarray(start, this.pos));
        this.pos += 2;
        start = this.pos - 1;
        continue;
      }
      this.pos++;
    }
    void out;
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  /** rfc9051:9 literal / literal8 ("~{n}"), as inlined by the reader. */
  private literalBytes(): Buffer {
    if (this.peekChar('~')) this.pos++;
    this.expect('{');
    const start = this.pos;
    while (this.pos < this.end && this.buf[this.pos]! >= 0x30 && this.buf[this.pos]! <= 0x39) this.pos++;
    if (this.pos === start || this.pos - start > 20) throw this.error('bad literal size');
    const n = Number(this.buf.toString('latin1', start, this.pos));
    this.take('+');
    this.expect('}');
    if (this.buf[this.pos] === CR) this.pos++;
    if (this.buf[this.pos] !== LF) throw this.error('expected line end after literal size');
    this.pos++;
    if (this.pos + n > this.buf.length) throw this.error('literal longer than the command');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  isString(): boolean {
    const c = this.peek();
    return c === 0x22 || c === 0x7b || (c === 0x7e && this.buf[this.pos + 1] === 0x7b);
  }

  /** rfc9051:9 string (quoted / literal) as bytes. */
  stringBytes(): Buffer {
    const c = this.peek();
    if (c === 0x22) return this.quotedBytes();
    if (c === 0x7b || c === 0x7e) return this.literalBytes();
    throw this.error('expected string');
  }

  string(): string {
    return utf8.decode(this.stringBytes());
  }

  /** rfc9051:9 astring = 1*ASTRING-CHAR / string. */
  astring(): string {
    if (this.isString()) return this.string();
    return this.chars(']');
  }

  /** rfc9051:9 nstring = string / nil. */
  nstring(): string | null {
    if (this.takeWord('NIL')) return null;
    return this.string();
  }

  /** rfc9051:9 list-mailbox = 1*list-char / string. */
  listMailbox(): string {
    if (this.isString()) return this.string();
    return this.chars(']%*');
  }

  /** Digits as a number; undefined if none. */
  private digits(): number | undefined {
    const start = this.pos;
    while (this.pos < this.end && this.buf[this.pos]! >= 0x30 && this.buf[this.pos]! <= 0x39) this.pos++;
    if (this.pos === start) return undefined;
    if (this.pos - start > 19) throw this.error('number too large');
    const n = Number(this.buf.toString('latin1', start, this.pos));
    if (n > MAX_SAFE) throw this.error('number too large');
    return n;
  }

  /** rfc9051:9 number (32-bit unsigned). */
  number(): number {
    const n = this.digits();
    if (n === undefined) throw this.error('expected number');
    if (n > 0xffffffff) throw this.error('number too large');
    return n;
  }

  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw this.error('expected non-zero number');
    return n;
  }

  /** rfc9051:9 number64 / mod-sequence-value (up to 2^53 here). */
  number64(): number {
    const n = this.digits();
    if (n === undefined) throw this.error('expected number');
    return n;
  }

  /** rfc9051:9 sequence-set, with "$" (rfc5182) when allowed. */
  sequenceSet(allowSaved = true): SequenceSet {
    if (this.peekChar('$')) {
      if (!allowSaved) throw this.error('"$" not allowed here');
      this.pos++;
      return { kind: 'saved' };
    }
    const ranges: SeqRange[] = [];
    for (;;) {
      const first = this.seqNumber();
      let last = first;
      if (this.take(':')) last = this.seqNumber();
      ranges.push({ first, last });
      if (!this.take(',')) break;
    }
    return { kind: 'ranges', ranges };
  }

  private seqNumber(): number | '*' {
    if (this.take('*')) return '*';
    return this.nzNumber();
  }

  /** rfc9051:9 flag: "\Seen" etc, flag-keyword (atom), or flag-extension. */
  flag(): string {
    if (this.peekChar('\\')) {
      this.pos++;
      return '\\' + this.atom();
    }
    return this.atom();
  }

  /** rfc9051:9 flag-list = "(" [flag *(SP flag)] ")". */
  flagList(): string[] {
    this.expect('(');
    const out: string[] = [];
    if (this.take(')')) return out;
    for (;;) {
      out.push(this.flag());
      if (this.take(')')) return out;
      this.sp();
    }
  }

  /** rfc9051:9 date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year. */
  date(): ImapDate {
    const quoted = this.take('"');
    const day = this.number();
    this.expect('-');
    const mon = MONTHS.indexOf(this.buf.toString('latin1', this.pos, this.pos + 3).toLowerCase());
    if (mon < 0) throw this.error('bad month');
    this.pos += 3;
    this.expect('-');
    const year = this.number();
    if (quoted) this.expect('"');
    if (day < 1 || day > 31 || year < 1 || year > 9999) throw this.error('bad date');
    return { year, month: mon + 1, day };
  }

  /** rfc9051:9 date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
  dateTime(): Date {
    this.expect('"');
    if (this.peek() === SP) this.pos++;
    const day = this.number();
    this.expect('-');
    const mon = MONTHS.indexOf(this.buf.toString('latin1', this.pos, this.pos + 3).toLowerCase());
    if (mon < 0) throw this.error('bad month');
    this.pos += 3;
    this.expect('-');
    const year = this.number();
    this.sp();
    const time = /^(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"/.exec(this.buf.toString('latin1', this.pos, this.pos + 15));
    if (!time) throw this.error('bad time');
    this.pos += time[0].length;
    const [h, mi, s, sign, zh, zm] = [Number(time[1]), Number(time[2]), Number(time[3]), time[4], Number(time[5]), Number(time[6])];
    if (day < 1 || day > 31 || h > 23 || mi > 59 || s > 60 || zh > 23 || zm > 59 || year < 1000 || year > 9999) throw this.error('bad date-time');
    const offset = (sign === '-' ? -1 : 1) * (zh * 60 + zm);
    const ms = Date.UTC(year, mon, day, h, mi, Math.min(s, 59)) - offset * 60_000;
    return new Date(ms);
  }
}

/** The end of the command: before the final CRLF (or LF). */
function stripEnd(b: Buffer): number {
  let n = b.length;
  if (n && b[n - 1] === LF) n--;
  if (n && b[n - 1] === CR) n--;
  return n;
}
