/**
 * Assembles complete IMAP commands from socket bytes: a command is a line, or several lines joined
 * by literals (rfc9051:4.3 `{n}` synchronising, which need a "+" continuation from the server
 * before the client sends the bytes; rfc7888 LITERAL+ `{n+}`, which do not; rfc3516 `~{n}`
 * literal8). The assembled command keeps the literal markers and bytes in place, so the parser
 * (parser.ts) reads it as one buffer.
 *
 * Limits (mox §9.3): a line of at most MAX_LINE bytes; non-APPEND literals at most
 * MAX_LITERAL each, MAX_LITERALS_TOTAL per command and MAX_LITERAL_COUNT per command; APPEND
 * literals up to the append limit. A synchronising literal over a limit is refused before the
 * client sends it ("BAD [TOOBIG]"); a non-synchronising one is read and thrown away, then the
 * command is refused.
 *
 * The reader does no I/O itself: `push(chunk)` adds input, `next()` returns the next event.
 */

/** Longest line (without literal data) we buffer; mox uses a 16 KiB command buffer. */
export const MAX_LINE = 16 * 1024;
/** Largest literal in a command other than APPEND (mox: 100 KiB). */
export const MAX_LITERAL = 100 * 1024;
/** Total literal bytes in a command other than APPEND (mox: 1 MB). */
export const MAX_LITERALS_TOTAL = 1_000_000;
/** Literals per command (mox: 1000). */
export const MAX_LITERAL_COUNT = 1000;

export type ReaderEvent =
  /** A complete command: its bytes with literals inline. */
  | { kind: 'command'; data: Buffer }
  /** A synchronising literal was announced and accepted: send a continuation request. */
  | { kind: 'continue' }
  /**
   * The command was refused while being read (too big, line too long). For a synchronising
   * literal the client sends nothing more for this command. `fatal`: the connection should close.
   */
  | { kind: 'refused'; tag: string | undefined; code: string; message: string; fatal: boolean }
  /** A line outside command mode (AUTHENTICATE response, IDLE's DONE), without CRLF. */
  | { kind: 'line'; line: Buffer };

const LITERAL_END = /(~?)\{(\d{1,20})(\+?)\}$/;

export class CommandReader {
  private chunks: Buffer[] = [];
  private avail = 0;
  /** Parts of the command being assembled. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private literalLeft = 0;
  /** Throwing away the rest of a refused command (non-synchronising literal over a limit). */
  private discarding: { tag: string | undefined; code: string; message: string } | undefined;
  private literalsTotal = 0;
  private literalCount = 0;
  /** Line mode: the next line is returned as is (AUTHENTICATE, IDLE). */
  lineMode = false;

  constructor(private readonly appendLimit: () => number) {}

  /** Bytes buffered but not yet consumed. */
  get buffered(): number {
    return this.avail;
  }

  /** Whether a command is partially read (e.g. in the middle of a literal). */
  get midCommand(): boolean {
    return this.partsLen > 0 || this.literalLeft > 0 || this.discarding !== undefined;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.avail += chunk.length;
  }

  /** Drop all buffered input (after STARTTLS, rfc9051:6.2.1). */
  clear(): void {
    this.chunks = [];
    this.avail = 0;
    this.resetCommand();
  }

  private resetCommand(): void {
    this.parts = [];
    this.partsLen = 0;
    this.literalLeft = 0;
    this.discarding = undefined;
    this.literalsTotal = 0;
    this.literalCount = 0;
  }

  private take(n: number): Buffer {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        out.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        out.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.avail -= n;
    return out.length === 1 ? out[0]! : Buffer.concat(out, n);
  }

  /** Index just past the next LF in the buffered input, or -1. */
  private findLF(): number {
    let off = 0;
    for (const c of this.chunks) {
      const i = c.indexOf(10);
      if (i >= 0) return off + i + 1;
      off += c.length;
    }
    return -1;
  }

  /** The next event, or undefined when more input is needed. */
  next(): ReaderEvent | undefined {
    for (;;) {
      if (this.literalLeft > 0) {
        if (this.avail === 0) return undefined;
        const n = Math.min(this.avail, this.literalLeft);
        const b = this.take(n);
        this.literalLeft -= n;
        if (!this.discarding) {
          this.parts.push(b);
          this.partsLen += n;
        }
        continue;
      }
      const end = this.findLF();
      if (end < 0) {
        if (this.avail > MAX_LINE) {
          const tag = this.lineMode ? undefined : this.currentTag(this.chunks[0]!);
          this.clear();
          return { kind: 'refused', tag, code: 'TOOBIG', message: 'line too long', fatal: true };
        }
        return undefined;
      }
      if (end > MAX_LINE + 2) {
        const tag = this.lineMode ? undefined : this.currentTag(this.chunks[0]!);
        this.clear();
        return { kind: 'refused', tag, code: 'TOOBIG', message: 'line too long', fatal: true };
      }
      const line = this.take(end);
      if (this.lineMode && this.partsLen === 0 && !this.discarding) {
        return { kind: 'line', line: stripEOL(line) };
      }
      const text = stripEOL(line);
      const first = this.partsLen === 0;
      if (!this.discarding) {
        this.parts.push(line);
        this.partsLen += line.length;
      }
      const m = LITERAL_END.exec(text.toString('latin1').slice(-30));
      if (!m) {
        if (this.discarding) {
          const d = this.discarding;
          this.resetCommand();
          return { kind: 'refused', tag: d.tag, code: d.code, message: d.message, fatal: false };
        }
        const data = joinParts(this.parts, this.partsLen);
        this.resetCommand();
        return { kind: 'command', data };
      }
      const size = Number(m[2]);
      const sync = m[3] !== '+';
      if (this.discarding) {
        if (sync) {
          // The client waits for a continuation we do not send; the command is over.
          const d = this.discarding;
          this.resetCommand();
          return { kind: 'refused', tag: d.tag, code: d.code, message: d.message, fatal: false };
        }
        this.literalLeft = size;
        continue;
      }
      const head = (first ? line : this.parts[0]!).toString('latin1');
      const tag = this.currentTag(this.parts[0]!);
      const isAppend = /^[^ ]+ (?:UID )?APPEND /i.test(head);
      this.literalCount++;
      this.literalsTotal += size;
      let refusal: string | undefined;
      if (isAppend) {
        if (size > this.appendLimit()) refusal = `literal too big, the limit is ${this.appendLimit()} bytes`;
      } else if (size > MAX_LITERAL) refusal = `literal too big, the limit is ${MAX_LITERAL} bytes`;
      else if (this.literalsTotal > MAX_LITERALS_TOTAL) refusal = 'literals in command too big';
      else if (this.literalCount > MAX_LITERAL_COUNT) refusal = 'too many literals in command';
      if (refusal) {
        if (sync) {
          this.resetCommand();
          return { kind: 'refused', tag, code: 'TOOBIG', message: refusal, fatal: false };
        }
        // rfc7888:4 the bytes are on their way: read them, drop them, then refuse the command.
        this.parts = [];
        this.partsLen = 0;
        this.discarding = { tag, code: 'TOOBIG', message: refusal };
        this.literalLeft = size;
        continue;
      }
      this.literalLeft = size;
      if (sync) return { kind: 'continue' };
    }
  }

  /** The tag at the start of a command line, if it looks like one. */
  private currentTag(first: Buffer): string | undefined {
    const s = first.subarray(0, Math.min(first.length, 200)).toString('latin1');
    const m = /^([^\s(){%*"\\\]+]+) /.exec(s);
    return m?.[1];
  }
}

/**
 * The parts of a command as one buffer. Parts cut from the same socket chunk one after the other
 * (the usual case: an APPEND line, its literal and the line end in one read) are already one
 * range of memory: a view of it, without copying the message.
 */
function joinParts(parts: Buffer[], len: number): Buffer {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  let next = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.buffer !== first.buffer || p.byteOffset !== next) return Buffer.concat(parts, len);
    next += p.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, len);
}

function stripEOL(b: Buffer): Buffer {
  let n = b.length;
  if (n && b[n - 1] === 10) n--;
  if (n && b[n - 1] === 13) n--;
  return b.subarray(0, n);
}
