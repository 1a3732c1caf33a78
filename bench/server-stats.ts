/**
 * The "STATS" protocol of the bench server children (smtp-server-child.ts, imap-server-child.ts):
 * each "STATS" line on stdin is answered with one `STATS <json>` line on stdout saying what happened
 * since the previous one — the store's group-commit batches (rows, commit and WAL fsync times),
 * event-loop delay and GC pauses — for the benches' per-run diagnostics.
 */
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Store } from '../store/store.js';

/** Start monitoring and answer STATS requests. */
export function answerStats(store: Store): void {
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
  let prev = { ...store.deliveryStats };
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.trim() !== 'STATS') return;
    const cur = { ...store.deliveryStats };
    const out = {
      batches: cur.batches - prev.batches,
      rows: cur.rows - prev.rows,
      commitMs: cur.commitMs - prev.commitMs,
      syncMs: cur.syncMs - prev.syncMs,
      commitMaxMs: cur.commitMaxMs,
      syncMaxMs: cur.syncMaxMs,
      loopDelayP50Ms: eld.percentile(50) / 1e6,
      loopDelayP99Ms: eld.percentile(99) / 1e6,
      loopDelayMaxMs: eld.max / 1e6,
      gcCount: gc.count,
      gcMs: gc.ms,
      gcMaxMs: gc.maxMs,
    };
    prev = cur;
    store.deliveryStats.commitMaxMs = 0;
    store.deliveryStats.syncMaxMs = 0;
    eld.reset();
    Object.assign(gc, { count: 0, ms: 0, maxMs: 0 });
    process.stdout.write(`STATS ${JSON.stringify(out)}\n`);
  });
}
