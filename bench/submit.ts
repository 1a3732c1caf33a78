/**
 * `npm run bench -- submit [--n N] [--size 4096] [--concurrency 20]`
 *
 * SMTP submission into the queue: a moxts server in a child process, and here N messages of
 * `size` bytes submitted over `concurrency` authenticated connections (AUTH PLAIN once per
 * connection, then pipelined MAIL/RCPT/DATA), one recipient each, spread over 50 recipient
 * domains. Every 250 means the message is durably queued (file and rows fsync'd, group commit).
 * Reports messages/s and p50/p99 latency from the final "." to the 250, and the server's CPU time
 * per message. Target (issue "Submission and the outbound queue"): ≥ 1,000 messages/s at
 * concurrency 20 with 4 KiB messages.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { arg, cpuSeconds } from './util.js';

function makeMessage(size: number, i: number): Buffer {
  const head = `From: <app@example.com>\r\nTo: <user@dest${i % 50}.example>\r\nSubject: bench submission ${i}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again 0123456789.\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body + 'x'.repeat(Math.max(0, size - head.length - body.length - 2)) + '\r\n');
}

class Conn {
  private buf = '';
  private waiters: Array<(line: string) => void> = [];
  constructor(private sock: Socket) {
    sock.on('close', () => {
      for (const w of this.waiters.splice(0)) w('000 connection closed');
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (;;) {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) break;
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (/^\d{3} /.test(line)) this.waiters.shift()?.(line);
      }
    });
  }
  reply(): Promise<string> {
    if (this.sock.destroyed) return Promise.resolve('000 connection closed');
    return new Promise((r) => this.waiters.push(r));
  }
  write(b: string | Buffer): void {
    this.sock.write(b);
  }
  end(): void {
    this.sock.destroy();
  }
}

async function openConn(port: number): Promise<Conn> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.setNoDelay(true);
  const c = new Conn(s);
  await c.reply();
  c.write('EHLO client.example\r\n');
  await c.reply();
  c.write(`AUTH PLAIN ${Buffer.from('\0app@example.com\0benchpass').toString('base64')}\r\n`);
  const a = await c.reply();
  if (!a.startsWith('235')) throw new Error(`AUTH failed: ${a}`);
  return c;
}

async function runOne(conns: Conn[], size: number, n: number): Promise<{ rate: number; p50: number; p99: number; failures: number }> {
  const msgs = Array.from({ length: 50 }, (_, i) => makeMessage(size, i));
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    conns.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= n) break;
        c.write(`MAIL FROM:<app@example.com>\r\nRCPT TO:<user${i % 1000}@dest${i % 50}.example>\r\nDATA\r\n`);
        const [m, r, d] = [c.reply(), c.reply(), c.reply()];
        const replies = [await m, await r, await d];
        if (replies.some((x) => x.startsWith('000'))) throw new Error(`server closed the connection: ${replies.join(' | ')}`);
        if (!replies[0]!.startsWith('250') || !replies[1]!.startsWith('250') || !replies[2]!.startsWith('354')) {
          failures++;
          continue;
        }
        const t0 = process.hrtime.bigint();
        c.write(msgs[i % msgs.length]!);
        c.write('.\r\n');
        const reply = await c.reply();
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!reply.startsWith('250')) {
          failures++;
          if (failures === 1) console.error(`first failure: ${reply}`);
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { rate: n / secs, p50: q(0.5), p99: q(0.99), failures };
}

/** Messages submitted before the measured run (JIT, databases): we report steady state. */
const WARMUP = 1000;

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '5000'));
  const size = Number(arg(args, 'size', '4096'));
  const conc = Number(arg(args, 'concurrency', '20'));
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('./submit-server-child.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^READY (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  try {
    const conns = await Promise.all(Array.from({ length: conc }, () => openConn(port)));
    console.log(`server pid ${child.pid} on 127.0.0.1:${port}; ${n} messages of ${size} bytes, concurrency ${conc}, 50 recipient domains`);
    await runOne(conns, size, Math.min(WARMUP, n));
    const cpu0 = cpuSeconds(child.pid);
    const r = await runOne(conns, size, n);
    const cpu1 = cpuSeconds(child.pid);
    for (const c of conns) c.end();
    const srv = cpu0 !== undefined && cpu1 !== undefined ? (((cpu1 - cpu0) * 1000) / n).toFixed(3) : '-';
    console.log('msgs/s     p50 ms   p99 ms   failures   server cpu ms/msg');
    console.log(`${r.rate.toFixed(0).padStart(6)}   ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${String(r.failures).padEnd(10)} ${srv.padStart(8)}`);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
