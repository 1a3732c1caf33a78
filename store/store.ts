/**
 * The Store: opens account stores lazily and runs the group commit for deliveries.
 *
 * Group commit: deliver() writes and fsyncs its message file concurrently with other deliveries
 * (async fs, libuv thread pool), then queues its row. The first queued row schedules a flush with
 * setImmediate: it runs after the current batch of I/O callbacks, so everything that became ready
 * meanwhile joins the same transaction. The flush commits up to MAX_BATCH rows per account in one
 * transaction at synchronous=NORMAL, then the account fdatasyncs its WAL on the thread pool (one
 * fsync per batch, as FULL would do inside COMMIT, but off the event loop; accounts in parallel),
 * and only then publishes the changes and resolves the promises. While that fsync runs, the
 * account's new rows queue up and form the next batch. An idle server commits a lone delivery at
 * once: no added latency. See store/README.md for why this is as durable as FULL.
 */
import { rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { Account, type AccountContext } from './account.js';
import type { AccountDelivery } from './account-delivery.js';
import { ChangeBus } from './changes.js';
import { DirMaker, DirSyncer, sweepTmp } from './msgfile.js';
import { accountsDir, accountDir, checkAccountName, tmpDir } from './paths.js';
import { StoreError } from './types.js';
import { Checkpointer } from './checkpointer.js';
import { FtsIndexer } from './fts-indexer.js';

/** Most rows committed in one transaction: bounds the time the event loop is blocked by a commit. */
export const MAX_BATCH = 256;

/**
 * Default StoreOptions.inlineMaxSize: messages given as bytes up to 256 KiB are stored in index.db
 * (the batch's WAL fsync makes them durable; no per-message file, file fsync and directory fsync).
 * The same as SMTP's SPILL_THRESHOLD (smtp/server/sink.ts): what a server holds in memory goes
 * inline, what it spilled to a temp file is hard-linked as a file. See README "Inline messages"
 * for the measurements behind it (64 KiB until session 5).
 */
export const DEFAULT_INLINE_MAX_SIZE = 256 * 1024;

/**
 * Default StoreOptions.maxConcurrentSyncs: libuv's default thread-pool size. In the SMTP bench
 * (10 accounts, 50 connections) 4 gave 10–30% more messages/s than no bound and than 1–3.
 */
export const MAX_CONCURRENT_SYNCS = 4;

export interface StoreOptions {
  dataDir: string;
  log?: Logger;
  clock?: () => Date;
  /** Per-account quota in bytes (mox QuotaMessageSize); 0/undefined: unlimited. */
  quotaMessageSize?: (account: string) => number | undefined;
  /** Override MAX_BATCH (tests, tuning). */
  maxBatch?: number;
  /**
   * Most delivery-batch WAL fsyncs running at once, over all accounts (default
   * MAX_CONCURRENT_SYNCS). An account that finds none free waits, its rows accumulating into a
   * larger batch, so under load the number of fsyncs stays bounded and batches grow.
   */
  maxConcurrentSyncs?: number;
  /**
   * Store messages given as bytes up to this size inside index.db (table message_blob) instead
   * of as files: no per-message fsync, the batch's WAL fsync covers them. Default
   * DEFAULT_INLINE_MAX_SIZE (256 KiB); 0: always files. See README "Inline messages".
   */
  inlineMaxSize?: number;
  /**
   * Run WAL checkpoints in a worker thread instead of inside commits on the event loop (default
   * true; store/checkpointer.ts).
   */
  checkpointWorker?: boolean;
  /**
   * Fill accounts' full-text indexes in a worker thread (default true; store/fts.ts). Without
   * it, indexing runs on the event loop.
   */
  ftsWorker?: boolean;
  /** Checkpointer restart threshold in WAL frames (tests). */
  checkpointRestartAfterFrames?: number;
  /**
   * Full-text indexing waits until no delivery batch was committed (in any account) for this
   * long (default INDEX_IDLE_MS), so a delivery burst does not pay for indexing while it runs;
   * SEARCH catches up first (store/README.md "Deferred indexing"). 0: index right away.
   */
  indexIdleMs?: number;
  /** …but an account's unindexed messages wait at most this long (default INDEX_MAX_DELAY_MS). */
  indexMaxDelayMs?: number;
  /** …and at most this many of them (default INDEX_MAX_BACKLOG), bounding SEARCH's catch-up. */
  indexMaxBacklog?: number;
}

/** Default StoreOptions.indexIdleMs: the store counts as idle after this long without a delivery. */
export const INDEX_IDLE_MS = 250;
/** Default StoreOptions.indexMaxDelayMs. */
export const INDEX_MAX_DELAY_MS = 10_000;
/** Default StoreOptions.indexMaxBacklog: ~1 s of catch-up for a SEARCH on this project's 2-core VM. */
export const INDEX_MAX_BACKLOG = 2_000;

/** Delivery group-commit counters since the store opened (benchmarks, diagnostics). */
export interface DeliveryStats {
  batches: number;
  rows: number;
  /** Sum and maximum of the batch transactions' time on the event loop, ms. */
  commitMs: number;
  commitMaxMs: number;
  /** Sum and maximum of the WAL fdatasync times (thread pool), ms. */
  syncMs: number;
  syncMaxMs: number;
}

export class Store {
  /** Delivery group-commit counters (batches, rows, commit and fsync times). */
  readonly deliveryStats: DeliveryStats = { batches: 0, rows: 0, commitMs: 0, commitMaxMs: 0, syncMs: 0, syncMaxMs: 0 };
  readonly dataDir: string;
  readonly changes: ChangeBus;
  private readonly log: Logger;
  private readonly accounts = new Map<string, Account>();
  private readonly dirty = new Set<AccountDelivery>();
  private flushScheduled = false;
  private closed = false;
  private readonly ctx: AccountContext;
  private readonly maxBatch: number;
  private syncSlots: number;
  /** Accounts waiting for a sync slot, in order; `granted`: handed a slot, not yet flushed. */
  private readonly syncWaiters = new Set<AccountDelivery>();
  private readonly syncGranted = new Set<AccountDelivery>();
  /** WAL checkpoints in a worker thread (undefined with checkpointWorker: false). */
  readonly checkpointer: Checkpointer | undefined;
  private readonly ftsIndexer: FtsIndexer | undefined;
  /** performance.now() of the last delivery batch flush (any account); -Infinity before any. */
  private lastDeliveryAt = -Infinity;

  private constructor(opts: StoreOptions) {
    this.dataDir = opts.dataDir;
    this.log = opts.log ?? nullLogger();
    this.changes = new ChangeBus(this.log);
    this.maxBatch = opts.maxBatch ?? MAX_BATCH;
    this.syncSlots = Math.max(1, opts.maxConcurrentSyncs ?? MAX_CONCURRENT_SYNCS);
    const syncer = new DirSyncer();
    this.checkpointer =
      opts.checkpointWorker === false
        ? undefined
        : new Checkpointer({
            log: this.log,
            restartAfterFrames: opts.checkpointRestartAfterFrames,
            onFailure: () => {
              for (const a of this.accounts.values()) a.enableAutoCheckpoint();
            },
          });
    this.ftsIndexer = opts.ftsWorker === false ? undefined : new FtsIndexer({ log: this.log });
    this.ctx = {
      dataDir: opts.dataDir,
      log: this.log,
      clock: opts.clock ?? (() => new Date()),
      bus: this.changes,
      syncer,
      dirs: new DirMaker(syncer),
      quotaLimit: opts.quotaMessageSize ?? (() => undefined),
      inlineMaxSize: opts.inlineMaxSize ?? DEFAULT_INLINE_MAX_SIZE,
      scheduleFlush: (a) => this.scheduleFlush(a),
      acquireSyncSlot: (a) => this.acquireSyncSlot(a),
      releaseSyncSlot: () => this.releaseSyncSlot(),
      checkpointer: this.checkpointer,
      ftsIndexer: this.ftsIndexer,
      indexPolicy: {
        idleMs: opts.indexIdleMs ?? INDEX_IDLE_MS,
        maxDelayMs: opts.indexMaxDelayMs ?? INDEX_MAX_DELAY_MS,
        maxBacklog: opts.indexMaxBacklog ?? INDEX_MAX_BACKLOG,
        sinceLastDelivery: () => performance.now() - this.lastDeliveryAt,
      },
      noteBatch: (rows, commitMs, syncMs) => {
        const st = this.deliveryStats;
        st.batches++;
        st.rows += rows;
        st.commitMs += commitMs;
        st.syncMs += syncMs;
        if (commitMs > st.commitMaxMs) st.commitMaxMs = commitMs;
        if (syncMs > st.syncMaxMs) st.syncMaxMs = syncMs;
      },
    };
  }

  /**
   * Open the store: sweeps <dataDir>/tmp (anything there was never acknowledged). Account
   * databases are opened (and their unreferenced message files swept) on first use.
   */
  static async open(opts: StoreOptions): Promise<Store> {
    const s = new Store(opts);
    const n = await sweepTmp(tmpDir(opts.dataDir));
    if (n) s.log.info({ removed: n }, 'swept temp files');
    return s;
  }

  /** The account's store, opened (and created with default mailboxes) on first use. */
  account(name: string): Account {
    if (this.closed) throw new StoreError('closed', 'store is closed');
    checkAccountName(name);
    let a = this.accounts.get(name);
    if (!a) {
      a = new Account(name, this.ctx);
      this.accounts.set(name, a);
    }
    return a;
  }

  /** Names of accounts that have a directory in the data dir. */
  accountNames(): string[] {
    try {
      return readdirSync(accountsDir(this.dataDir)).sort();
    } catch {
      return [];
    }
  }

  private scheduleFlush(a: AccountDelivery): void {
    this.dirty.add(a);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private acquireSyncSlot(a: AccountDelivery): boolean {
    if (this.syncGranted.delete(a)) return true;
    if (this.syncSlots > 0 && this.syncWaiters.size === 0) {
      this.syncSlots--;
      return true;
    }
    this.syncWaiters.add(a);
    return false;
  }

  private releaseSyncSlot(): void {
    for (const a of this.syncWaiters) {
      this.syncWaiters.delete(a);
      if (a.pendingCount === 0) continue; // nothing to flush any more (not expected)
      this.syncGranted.add(a);
      this.scheduleFlush(a);
      return;
    }
    this.syncSlots++;
  }

  private flush(): void {
    this.flushScheduled = false;
    this.lastDeliveryAt = performance.now();
    const accts = [...this.dirty];
    this.dirty.clear();
    for (const a of accts) {
      try {
        a.flushPending(this.maxBatch);
      } catch (err) {
        this.log.error({ err, account: a.name }, 'flushing deliveries');
      }
      // While the account's WAL fsync runs it asks for a flush itself when done.
      // While waiting for a sync slot it is flushed again when one is handed to it.
      if (a.pendingCount > 0 && !a.isSyncing && !this.syncWaiters.has(a)) this.scheduleFlush(a);
    }
  }

  /**
   * Remove an account's data: finish its deliveries in progress, close its database, delete its
   * directory. Used after the account was removed from domains.conf ("config account rm").
   */
  async removeAccount(name: string): Promise<void> {
    checkAccountName(name);
    const a = this.accounts.get(name);
    if (a) {
      this.accounts.delete(name);
      // Its queued deliveries are still flushed (close waits for them), then it is forgotten.
      await a.close();
      this.dirty.delete(a);
    }
    await rm(accountDir(this.dataDir, name), { recursive: true, force: true });
  }

  /** Finish deliveries in progress and close all account databases. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.accounts.values()].map((a) => a.close()));
    this.accounts.clear();
    await this.checkpointer?.close();
    await this.ftsIndexer?.close();
  }
}
