/**
 * `npm run bench -- webhooks [--n N] [--urls 1,10] [--warmup 1000] [--timeline]`
 *
 * Webhook delivery throughput: N outgoing events are recorded in queue.db (as the queue does),
 * then the webhook worker consumes them into hooks and POSTs them (signed, as in production) to a
 * receiver in a child process that answers 200 at once. The clock stops when every result is
 * recorded durably (all hooks retired, their transactions fsync'd). With 1 URL the requests go one
 * at a time (mox's per-URL rule); with 10 URLs (10 accounts) up to 10 at once.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { QueueStore } from '../queue/store.js';
import { recordEvent } from '../queue/events.js';
import { WebhookStore } from '../webhook/store.js';
import { WebhookWorker } from '../webhook/worker.js';
import { Checkpointer } from '../store/checkpointer.js';
import { arg, cpuSeconds } from './util.js';
import { cpuTimes, stealPercent } from './steal.js';

async function startReceiver(): Promise<{ url: string; pid: number | undefined; stop: () => void }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./webhook-receiver-child.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /^READY (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`receiver exited: ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

let timelineWanted = false;

async function runOnce(n: number, urls: number, rx: { url: string; pid: number | undefined }): Promise<{ rate: number; cpuUsPerHook: number; rxUsPerHook: number; steal: string }> {
  const receiver = rx.url;
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-bench-hooks-'));
  // WAL checkpoints of queue.db in a worker thread, as the server does (its store's Checkpointer).
  const checkpointer = new Checkpointer();
  const q = await QueueStore.open({ dataDir, checkpointer });
  q.db.transaction(() => {
    for (let i = 1; i <= n; i++) {
      recordEvent(q.db, { account: `acct${i % urls}`, event: 'delivered', queueMsgId: i, messageId: `<bench-${i}@example.com>`, subject: `bench ${i}`, extra: { userid: String(i) } }, new Date());
    }
  })();
  const store = WebhookStore.open({ dataDir, keepRetiredFor: () => 3_600_000, checkpointer });
  const worker = new WebhookWorker({
    store,
    outgoing: (a) => ({ url: `${receiver}/${a}`, authorization: 'Bearer bench' }),
    userAgent: 'moxts-bench (webhook)',
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r0 = cpuSeconds(rx.pid) ?? 0;
  const st0 = cpuTimes();
  // Where the time goes when a run is slow: attempts per 100 ms, event-loop delay, fsyncs.
  const timeline: Array<{ attempts: number; recorded: number }> = [];
  const sampler = setInterval(() => timeline.push({ attempts: worker.stats.attempts, recorded: worker.stats.recorded }), 100);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  worker.start();
  // Done when every result is recorded: the worker counts a result once its commit is fsync'd.
  // (A counter, not a query: polling queue.db would add to the CPU measured.)
  while (worker.stats.recorded < n) await new Promise((r) => setTimeout(r, 5));
  await worker.idle();
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  clearInterval(sampler);
  loopDelay.disable();
  const steal = stealPercent(st0, cpuTimes());
  const cpuUsPerHook = (cpu.user + cpu.system) / n;
  const rxUsPerHook = (((cpuSeconds(rx.pid) ?? 0) - r0) * 1e6) / n;
  const retired = store.db.prepare('SELECT count(*) FROM hook_retired WHERE success = 1').pluck().get() as number;
  await worker.stop();
  await store.close();
  await q.close();
  await checkpointer.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (retired !== n) throw new Error(`${retired} of ${n} webhooks delivered`);
  const cs = store.commitStats;
  const per = timeline.map((t, i) => t.attempts - (timeline[i - 1]?.attempts ?? 0));
  const slowest = per.length > 2 ? Math.min(...per.slice(1, -1)) : 0;
  console.error(
    `  (${worker.stats.resultCommits} results commits, ${(worker.stats.recorded / worker.stats.resultCommits).toFixed(1)} results each; ` +
      `${cs.commits} transactions, ${cs.syncs} fsyncs avg ${(cs.syncMs / Math.max(1, cs.syncs)).toFixed(2)} ms max ${cs.maxSyncMs.toFixed(1)} ms; ` +
      `event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms max ${(loopDelay.max / 1e6).toFixed(1)} ms; ` +
      `attempts per 100 ms: median ${[...per].sort((a, b) => a - b)[per.length >> 1] ?? 0}, slowest ${slowest})`,
  );
  if (timelineWanted) console.error(`  attempts per 100 ms: ${per.join(' ')}`);
  return { rate: n / secs, cpuUsPerHook, rxUsPerHook, steal };
}

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '20000'));
  const urlCounts = arg(args, 'urls', '1,10').split(',').map(Number);
  timelineWanted = args.includes('--timeline');
  const rx = await startReceiver();
  try {
    // Warm-up (JIT, page cache): --warmup deliveries to 10 URLs, not measured.
    const warmup = Number(arg(args, 'warmup', '1000'));
    if (warmup > 0) await runOnce(warmup, 10, rx);
    for (const urls of urlCounts) {
      const r = await runOnce(n, urls, rx);
      // CPU of this (the server's) side per delivery: what one free core could sustain.
      console.log(
        `${n} webhooks, ${urls} URL(s): ${r.rate.toFixed(0)} deliveries/s (each result durable); worker CPU ${r.cpuUsPerHook.toFixed(0)} µs/delivery (≈ ${(1e6 / r.cpuUsPerHook).toFixed(0)}/s on one free core), receiver CPU ${r.rxUsPerHook.toFixed(0)} µs/delivery; load average ${loadavg()[0]!.toFixed(1)}, hypervisor steal ${r.steal}`,
      );
    }
  } finally {
    rx.stop();
  }
}
