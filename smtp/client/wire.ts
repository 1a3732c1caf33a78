/**
 * The client side of the SMTP wire: reading (multi-line) replies with a deadline, writing with
 * backpressure and a deadline, swapping the socket for STARTTLS, and dot-stuffing a message that
 * arrives in chunks (a file stream) for DATA (rfc5321:4.5.2).
 */
import type { Socket } from 'node:net';
import { parseReplyCodes } from '../codes.js';

/** A complete reply; `text` is all lines' texts (after the code) joined by "\n". */
export interface Reply {
  code: number;
  /** Enhanced status code of the reply (rfc2034), from the first line. */
  enhanced?: string;
  lines: string[];
  /** Human text of the reply without codes, lines joined with "\n". */
  message: string;
  /** The reply as received, lines joined with "\n" (for logs and DSN diagnostic codes). */
  raw: string;
}

/** Limits against a hostile or broken server (nodemailer uses 1 MB total as well). */
/** rfc5321:4.5.3.1.5 a reply line is at most 512 octets; accept more, but not unbounded. */
export const MAX_REPLY_LINE = 8 * 1024;
/** Lines of one multi-line reply (EHLO has a dozen); more is a broken or hostile server. */
export const MAX_REPLY_LINES = 256;
/** Unconsumed reply bytes (pipelined replies to 1000 RCPTs are ~50 KB); bounds memory per connection. */
export const MAX_PENDING_BYTES = 1024 * 1024;

/** A network-level failure: timeout, closed connection, socket error, garbage reply. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(message: string, readonly kind: 'timeout' | 'closed' | 'protocol' | 'socket', opts?: { cause?: unknown }) {
    super(message, opts);
  }
}

export class Wire {
  private buf: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  /** Bytes in `lines`. */
  private pending = 0;
  /** Woken on any socket event (data, close, error). */
  private readonly waiters = new Set<() => void>();
  private failure: WireError | undefined;
  private readonly onData = (d: Buffer) => this.data(d);
  private readonly onClose = () => this.fail(new WireError('connection closed by remote', 'closed'));
  private readonly onError = (err: Error) => this.fail(new WireError(`socket error: ${err.message}`, 'socket', { cause: err }));

  constructor(private sock: Socket) {
    this.attach(sock);
  }

  get socket(): Socket {
    return this.sock;
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('end', this.onClose);
    s.on('error', this.onError);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onClose);
    s.off('end', this.onClose);
    s.off('error', this.onError);
  }

  /**
   * Stop reading from the current socket (for STARTTLS: the TLS layer takes over the raw socket).
   * Returns whether unread bytes were pending, which after a 220 to STARTTLS is a protocol
   * violation (rfc3207:4.2, plaintext injection).
   */
  release(): boolean {
    this.detach(this.sock);
    this.sock.on('error', () => {});
    const pending = this.buf.length > 0 || this.lines.length > 0;
    this.buf = Buffer.alloc(0);
    this.lines = [];
    this.pending = 0;
    return pending;
  }

  /** Continue on a new socket (the TLS socket after STARTTLS). */
  replace(s: Socket): void {
    this.sock = s;
    this.failure = undefined;
    this.attach(s);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private fail(err: WireError): void {
    this.failure ??= err;
    this.wake();
  }

  private data(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const i = this.buf.indexOf(0x0a);
      if (i < 0) break;
      let line = this.buf.subarray(0, i);
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      this.lines.push(line.toString('utf8'));
      this.pending += line.length;
      this.buf = this.buf.subarray(i + 1);
    }
    if (this.buf.length > MAX_REPLY_LINE) this.fail(new WireError('reply line too long', 'protocol'));
    if (this.pending > MAX_PENDING_BYTES) this.fail(new WireError('too much unread reply data', 'protocol'));
    this.wake();
  }

  /** Take one complete reply from the parsed lines, if there is one. */
  private take(): Reply | undefined {
    for (let i = 0; i < this.lines.length; i++) {
      const l = this.lines[i]!;
      const m = /^(\d{3})([ -]|$)/.exec(l);
      if (!m) throw new WireError(`malformed reply line ${JSON.stringify(l.slice(0, 100))}`, 'protocol');
      if (m[2] === '-') {
        // rfc5321:4.2.1 continuation line
        if (i + 1 >= MAX_REPLY_LINES) throw new WireError('reply has too many lines', 'protocol');
        continue;
      }
      const got = this.lines.splice(0, i + 1);
      for (const g of got) this.pending -= g.length;
      const code = Number(m[1]);
      if (got.some((g) => g.slice(0, 3) !== m[1])) throw new WireError('multi-line reply with differing codes', 'protocol');
      const first = parseReplyCodes(got[0]!);
      const texts = got.map((g) => {
        const p = parseReplyCodes(g);
        return p.enhanced === first.enhanced ? p.message : g.slice(4);
      });
      return { code, enhanced: first.enhanced, lines: got.map((g) => g.slice(4)), message: texts.join('\n'), raw: got.join('\n') };
    }
    return undefined;
  }

  /** Read the next reply within timeoutMs. */
  async reply(timeoutMs: number, what: string): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.take();
      if (r) return r;
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new WireError(`timeout waiting for reply to ${what}`, 'timeout');
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Write and wait until the socket buffer drains (backpressure) within timeoutMs. */
  async write(data: Buffer | string, timeoutMs: number, what: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.sock.write(data)) return;
    const sock = this.sock;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(t);
        sock.off('drain', onDrain);
        this.waiters.delete(onEvent);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      // Replies arriving while we write wake us too; only a failure ends the wait early.
      const onEvent = () => {
        if (!this.failure) return;
        cleanup();
        reject(this.failure);
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new WireError(`timeout writing ${what}`, 'timeout'));
      }, timeoutMs);
      sock.on('drain', onDrain);
      this.waiters.add(onEvent);
    });
  }

  destroy(): void {
    this.detach(this.sock);
    this.sock.on('error', () => {});
    this.sock.destroy();
  }
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const DOT_BUF = Buffer.from('.');

/**
 * Dot-stuffing for a message that arrives in chunks (rfc5321:4.5.2): a "." at the start of a line
 * (the start of the message, or after CRLF) gets another "." before it, and the data ends with
 * "<CRLF>.<CRLF>" (adding a CRLF if the message does not end with one). Output is byte-identical
 * to smtp/data.ts `dotStuff` of the whole message, for any chunking.
 */
export class DotStuffer {
  /** At the start of a line: start of message or after CRLF. */
  private bol = true;
  private prevCR = false;
  private total = 0;

  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    const out: Buffer[] = [];
    let start = 0;
    if (this.bol && chunk[0] === DOT) out.push(DOT_BUF);
    for (let i = chunk.indexOf(LF); i >= 0 && i < chunk.length - 1; i = chunk.indexOf(LF, i + 1)) {
      const crBefore = i > 0 ? chunk[i - 1] === CR : this.prevCR;
      if (crBefore && chunk[i + 1] === DOT) {
        out.push(chunk.subarray(start, i + 1), DOT_BUF);
        start = i + 1;
      }
    }
    out.push(start === 0 ? chunk : chunk.subarray(start));
    const last = chunk[chunk.length - 1];
    this.bol = last === LF && (chunk.length >= 2 ? chunk[chunk.length - 2] === CR : this.prevCR);
    this.prevCR = last === CR;
    this.total += chunk.length;
    return out;
  }

  /** The end-of-data marker to send after the last chunk. */
  end(): Buffer {
    return Buffer.from(this.total === 0 || this.bol ? '.\r\n' : '\r\n.\r\n');
  }
}
