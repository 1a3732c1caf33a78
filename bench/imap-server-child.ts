/**
 * Child process for `npm run bench -- imap`: a real moxts server with IMAP on 127.0.0.1:0
 * (plaintext login allowed) and account mjl. Prints `READY <imapPort> <dataDir>`; stops on SIGTERM.
 * "STATS" on stdin: one JSON line with what happened since the previous STATS (group-commit
 * batches with commit and WAL fsync times, event-loop delay, GC pauses), for the bench's
 * per-step diagnostics of the APPEND round trip.
 */
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { startTestServer } from '../test/helpers/server.js';

const ts = await startTestServer({
  imap: true,
  passwords: { mjl: 'bench password' },
  imapLimits: { connectionsPerMinute: [1e9, 1e9, 1e9], concurrentConnections: [1e6, 1e6, 1e6] },
  // BENCH_INLINE_MAX=<bytes>: the store's inline message limit (A/B of DEFAULT_INLINE_MAX_SIZE).
  indexing: process.env.BENCH_INLINE_MAX ? { inlineMaxSize: Number(process.env.BENCH_INLINE_MAX) } : undefined,
});
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
const gc = { count: 0, ms: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.ms += e.duration;
    if (e.duration > gc.maxMs) gc.maxMs = e.duration;
  }
}).observe({ entryTypes: ['gc'] });
let prev = { ...ts.server.store.deliveryStats };
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() !== 'STATS') return;
  const cur = { ...ts.server.store.deliveryStats };
  const out = {
    batches: cur.batches - prev.batches,
    rows: cur.rows - prev.rows,
    commitMs: cur.commitMs - prev.commitMs,
    syncMs: cur.syncMs - prev.syncMs,
    commitMaxMs: cur.commitMaxMs,
    syncMaxMs: cur.syncMaxMs,
    loopDelayMaxMs: eld.max / 1e6,
    gcCount: gc.count,
    gcMs: gc.ms,
    gcMaxMs: gc.maxMs,
  };
  prev = cur;
  ts.server.store.deliveryStats.commitMaxMs = 0;
  ts.server.store.deliveryStats.syncMaxMs = 0;
  eld.reset();
  Object.assign(gc, { count: 0, ms: 0, maxMs: 0 });
  process.stdout.write(`STATS ${JSON.stringify(out)}\n`);
});
process.stdout.write(`READY ${ts.imapPort} ${ts.dir}\n`);
