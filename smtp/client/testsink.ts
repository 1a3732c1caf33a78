/**
 * A scripted SMTP server on 127.0.0.1:0 for the client's tests: replies can be chosen per command
 * (or withheld, to test timeouts), STARTTLS can succeed, be refused, or break the handshake, and
 * every command line and received message (unstuffed) is recorded per connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import { DataReader } from '../data.js';

export interface SinkOptions {
  /** Greeting line; null: never send one. Default "220 sink.example ESMTP". */
  greeting?: string | null;
  /** EHLO keywords after the first line. Default PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, DSN, SMTPUTF8 (+ STARTTLS with `tls`). */
  ehlo?: string[];
  /** Reply to EHLO instead of the keyword list (e.g. "502 no"). */
  ehloReply?: string;
  /** Certificate for STARTTLS; STARTTLS is only offered with it (or with starttls: 'garbage'/'refuse'). */
  tls?: { key: string; cert: string };
  /** 'ok' (default with tls): real TLS; 'garbage': 220 then non-TLS bytes; 'refuse': 454. */
  starttls?: 'ok' | 'garbage' | 'refuse';
  mail?: (line: string) => string | null;
  rcpt?: (address: string, line: string) => string | null;
  /** Reply to DATA; default 354. */
  data?: string | null;
  /** Close the connection (without replying) when this returns true for a command line. */
  closeOn?: (line: string, conn: SinkConnection) => boolean;
  /** Reply to the end of data; null: never answer. Default 250. */
  dataEnd?: string | null | ((msg: Buffer) => string | null);
}

export interface SinkConnection {
  commands: string[];
  messages: Buffer[];
  tls: boolean;
}

export interface Sink {
  port: number;
  connections: SinkConnection[];
  /** All command lines of all connections. */
  readonly commands: string[];
  close(): Promise<void>;
}

const DEFAULT_EHLO = ['PIPELINING', 'SIZE 10000000', '8BITMIME', 'ENHANCEDSTATUSCODES', 'DSN', 'SMTPUTF8'];

export async function startSink(o: SinkOptions = {}): Promise<Sink> {
  const connections: SinkConnection[] = [];
  const sockets = new Set<Socket>();
  const ctx = o.tls ? createSecureContext({ key: o.tls.key, cert: o.tls.cert }) : undefined;
  const starttlsMode = o.starttls ?? (o.tls ? 'ok' : undefined);

  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    raw.setNoDelay(true);
    const conn: SinkConnection = { commands: [], messages: [], tls: false };
    connections.push(conn);
    let sock: Socket = raw;
    let buf = Buffer.alloc(0);
    let reader: DataReader | undefined;
    let parts: Buffer[] = [];
    let accepted = 0;
    const send = (line: string | null | undefined) => {
      if (line != null) sock.write(`${line}\r\n`);
    };

    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      process();
    };
    const attach = (s: Socket) => {
      s.on('data', onData);
      s.on('error', () => {});
    };

    function process(): void {
      while (buf.length) {
        if (reader) {
          const n = reader.feed(buf);
          buf = buf.subarray(n);
          if (!reader.finished) return;
          reader = undefined;
          const msg = Buffer.concat(parts);
          parts = [];
          conn.messages.push(msg);
          const r = typeof o.dataEnd === 'function' ? o.dataEnd(msg) : o.dataEnd === undefined ? '250 2.0.0 queued' : o.dataEnd;
          send(r);
          accepted = 0;
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.subarray(0, i).toString('utf8');
        buf = buf.subarray(i + 2);
        conn.commands.push(line);
        if (o.closeOn?.(line, conn)) {
          sock.destroy();
          return;
        }
        if (command(line) === 'stop') return;
      }
    }

    function command(line: string): 'stop' | void {
      const verb = line.split(' ')[0]!.toUpperCase();
      switch (verb) {
        case 'EHLO': {
          if (o.ehloReply) return send(o.ehloReply);
          const kws = [...(o.ehlo ?? DEFAULT_EHLO), ...(starttlsMode && !conn.tls ? ['STARTTLS'] : [])];
          const lines = ['sink.example', ...kws];
          return send(lines.map((l, k) => `250${k === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n'));
        }
        case 'HELO':
          return send('250 sink.example');
        case 'STARTTLS':
          if (!starttlsMode || conn.tls) return send('502 5.5.1 no');
          if (starttlsMode === 'refuse') return send('454 4.7.0 TLS not available now');
          send('220 2.0.0 go ahead');
          if (starttlsMode === 'garbage') {
            sock.end('this is not a TLS server hello\r\n');
            return 'stop';
          }
          sock.off('data', onData);
          buf = Buffer.alloc(0);
          sock = new TLSSocket(sock, { isServer: true, secureContext: ctx });
          conn.tls = true;
          attach(sock);
          return 'stop';
        case 'MAIL':
          accepted = 0;
          return send(o.mail ? o.mail(line) : '250 2.1.0 ok');
        case 'RCPT': {
          const addr = /<([^>]*)>/.exec(line)?.[1] ?? '';
          const r = o.rcpt ? o.rcpt(addr, line) : '250 2.1.5 ok';
          if (r?.startsWith('2')) accepted++;
          return send(r);
        }
        case 'DATA': {
          if (!accepted) return send('554 5.5.1 no valid recipients');
          const r = o.data === undefined ? '354 go ahead' : o.data;
          send(r);
          if (r?.startsWith('354')) reader = new DataReader((b) => parts.push(Buffer.from(b)));
          return;
        }
        case 'RSET':
        case 'NOOP':
          return send('250 2.0.0 ok');
        case 'QUIT':
          send('221 2.0.0 bye');
          sock.end();
          return 'stop';
        default:
          return send('500 5.5.1 unknown command');
      }
    }

    attach(raw);
    if (o.greeting !== null) send(o.greeting ?? '220 sink.example ESMTP');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    connections,
    get commands() {
      return connections.flatMap((c) => c.commands);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed): connections are refused. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}
