/**
 * WAL checkpoints off the event loop.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses wal_autocheckpoint pages
 * (1000 by default): that commit copies the WAL's pages into the database file and fsyncs both,
 * on the event loop, stalling every connection for milliseconds each time. Under a delivery burst
 * that happens several times a second. Instead, connections that opt in turn the automatic
 * checkpoint off (`PRAGMA wal_autocheckpoint = 0`) and ask the Checkpointer, which runs
 * `PRAGMA wal_checkpoint(PASSIVE)` on its own connection in a worker thread
 * (store/checkpoint-worker.ts).
 *
 * Why this is safe (https://sqlite.org/wal.html "Checkpointing", "Concurrency"): in WAL mode a
 * checkpoint by another connection runs concurrently with the writer and readers. PASSIVE never
 * waits for them; it copies the frames that no reader still needs and stops. SQLite itself syncs
 * the WAL before copying and the database file after, so a checkpoint never makes the database
 * depend on unsynced data. When a checkpoint has copied the whole log, the next writer starts the
 * WAL over from its beginning (journal_size_limit keeps the file bounded). The worker opens the
 * file with fileMustExist, so a checkpoint racing an account removal never recreates it.
 *
 * A PASSIVE checkpoint that finishes while the writer keeps committing leaves the newest frames
 * behind, so the log is never completely backfilled and SQLite never starts it over: under
 * sustained load the WAL would grow without bound. So when a database's WAL holds more than
 * `restartAfterFrames` frames, the next checkpoint is a RESTART: it waits for the current writer,
 * holds off new writers while it copies the (few) frames the passive runs left, and lets the next
 * writer start the log from the beginning. That pause is what SQLite's automatic checkpoint costs
 * every 1000 pages; here it happens once per `restartAfterFrames` (default 8192 frames, 32 MiB).
 *
 * Requests coalesce: one checkpoint per database at a time, and a request made while one runs
 * schedules exactly one more. If the worker cannot start or dies, `onFailure` lets the owner turn
 * the automatic checkpoint back on, so the WAL can never grow without bound.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';

export interface CheckpointResult {
  path: string;
  mode?: CheckpointMode;
  /** Frames in the WAL and frames checkpointed (sqlite3_wal_checkpoint_v2's pnLog/pnCkpt). */
  log: number;
  checkpointed: number;
  busy: boolean;
  ms: number;
  error?: string;
}

export interface CheckpointerOptions {
  log?: Logger;
  /** Called once if the worker cannot run: callers re-enable automatic checkpoints. */
  onFailure?: (err: Error) => void;
  /** Use a RESTART checkpoint when the WAL has more frames than this (default 8192). */
  restartAfterFrames?: number;
}

export const RESTART_AFTER_FRAMES = 8192;

interface State {
  /** Waiting for the checkpoint that runs now. */
  current: Array<(r: CheckpointResult) => void>;
  /** Asked while it ran: waiting for one more run (null: none asked). */
  next: Array<(r: CheckpointResult) => void> | null;
}

export type CheckpointMode = 'PASSIVE' | 'RESTART';

export class Checkpointer {
  private worker: Worker | null = null;
  private failed: Error | null = null;
  private closed = false;
  private readonly dbs = new Map<string, State>();
  private readonly log: Logger;
  private readonly onFailure?: (err: Error) => void;
  private readonly restartAfterFrames: number;
  /** Databases whose last checkpoint left a WAL longer than restartAfterFrames. */
  private readonly needRestart = new Set<string>();

  constructor(opts: CheckpointerOptions = {}) {
    this.log = opts.log ?? nullLogger();
    this.onFailure = opts.onFailure;
    this.restartAfterFrames = opts.restartAfterFrames ?? RESTART_AFTER_FRAMES;
  }

  /** False once the worker failed or the checkpointer closed: connections keep autocheckpoint on. */
  get available(): boolean {
    return !this.failed && !this.closed;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./checkpoint-worker.js', import.meta.url));
    w.unref();
    w.on('message', (r: CheckpointResult) => this.done(r));
    w.on('error', (err) => this.fail(err));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`checkpoint worker exited with code ${code}`));
    });
    this.worker = w;
    return w;
  }

  private fail(err: Error): void {
    if (this.failed || this.closed) return;
    this.failed = err;
    this.worker = null;
    this.log.error({ err }, 'checkpoint worker failed; falling back to automatic checkpoints');
    const failedResult = (path: string): CheckpointResult => ({ path, log: -1, checkpointed: -1, busy: false, ms: 0, error: err.message });
    for (const [path, s] of this.dbs) for (const w of [...s.current, ...(s.next ?? [])]) w(failedResult(path));
    this.dbs.clear();
    this.onFailure?.(err);
  }

  /**
   * Ask for a passive checkpoint of the database at `path`. Resolves with its result (tests use
   * it; callers normally ignore it). Never rejects.
   */
  request(path: string): Promise<CheckpointResult> {
    return new Promise((resolve) => {
      if (!this.available) {
        resolve({ path, log: -1, checkpointed: -1, busy: false, ms: 0, error: this.failed?.message ?? 'closed' });
        return;
      }
      const s = this.dbs.get(path);
      if (s) {
        (s.next ??= []).push(resolve);
        return;
      }
      this.dbs.set(path, { current: [resolve], next: null });
      this.post(path);
    });
  }

  private post(path: string): void {
    const mode: CheckpointMode = this.needRestart.delete(path) ? 'RESTART' : 'PASSIVE';
    try {
      this.start().postMessage({ path, mode });
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private done(r: CheckpointResult): void {
    const s = this.dbs.get(r.path);
    if (!s) return;
    if (r.error) this.log.warn({ path: r.path, error: r.error }, 'checkpoint failed');
    else if (r.log > this.restartAfterFrames) this.needRestart.add(r.path);
    const waiters = s.current;
    if (s.next && this.closed) {
      waiters.push(...s.next);
      this.dbs.delete(r.path);
    } else if (s.next) {
      // Requests made while this one ran get one more run, which sees their frames.
      s.current = s.next;
      s.next = null;
      this.post(r.path);
    } else {
      this.dbs.delete(r.path);
    }
    for (const w of waiters) w(r);
  }

  /** Stop the worker (after in-flight checkpoints). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Wait for the checkpoints running now (not for queued repeats).
    await Promise.all([...this.dbs.values()].map((s) => new Promise<unknown>((r) => s.current.push(r))));
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
