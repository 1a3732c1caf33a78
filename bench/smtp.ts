/**
 * `npm run bench -- smtp [--n N] [--sizes 4096,102400] [--concurrency 1,10,50] [--timeline]`
 *
 * Load generator for incoming SMTP: a moxts server in a child process (its own event loop and
 * core), and here N messages sent over `concurrency` connections, each reusing its connection
 * with pipelined MAIL/RCPT/DATA. Reports messages/s and p50/p99 latency from the end of DATA
 * (the final ".") to the durable 250, and the CPU time per message of the server process (all its
 * threads, from /proc/<pid>/stat) and of this load generator. BENCH_SERVER_NODE_ARGS passes node options to the server
 * process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 *
 * Per run it also prints what explains a slow run: the store's group commits (batches, rows per
 * batch, commit and WAL fsync times, from Store.deliveryStats via the child's "STATS" command),
 * the server's event-loop delay and GC pauses, and acknowledgements per 100 ms with the longest
 * gap without one (`--timeline` prints every interval).
 */
import { spawn } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { arg, cpuSeconds, threadCpuSeconds, threadBreakdown } from './util.js';

function makeMessage(size: number, i: number): Buffer {
  const head = `From: <app@sender.example>\r\nTo: <user${i % 10}@example.com>\r\nSubject: bench message ${i}\r\nMessage-ID: <bench-${i}-${Date.now()}@sender.example>\r\nDate: Sat, 21 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
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
  c.write('EHLO client.sender.example\r\n');
  await c.reply();
  return c;
}

/** Password of the bench accounts (the child sets it from BENCH_PASSWORD). */
const BENCH_PASSWORD = 'benchbench';

/** "ok" when the 10 Inboxes hold exactly `accepted` messages over IMAP, else what they hold. */
async function imapVisible(port: number, accepted: number): Promise<string> {
  let total = 0;
  for (let i = 0; i < 10; i++) {
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: `user${i}@example.com`, pass: BENCH_PASSWORD }, logger: false, tls: { rejectUnauthorized: false } });
    await c.connect();
    try {
      const st = await c.status('INBOX', { messages: true });
      total += st ? (st.messages ?? 0) : 0;
    } finally {
      await c.logout();
    }
  }
  return total === accepted ? 'ok' : `MISMATCH ${total}/${accepted}`;
}

/** Acknowledgements per TIMELINE_MS interval over a run: shows stalls and slow phases. */
const TIMELINE_MS = 100;

async function runOne(port: number, size: number, concurrency: number, n: number): Promise<{ rate: number; p50: number; p99: number; failures: number; accepted: number; acks: number[] }> {
  const msgs = Array.from({ length: 16 }, (_, i) => makeMessage(size, i));
  const conns = await Promise.all(Array.from({ length: concurrency }, () => openConn(port)));
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  let accepted = 0;
  const acks: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(
    conns.map(async (c) => {
      for (;;) {
        const i = next++;
        if (i >= n) break;
        // MAIL, RCPT, DATA pipelined (rfc2920).
        c.write(`MAIL FROM:<app@sender.example>\r\nRCPT TO:<user${i % 10}@example.com>\r\nDATA\r\n`);
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
        const t1 = process.hrtime.bigint();
        lat.push(Number(t1 - t0) / 1e6);
        acks.push(Number(t1 - start) / 1e6);
        if (!reply.startsWith('250')) failures++;
        else accepted++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  for (const c of conns) c.end();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { rate: n / secs, p50: q(0.5), p99: q(0.99), failures, accepted, acks };
}

/** Acks per TIMELINE_MS interval, and the longest time without any ack. */
function timeline(acks: number[]): { buckets: number[]; maxGapMs: number } {
  const buckets: number[] = [];
  let prev = 0;
  let maxGapMs = 0;
  for (const t of [...acks].sort((a, b) => a - b)) {
    const b = Math.floor(t / TIMELINE_MS);
    while (buckets.length <= b) buckets.push(0);
    buckets[b]!++;
    maxGapMs = Math.max(maxGapMs, t - prev);
    prev = t;
  }
  return { buckets, maxGapMs };
}

/** Messages sent before each measured run (JIT, DNS cache, account databases): we report steady state. */
const WARMUP = 1000;

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '3000'));
  const sizes = arg(args, 'sizes', '4096,102400').split(',').map(Number);
  const concs = arg(args, 'concurrency', '1,10,50').split(',').map(Number);
  // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const showTimeline = args.includes('--timeline');
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('./smtp-server-child.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_PASSWORD } });
  // The child's diagnostics since the previous call (group-commit batches, event-loop delay, GC).
  const statsWaiters: Array<(s: Record<string, number>) => void> = [];
  const serverStats = (): Promise<Record<string, number>> =>
    new Promise((r) => {
      statsWaiters.push(r);
      child.stdin!.write('STATS\n');
    });
  const [port, imapPort] = await new Promise<[number, number]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^READY (\d+) (\d+)$/.exec(l);
      if (m) resolve([Number(m[1]), Number(m[2])]);
      if (l.startsWith('STATS ')) statsWaiters.shift()?.(JSON.parse(l.slice(6)) as Record<string, number>);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  console.log(`server pid ${child.pid} on 127.0.0.1:${port}; ${n} messages per run (fewer for 100 KiB at concurrency 1)`);
  console.log('size      conc   msgs/s     p50 ms   p99 ms   failures   server cpu ms/msg   load cpu ms/msg   in IMAP');
  // Every message acknowledged with 250 so far; after each run all of them must be in the
  // recipients' Inboxes over IMAP (STATUS MESSAGES), or the run is reported as failing.
  let accepted = 0;
  for (const size of sizes) {
    for (const c of concs) {
      const count = size > 16_384 && c === 1 ? Math.min(n, 500) : n;
      // Warm-up: JIT, DNS cache, account databases.
      const w = await runOne(port, size, c, Math.min(WARMUP, count));
      accepted += w.accepted;
      await serverStats();
      const cpu0 = cpuSeconds(child.pid);
      const threads0 = threadCpuSeconds(child.pid);
      const own0 = process.cpuUsage();
      const r = await runOne(port, size, c, count);
      accepted += r.accepted;
      const cpu1 = cpuSeconds(child.pid);
      const threads1 = threadCpuSeconds(child.pid);
      const own = process.cpuUsage(own0);
      const st = await serverStats();
      const srv = cpu0 !== undefined && cpu1 !== undefined ? (((cpu1 - cpu0) * 1000) / count).toFixed(3) : '-';
      const gen = ((own.user + own.system) / 1000 / count).toFixed(3);
      console.log(
        `${String(size).padEnd(9)} ${String(c).padEnd(6)} ${r.rate.toFixed(0).padStart(7)}   ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${String(r.failures).padEnd(10)} ${srv.padStart(8)}            ${gen.padStart(6)}         ${await imapVisible(imapPort, accepted)}`,
      );
      if (threads1.size) console.log(`          server CPU by thread: ${threadBreakdown(child.pid!, threads0, threads1, count)}`);
      const f = (x: number | undefined, d = 1) => (x ?? 0).toFixed(d);
      const batches = st.batches || 1;
      console.log(
        `          group commit: ${st.batches} batches, ${f(st.rows! / batches)} rows/batch, commit ${f(st.commitMs! / batches, 2)} ms avg ${f(st.commitMaxMs)} max, fsync ${f(st.syncMs! / batches, 2)} ms avg ${f(st.syncMaxMs)} max; event loop delay p50 ${f(st.loopDelayP50Ms)} p99 ${f(st.loopDelayP99Ms)} max ${f(st.loopDelayMaxMs)} ms; GC ${st.gcCount} pauses ${f(st.gcMs)} ms, max ${f(st.gcMaxMs)} ms`,
      );
      const tl = timeline(r.acks);
      const full = tl.buckets.slice(1, -1);
      const per = (x: number) => ((x * 1000) / TIMELINE_MS).toFixed(0);
      console.log(
        `          acks per ${TIMELINE_MS} ms (as msg/s): min ${per(Math.min(...full))}, median ${per([...full].sort((a, b) => a - b)[full.length >> 1] ?? 0)}, max ${per(Math.max(...full))}; longest gap without an ack ${tl.maxGapMs.toFixed(0)} ms`,
      );
      if (showTimeline) console.log(`          timeline: ${tl.buckets.join(' ')}`);
    }
  }
  child.kill('SIGTERM');
  await once(child, 'exit');
}
