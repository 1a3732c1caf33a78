/**
 * `npm run bench -- imap [--n 10000] [--sequential 3000] [--window 50] [--warmup 1000] [--reads no]`
 *
 * IMAP on a big mailbox: a moxts server in a child process (its own event loop), and here one raw
 * IMAP connection that APPENDs N generated, varied messages (bench/mailgen.ts): the first
 * `sequential` one at a time, each waiting for its durable OK (LITERAL+, so no continuation round
 * trip), the rest pipelined with `window` APPENDs in flight (as mbsync does), then measures SELECT,
 * `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`, `FETCH 1:* BODYSTRUCTURE`, 100
 * full bodies, `SEARCH TEXT <rare word>`, `STORE 1:* +FLAGS (\Seen)` and EXPUNGE of half, with
 * the targets beside them, and the server's CPU time for each step (from /proc).
 * Before measuring, `warmup` APPENDs (half one at a time, half pipelined) go into a scratch mailbox
 * that is deleted again, so the APPEND rates are those of a running server, not of a fresh process
 * whose JIT compiler is still busy with the APPEND path (as the smtp bench warms up too).
 * `--reads no` stops after the APPENDs (for A/B runs of the APPEND path alone).
 * BENCH_SERVER_NODE_ARGS passes node options to the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { makeMessage, RARE_COUNT, RARE_WORD, rng } from './mailgen.js';
import { arg, cpuSeconds, threadCpuSeconds, threadBreakdown } from './util.js';
import { cpuTimes, stealPercent } from './steal.js';

interface Done {
  status: string;
  untagged: number;
  bytes: number;
  lines: string[];
}

/** A minimal IMAP client: tagged commands (pipelining allowed), responses split into logical lines (literals skipped). */
class Imap {
  private buf: Buffer = Buffer.alloc(0);
  private scan = 0;
  private lineStart = 0;
  private need = 0;
  private tag = 0;
  /** Commands sent and not answered yet, oldest first; untagged responses count for the oldest. */
  private pending: Array<{ tag: string; resolve: (d: Done) => void; untagged: number; bytes: number; keep: boolean; lines: string[] }> = [];
  private greeting: ((l: string) => void) | null = null;

  constructor(private sock: Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
  }

  static async open(port: number): Promise<Imap> {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.setNoDelay(true);
    const c = new Imap(s);
    await new Promise<string>((r) => (c.greeting = r));
    return c;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf.subarray(this.lineStart), d]) : d;
    this.scan -= this.lineStart;
    this.lineStart = 0;
    if (this.pending.length) this.pending[0]!.bytes += d.length;
    for (;;) {
      if (this.need) {
        if (this.buf.length - this.scan < this.need) return;
        this.scan += this.need;
        this.need = 0;
      }
      const nl = this.buf.indexOf(10, this.scan);
      if (nl < 0) return;
      // A line ending in {n} continues after n literal bytes.
      const m = nl >= 2 ? /\{(\d+)\+?\}\r$/.exec(this.buf.toString('latin1', Math.max(this.lineStart, nl - 24), nl)) : null;
      if (m) {
        this.need = Number(m[1]);
        this.scan = nl + 1;
        continue;
      }
      const head = this.buf.toString('latin1', this.lineStart, Math.min(nl, this.lineStart + 200));
      this.scan = nl + 1;
      this.lineStart = this.scan;
      this.line(head);
    }
  }

  private line(head: string): void {
    if (this.greeting) {
      const g = this.greeting;
      this.greeting = null;
      g(head);
      return;
    }
    const p = this.pending[0];
    if (!p) return;
    if (head.startsWith('* ')) {
      p.untagged++;
      if (p.keep && p.lines.length < 20) p.lines.push(head.trim());
      return;
    }
    const i = this.pending.findIndex((q) => head.startsWith(q.tag + ' '));
    if (i < 0) return;
    const [q] = this.pending.splice(i, 1);
    q!.resolve({ status: head.slice(q!.tag.length + 1).trim(), untagged: q!.untagged, bytes: q!.bytes, lines: q!.lines });
  }

  /**
   * Sends a command (string or bytes with its literals inline, LITERAL+) and resolves with its
   * tagged reply. Several may be outstanding (pipelining); replies are matched by tag.
   */
  cmd(c: string | Buffer[], keep = false): Promise<Done> {
    const tag = `b${++this.tag}`;
    return new Promise((resolve) => {
      this.pending.push({ tag, resolve, untagged: 0, bytes: 0, keep, lines: [] });
      if (typeof c === 'string') this.sock.write(`${tag} ${c}\r\n`);
      else {
        // One writev of the parts (a client does not copy the message into one buffer first).
        this.sock.cork();
        this.sock.write(`${tag} `);
        for (const b of c) this.sock.write(b);
        this.sock.write('\r\n');
        this.sock.uncork();
      }
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

function ok(d: Done, what: string): Done {
  if (!d.status.startsWith('OK')) throw new Error(`${what}: ${d.status}`);
  return d;
}

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '10000'));
  const sequential = Number(arg(args, 'sequential', '3000'));
  const window = Number(arg(args, 'window', '50'));
  const warmup = Number(arg(args, 'warmup', '1000'));
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const reads = arg(args, 'reads', 'yes') !== 'no';
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('./imap-server-child.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const statsWaiters: Array<(s: Record<string, number>) => void> = [];
  const serverStats = (): Promise<Record<string, number>> =>
    new Promise((r) => {
      statsWaiters.push(r);
      child.stdin!.write('STATS\n');
    });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^READY (\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
      if (l.startsWith('STATS ')) statsWaiters.shift()?.(JSON.parse(l.slice(6)) as Record<string, number>);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const rows: Array<[string, string, string, string, string]> = [];
  const cpu = () => cpuSeconds(child.pid);
  async function step<T>(name: string, target: string, fn: () => Promise<T>, show: (secs: number, r: T) => string): Promise<T> {
    await serverStats();
    const c0 = cpu();
    const th0 = threadCpuSeconds(child.pid);
    const own0 = process.cpuUsage();
    const st0 = cpuTimes();
    const t0 = process.hrtime.bigint();
    const r = await fn();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = cpu();
    const th1 = threadCpuSeconds(child.pid);
    const own = process.cpuUsage(own0);
    const st1 = cpuTimes();
    rows.push([name, show(secs, r), target, c0 !== undefined && c1 !== undefined ? `${(c1 - c0).toFixed(2)} s` : '-', `${((own.user + own.system) / 1e6).toFixed(2)} s`]);
    console.log(`  ${name}: ${show(secs, r)}`);
    // For APPENDs (a count of messages): where the server's CPU went per message.
    if (typeof r === 'number' && th1.size) {
      console.log(`    server CPU by thread: ${threadBreakdown(child.pid!, th0, th1, r)}`);
      const st = await serverStats();
      const b = st.batches || 1;
      console.log(
        `    group commits: ${st.batches} batches, ${(st.rows / b).toFixed(1)} rows each, commit ${(st.commitMs! / b).toFixed(2)} ms avg (max ${st.commitMaxMs!.toFixed(1)}), WAL fsync ${(st.syncMs! / b).toFixed(2)} ms avg (max ${st.syncMaxMs!.toFixed(1)}); event-loop delay max ${st.loopDelayMaxMs!.toFixed(1)} ms; GC ${st.gcCount} pauses, ${st.gcMs!.toFixed(0)} ms (max ${st.gcMaxMs!.toFixed(1)})`,
      );
      console.log(`    server CPU ${c0 !== undefined && c1 !== undefined ? (((c1 - c0) * 1000) / r).toFixed(3) : '-'} ms/msg, client CPU ${((own.user + own.system) / 1000 / r).toFixed(3)} (system ${(own.system / 1000 / r).toFixed(3)}) ms/msg, steal ${stealPercent(st0, st1)}`);
    }
    return r;
  }

  try {
    console.log(`server pid ${child.pid} on 127.0.0.1:${port}; generating ${n} messages`);
    const msgs = Array.from({ length: n }, (_, i) => makeMessage(i, n));
    const total = msgs.reduce((s, m) => s + m.length, 0);
    const sizes = msgs.map((m) => m.length).sort((a, b) => a - b);
    console.log(`mailbox: ${n} messages, ${(total / 1048576).toFixed(1)} MiB, size p50 ${sizes[n >> 1]} B, p90 ${sizes[Math.floor(n * 0.9)]} B, max ${sizes[n - 1]} B; "${RARE_WORD}" in ${RARE_COUNT}`);

    const c = await Imap.open(port);
    ok(await c.cmd('LOGIN "mjl@example.com" "bench password"'), 'LOGIN');
    ok(await c.cmd('ENABLE CONDSTORE'), 'ENABLE');

    // Two ways a client appends: waiting for each durable OK before sending the next (one
    // message per WAL fsync), and pipelined as sync clients do (mbsync, offlineimap: LITERAL+,
    // many APPENDs in flight), where the server's group commit shares fsyncs.
    const seqN = Math.min(n, sequential);
    const appendCmd = (m: Buffer, mailbox = 'INBOX'): Buffer[] => [Buffer.from(`APPEND ${mailbox} {${m.length}+}\r\n`), m];
    const pipelined = async (from: number, to: number, mailbox?: string) => {
      let next = from;
      const worker = async () => {
        while (next < to) {
          const i = next++;
          ok(await c.cmd(appendCmd(msgs[i % n]!, mailbox)), `APPEND ${i}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(window, to - from) }, worker));
    };
    if (warmup > 0) {
      await step(`warm-up: ${warmup} APPENDs into a scratch mailbox (half one at a time, half pipelined), then DELETE`, '-', async () => {
        ok(await c.cmd('CREATE Warmup'), 'CREATE');
        const half = warmup >> 1;
        for (let i = 0; i < half; i++) ok(await c.cmd(appendCmd(msgs[i % n]!, 'Warmup')), `APPEND ${i}`);
        await pipelined(half, warmup, 'Warmup');
        ok(await c.cmd('DELETE Warmup'), 'DELETE');
        return warmup;
      }, (s, k) => `${(k / s).toFixed(0)} msg/s (${s.toFixed(1)} s)`);
    }
    const lat: Array<[number, number]> = [];
    await step(`APPEND ${seqN} one at a time (durable OK each)`, '≥ 500 msg/s', async () => {
      for (let i = 0; i < seqN; i++) {
        const t = performance.now();
        ok(await c.cmd(appendCmd(msgs[i]!)), `APPEND ${i}`);
        lat.push([msgs[i]!.length, performance.now() - t]);
      }
      return seqN;
    }, (s, k) => `${(k / s).toFixed(0)} msg/s (${s.toFixed(1)} s)`);
    // Round trips by size: messages above 64 KiB (the store's inline limit until session 5; 256 KiB
    // now) were files with their own fsyncs (file and directory) before the WAL commit.
    const bySize = (name: string, l: number[]) => {
      if (!l.length) return;
      l.sort((a, b) => a - b);
      const sum = l.reduce((a, b) => a + b, 0);
      const all = lat.reduce((a, b) => a + b[1], 0);
      return `${name}: ${l.length}, round trip p50 ${l[l.length >> 1]!.toFixed(2)} ms, p90 ${l[Math.floor(l.length * 0.9)]!.toFixed(2)} ms, mean ${(sum / l.length).toFixed(2)} ms (${((100 * sum) / all).toFixed(0)}% of the time)`;
    };
    console.log(`    ${[bySize('≤ 64 KiB', lat.filter((x) => x[0] <= 65536).map((x) => x[1])), bySize('> 64 KiB', lat.filter((x) => x[0] > 65536).map((x) => x[1]))].filter(Boolean).join('; ')}`);
    await step(`APPEND ${n - seqN} pipelined (LITERAL+, ${window} in flight)`, '≥ 500 msg/s', async () => {
      await pipelined(seqN, n);
      return n - seqN;
    }, (s, k) => `${(k / s).toFixed(0)} msg/s (${s.toFixed(1)} s)`);

    if (reads) await readSteps(c);
    ok(await c.cmd('LOGOUT'), 'LOGOUT');
    c.close();
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  async function readSteps(c: Imap): Promise<void> {
    const sel = await step('SELECT INBOX', '-', async () => ok(await c.cmd('SELECT INBOX', true), 'SELECT'), (s, d) => `${(s * 1000).toFixed(1)} ms (${d.lines.find((l) => / EXISTS$/.test(l)) ?? '?'})`);
    void sel;

    const search = async () => {
      const d = await c.cmd(`SEARCH TEXT ${RARE_WORD}`, true);
      return d;
    };
    const showSearch = (s: number, d: Done) => `${(s * 1000).toFixed(1)} ms (${d.status.startsWith('OK') ? (d.lines.find((l) => l.startsWith('* SEARCH')) ?? d.lines.join(' ')) : d.status})`;
    // The full-text index is filled by a worker thread after the appends; wait for it here so the
    // read measurements below do not share the cores with indexing.
    await step('SEARCH TEXT (first: waits for the text index to catch up)', '-', search, showSearch);
    for (let rep = 1; rep <= 2; rep++) {
      await step(`UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)${rep > 1 ? ' again' : ''}`, '≤ 0.4 s', async () => ok(await c.cmd('UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)'), 'FETCH ENVELOPE'), (s, d) => `${s.toFixed(3)} s (${d.untagged} responses, ${(d.bytes / 1048576).toFixed(1)} MiB)`);
    }
    for (let rep = 1; rep <= 2; rep++) {
      await step(`FETCH 1:* BODYSTRUCTURE${rep > 1 ? ' again' : ''}`, '≤ 0.2 s', async () => ok(await c.cmd('FETCH 1:* BODYSTRUCTURE'), 'FETCH BODYSTRUCTURE'), (s, d) => `${s.toFixed(3)} s (${d.untagged} responses, ${(d.bytes / 1048576).toFixed(1)} MiB)`);
    }
    const r = rng(42);
    const picks = [...new Set(Array.from({ length: 100 }, () => 1 + Math.floor(r() * n)))];
    await step(`100 full bodies (UID FETCH <${picks.length} uids> BODY.PEEK[])`, '-', async () => ok(await c.cmd(`UID FETCH ${picks.join(',')} BODY.PEEK[]`), 'FETCH BODY'), (s, d) => `${(s * 1000).toFixed(1)} ms (${(d.bytes / 1048576).toFixed(1)} MiB)`);

    for (let rep = 1; rep <= 3; rep++) await step(`SEARCH TEXT ${RARE_WORD} #${rep}`, '≤ 0.07 s', search, showSearch);

    await step('STORE 1:* +FLAGS (\\Seen)', '≤ 0.15 s', async () => ok(await c.cmd('STORE 1:* +FLAGS (\\Seen)'), 'STORE'), (s, d) => `${s.toFixed(3)} s (${d.untagged} responses)`);
    const half = Math.floor(n / 2);
    await step(`STORE 1:${half} +FLAGS.SILENT (\\Deleted)`, '-', async () => ok(await c.cmd(`STORE 1:${half} +FLAGS.SILENT (\\Deleted)`), 'STORE Deleted'), (s) => `${s.toFixed(3)} s`);
    await step(`EXPUNGE (${half} messages)`, '≤ 0.5 s', async () => ok(await c.cmd('EXPUNGE'), 'EXPUNGE'), (s, d) => `${s.toFixed(3)} s (${d.untagged} responses)`);
  }
  console.log(`\nload average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores shared with other jobs: wall times include waiting for a core)`);
  console.log('step | measured | target | server CPU | client CPU');
  console.log('---|---|---|---|---');
  for (const r of rows) console.log(r.join(' | '));
}
