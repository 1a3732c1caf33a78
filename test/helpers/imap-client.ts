/**
 * A raw IMAP client for protocol tests: sends exact bytes and reads responses up to a tagged
 * completion, keeping the untagged lines (with literals joined into their line). STARTTLS
 * upgrades the same connection.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';

export interface Tagged {
  /** "OK", "NO" or "BAD". */
  status: string;
  /** The tagged line without tag and status. */
  text: string;
  /** Untagged and continuation lines before it (literals inline). */
  untagged: string[];
}

export class RawImap {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;
  private n = 0;
  private constructor(private sock: Socket | TLSSocket) {
    this.listen(sock);
  }

  private listen(sock: Socket): void {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
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

  private wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  static async connect(port: number, opts: { tls?: { ca: string[] } } = {}): Promise<RawImap> {
    const sock = opts.tls ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: opts.tls.ca }) : connect(port, '127.0.0.1');
    await once(sock, opts.tls ? 'secureConnect' : 'connect');
    return new RawImap(sock);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** One response line with any literals it announces joined in (as latin1 text). */
  async line(): Promise<string> {
    for (;;) {
      const got = this.tryLine();
      if (got !== undefined) return got;
      if (this.closed) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await this.wait();
    }
  }

  private tryLine(): string | undefined {
    let pos = 0;
    let out = '';
    for (;;) {
      const nl = this.buf.indexOf('\r\n', pos);
      if (nl < 0) return undefined;
      const l = this.buf.toString('latin1', pos, nl);
      const m = /\{(\d+)\}$/.exec(l);
      if (!m) {
        out += l;
        this.buf = this.buf.subarray(nl + 2);
        return out;
      }
      const n = Number(m[1]);
      if (this.buf.length < nl + 2 + n) return undefined;
      out += l + '\r\n' + this.buf.toString('latin1', nl + 2, nl + 2 + n);
      pos = nl + 2 + n;
    }
  }

  /** Send raw bytes. */
  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  nextTag(): string {
    return `t${++this.n}`;
  }

  /** Send "<tag> <cmd>\r\n" and read up to the tagged response. */
  async cmd(command: string): Promise<Tagged> {
    const tag = this.nextTag();
    this.write(`${tag} ${command}\r\n`);
    return this.until(tag);
  }

  /** Read lines up to the response tagged `tag`. */
  async until(tag: string): Promise<Tagged> {
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) {
        const rest = l.slice(tag.length + 1);
        const sp = rest.indexOf(' ');
        return { status: sp < 0 ? rest : rest.slice(0, sp), text: sp < 0 ? '' : rest.slice(sp + 1), untagged };
      }
      untagged.push(l);
    }
  }

  async starttls(ca: string[]): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (r.status !== 'OK') throw new Error(`STARTTLS: ${r.status} ${r.text}`);
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    const tls = tlsConnect({ socket: this.sock, servername: 'localhost', ca });
    await once(tls, 'secureConnect');
    this.sock = tls;
    this.listen(tls);
  }

  close(): void {
    this.sock.destroy();
  }
}
