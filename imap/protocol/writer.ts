/**
 * Response writer: collects response text and literal bytes and writes them to the socket in
 * large chunks (a FETCH of 10,000 messages is a few hundred writes, not 10,000), waiting for the
 * socket to drain when the client reads slowly so memory stays bounded.
 */
import type { Duplex } from 'node:stream';
import { DEFAULT_MAX_QUOTED, type ImapValue, type ImapAtom, type ImapLiteral, type ImapConcat } from '../../message/imapvalue.js';

/** Buffered output above which `maybeFlush` writes. */
export const FLUSH_AT = 64 * 1024;

export class ResponseWriter {
  private chunks: Array<string | Buffer> = [];
  private size = 0;
  /** Text not yet pushed to chunks (string concatenation is cheap; one Buffer per flush). */
  private text = '';
  closed = false;

  constructor(private sock: Duplex) {}

  /** Switch to a new socket (after STARTTLS). */
  setSocket(sock: Duplex): void {
    this.sock = sock;
  }

  get pending(): number {
    return this.size + this.text.length;
  }

  /** Raw text or bytes. */
  write(x: string | Buffer): void {
    if (typeof x === 'string') {
      this.text += x;
      return;
    }
    if (this.text) {
      this.chunks.push(this.text);
      this.size += this.text.length;
      this.text = '';
    }
    this.chunks.push(x);
    this.size += x.length;
  }

  /** A response line: text + CRLF. */
  line(s: string): void {
    this.write(s + '\r\n');
  }

  /**
   * An IMAP value (message/imapvalue.ts), e.g. a FETCH item list, serialized straight into the
   * buffer: same output as formatImapValueBytes, without a Buffer per token.
   */
  value(v: ImapValue, utf8: boolean): void {
    if (v === null) this.text += 'NIL';
    else if (typeof v === 'number') this.text += String(Math.trunc(v));
    else if (typeof v === 'string') {
      if (needsLiteral(v, utf8)) this.text += `{${Buffer.byteLength(v)}}\r\n` + v;
      else this.text += quote(v);
    } else if (Array.isArray(v)) {
      this.text += '(';
      for (let i = 0; i < v.length; i++) {
        if (i) this.text += ' ';
        this.value(v[i] as ImapValue, utf8);
      }
      this.text += ')';
    } else {
      const o = v as ImapAtom | ImapLiteral | ImapConcat;
      if (o.kind === 'atom') this.text += o.value;
      else if (o.kind === 'concat') for (const x of o.values) this.value(x, utf8);
      else if (typeof o.value === 'string') this.text += `{${Buffer.byteLength(o.value)}}\r\n` + o.value;
      else {
        this.text += `{${o.value.length}}\r\n`;
        this.write(o.value);
      }
    }
  }

  /** Writes out what is buffered; resolves when the socket accepted it (drained if needed). */
  async flush(): Promise<void> {
    if (this.text) {
      this.chunks.push(this.text);
      this.size += this.text.length;
      this.text = '';
    }
    if (!this.size || this.closed) {
      this.chunks = [];
      this.size = 0;
      return;
    }
    // A lone string (a short answer, e.g. a tagged OK) is written as is: no Buffer copies.
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
    this.chunks = [];
    this.size = 0;
    const s = this.sock;
    if (s.destroyed || !s.writable) return;
    if (!s.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          s.off('drain', done);
          s.off('close', done);
          resolve();
        };
        s.on('drain', done);
        s.on('close', done);
      });
    }
  }

  /** Flush when much is buffered (call inside long loops). */
  async maybeFlush(): Promise<void> {
    if (this.size + this.text.length >= FLUSH_AT) await this.flush();
  }
}

/**
 * A string for the wire: an atom-safe word as is is NOT assumed; this always gives a quoted
 * string, or a literal when it cannot be quoted (CR, LF, NUL, or non-ASCII without UTF-8).
 */
export function quoteString(s: string, utf8: boolean): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0 || (c >= 0x80 && !utf8)) return `{${Buffer.byteLength(s)}}\r\n${s}`;
  }
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

/** An astring: a bare atom when it is one, else quoted. */
export function astring(s: string, utf8: boolean): string {
  if (s.length && /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~\]\[]+$/.test(s) && s.toUpperCase() !== 'NIL') return s;
  return quoteString(s, utf8);
}

// Same rules as message/imapvalue.ts (rfc9051:9 quoted: no CR, LF, NUL; 8-bit only with UTF-8).
function needsLiteral(s: string, utf8: boolean): boolean {
  if (s.length > DEFAULT_MAX_QUOTED) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return true;
    if (c >= 0x80 && !utf8) return true;
  }
  if (utf8 && Buffer.byteLength(s) > DEFAULT_MAX_QUOTED) return true;
  return false;
}

function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}
