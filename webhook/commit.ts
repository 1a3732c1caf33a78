/**
 * Group commit for webhook writes on queue.db (the same technique as store/store.ts): write
 * operations that arrive together run in one transaction, committed at synchronous=NORMAL, then
 * one fdatasync of the WAL on the thread pool (store/walsync.ts) makes them durable, and only
 * then do their promises resolve. While that fsync runs, the event loop keeps sending webhooks and
 * new operations form the next batch: results of many deliveries share one fsync, and a delivery
 * never waits for the previous one's fsync.
 */
import type { Db } from '../store/db.js';
import type { Transaction } from 'better-sqlite3';
import { WalSyncer } from '../store/walsync.js';

/** Most operations per transaction: bounds how long a commit blocks the event loop. */
export const MAX_GROUP = 512;

interface Op {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queued: Op[] = [];
  /** Committed, waiting for the next fsync. */
  private committed: Array<{ op: Op; value: unknown }> = [];
  private scheduled = false;
  private syncing: Promise<void> | null = null;
  private readonly wal: WalSyncer;
  /** A transaction function created once (creating one per batch or operation costs). */
  private readonly tx: Transaction<(fn: () => unknown) => unknown>;
  /** Counters (benchmarks): transactions, operations, fsyncs and their time (ms), the longest fsync. */
  readonly stats = { commits: 0, ops: 0, syncs: 0, syncMs: 0, maxSyncMs: 0 };

  constructor(
    private readonly db: Db,
    walPath: string,
  ) {
    this.wal = new WalSyncer(walPath);
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  /** Run fn in a (batched) transaction; resolves with its value once it is durable. */
  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queued.splice(0, MAX_GROUP);
    if (this.queued.length) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    if (!batch.length) return;
    const done: Array<{ op: Op; value: unknown }> = [];
    const failed: Array<{ op: Op; err: unknown }> = [];
    try {
      this.tx.immediate(() => {
        for (const op of batch) {
          // One savepoint each: a failing operation does not undo the others.
          try {
            done.push({ op, value: this.tx(op.fn) });
          } catch (err) {
            failed.push({ op, err });
          }
        }
      });
    } catch (err) {
      for (const op of batch) op.reject(err);
      return;
    }
    for (const f of failed) f.op.reject(f.err);
    this.stats.commits++;
    this.stats.ops += batch.length;
    this.committed.push(...done);
    this.syncNext();
  }

  private syncNext(): void {
    if (this.syncing || !this.committed.length) return;
    const covered = this.committed.splice(0);
    // Called right after a commit (or right after the previous fsync): the WAL holds every frame
    // of `covered`, and fdatasync of it makes them durable.
    const t0 = performance.now();
    this.syncing = this.wal.sync().then(
      () => {
        const ms = performance.now() - t0;
        this.stats.syncs++;
        this.stats.syncMs += ms;
        if (ms > this.stats.maxSyncMs) this.stats.maxSyncMs = ms;
        for (const c of covered) c.op.resolve(c.value);
      },
      (err: unknown) => {
        for (const c of covered) c.op.reject(err);
      },
    );
    void this.syncing.finally(() => {
      this.syncing = null;
      this.syncNext();
    });
  }

  /** Wait until everything queued so far is durable. */
  async drain(): Promise<void> {
    while (this.queued.length || this.scheduled || this.committed.length || this.syncing) {
      if (this.syncing) await this.syncing.catch(() => {});
      else await new Promise((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    await this.drain();
    await this.wal.close();
  }
}
