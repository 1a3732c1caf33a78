/**
 * A raw SMTP client for protocol tests: sends exact bytes (for smuggling and syntax cases) and
 * reads complete (multi-line) replies. STARTTLS upgrades the same connection.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';

export interface Reply {
  code: number;
  /** Enhanced code of the last line, if any. */
  enhanced?: string;
  lines: string[];
  /** The full reply text as received, lines joined by \n. */
  text: string;
}

export class RawSmtp {
  private buf = '';
  private waiters: Array<() => void> = [];
  private closed = false;
  private constructor(private sock: Socket) {
    this.listen(sock);
  }

  private listen(sock: Socket): void {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static async connect(port: number, opts: { tls?: { ca: string[] } } = {}): Promise<RawSmtp> {
    const sock = opts.tls ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: opts.tls.ca }) : connect(port, '127.0.0.1');
    await once(sock, opts.tls ? 'secureConnect' : 'connect');
    return new RawSmtp(sock);
  }

  /** The current socket (a TLSSocket after STARTTLS or with implicit TLS), e.g. for channel binding. */
  get socket(): Socket {
    return this.sock;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Read one complete reply; rejects if the connection closes first. */
  async reply(): Promise<Reply> {
    for (;;) {
      const lines = this.buf.split('\r\n');
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3} /.test(lines[i]!) || /^\d{3}$/.test(lines[i]!)) {
          const got = lines.slice(0, i + 1);
          this.buf = lines.slice(i + 1).join('\r\n');
          const last = got[got.length - 1]!;
          const m = /^(\d{3})[ -]?(?:([245]\.\d{1,3}\.\d{1,3}) )?/.exec(last)!;
          return { code: Number(m[1]), enhanced: m[2], lines: got, text: got.join('\n') };
        }
      }
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Send one command line and read its reply. */
  async cmd(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** Wait for the server to close the connection. */
  async closedByServer(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  async starttls(ca: string[]): Promise<Reply> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) return r;
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    const t: TLSSocket = tlsConnect({ socket: this.sock, servername: 'localhost', ca });
    await once(t, 'secureConnect');
    this.sock = t;
    this.listen(t);
    return r;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A full transaction with the given message text (CRLF line endings expected), returning the DATA reply. */
export async function sendRaw(c: RawSmtp, from: string, to: string[], message: string): Promise<Reply> {
  const m = await c.cmd(`MAIL FROM:<${from}>`);
  if (m.code !== 250) return m;
  let ok = 0;
  let last: Reply | undefined;
  for (const t of to) {
    last = await c.cmd(`RCPT TO:<${t}>`);
    if (last.code === 250) ok++;
  }
  if (!ok) return last!;
  const d = await c.cmd('DATA');
  if (d.code !== 354) return d;
  const stuffed = message.replace(/(^|\r\n)\./g, '$1..');
  c.write(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
  return c.reply();
}
