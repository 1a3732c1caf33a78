/**
 * WAL checkpoints of queue.db off the event loop, for the server's connections to it (QueueStore
 * and WebhookStore), the way the account databases do it (store/checkpointer.ts explains why it
 * is safe): the connection turns SQLite's automatic checkpoint off and, about once a second while
 * it writes, asks the shared Checkpointer (a worker thread) for a passive checkpoint.
 *
 * Why: the automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages; at
 * synchronous=NORMAL (the group commits) it fsyncs the WAL and then the database file there, on the
 * event loop. Webhook deliveries and webapi submissions crossed that every few hundred operations,
 * so every request in flight waited for two fsyncs each time (tens of milliseconds under other
 * disk load): one of the causes of the benchmarks' run-to-run spread.
 *
 * If the checkpointer is (or becomes) unavailable, the automatic checkpoint is turned back on, so
 * the WAL can never grow without bound.
 */
import type { Db } from '../store/db.js';

/** What is needed of store/checkpointer.ts Checkpointer. */
export interface CheckpointRequester {
  readonly available: boolean;
  request(path: string): Promise<unknown>;
}

/** How often a connection that wrote asks for a checkpoint (ms). */
export const CHECKPOINT_INTERVAL_MS = 1_000;
/** SQLite's default wal_autocheckpoint (pages). */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;

export interface PeriodicCheckpoints {
  stop(): void;
}

/**
 * Checkpoint `db` (the file at `path`) through `cp` instead of inside its commits. Nothing happens
 * (SQLite's default stays) without a checkpointer.
 */
export function periodicCheckpoints(db: Db, path: string, cp: CheckpointRequester | undefined, intervalMs = CHECKPOINT_INTERVAL_MS): PeriodicCheckpoints {
  if (!cp?.available) return { stop() {} };
  db.pragma('wal_autocheckpoint = 0');
  // Changes made by this connection since it opened: a checkpoint is only asked for after writes.
  const changes = db.prepare('SELECT total_changes()').pluck();
  let last = changes.get() as number;
  const timer = setInterval(() => {
    if (!db.open) return stop();
    if (!cp.available) {
      db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`);
      return stop();
    }
    const now = changes.get() as number;
    if (now === last) return;
    last = now;
    void cp.request(path);
  }, intervalMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  return { stop };
}
