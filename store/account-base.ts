/**
 * The state every part of an account's store shares (store/account.ts is the whole Account):
 * the database connections, counters, the change publishing with its ordering rule, lifecycle
 * (open, orphan sweep, close) and checkpoint requests. The parts build on it in a chain:
 * AccountBase → AccountMailboxes (account-mailboxes.ts) → AccountDelivery (account-delivery.ts,
 * group commit) → Account (account.ts: messages, flags, copy/move/expunge, search, password).
 * See store/README.md for the invariants.
 *
 * Implementation notes:
 * - One better-sqlite3 connection per account, used only from the main thread; every write is a
 *   short IMMEDIATE transaction at synchronous=FULL, and its changes are published on the change
 *   bus right after the commit. Exception: delivery batches commit at synchronous=NORMAL and are
 *   made durable by an fdatasync of the WAL on the thread pool (walsync.ts) before anything is
 *   published or acknowledged.
 * - Message ids are handed out in memory (nextId) before the file is written, so files can be
 *   written concurrently and the rows committed later in one batch. The persisted
 *   account.nextMessageId only moves forward. Files whose id has no live row are swept when the
 *   account is opened.
 * - Every transaction that changes something takes new modseq values from the account counter;
 *   per-message modseq, per-mailbox highestModseq (RFC 7162).
 */
import { IndexDeferral } from './index-deferral.js';
import { promises as fsp, readdirSync, statSync, rmSync, mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDb, type Db } from './db.js';
import { ACCOUNT_MIGRATIONS } from './schema.js';
import { accountDbPath, accountDir, messagePath, messagesDir, messageDirName, MSG_DIR_SHIFT } from './paths.js';
import { WalSyncer } from './walsync.js';
import { FTS_DB_FILE, FTS_MIGRATIONS } from './fts.js';
import { prepareAccountStatements, type AccountStatements } from './account-sql.js';
import { MAX_UID, MAX_MAILBOX_NAME, DEFAULT_MAILBOXES, type AccountContext, type UidSet } from './account-types.js';
import type { Change } from './changes.js';
import { FLAG_BITS, StoreError } from './types.js';

/** What setFlags and expunge read of a message. */
export interface FlagRow {
  id: number;
  uid: number;
  modseq: number;
  bits: number;
  keywords: string[];
  size: number;
}

/** "INBOX", "inbox/x" → "Inbox", "Inbox/x" (IMAP: INBOX is case-insensitive). */
export function normalizeMailboxName(name: string): string {
  const lower = name.toLowerCase();
  if (lower === 'inbox') return 'Inbox';
  if (lower.startsWith('inbox/')) return 'Inbox' + name.slice(5);
  return name;
}

/** Throws StoreError('invalid') for names we don't accept (mox rules: no empty levels, no %*, no controls). */
export function checkMailboxName(name: string): void {
  if (!name || name.length > MAX_MAILBOX_NAME) throw new StoreError('invalid', 'invalid mailbox name length');
  if (name.split('/').some((p) => p === '')) throw new StoreError('invalid', 'mailbox name has empty hierarchy level');
  // eslint-disable-next-line no-control-regex
  if (/[%*\u0000-\u001f\u007f]/.test(name)) throw new StoreError('invalid', 'mailbox name has wildcard or control character');
}

export function normKeywords(kw: readonly string[] | undefined): string[] {
  if (!kw || kw.length === 0) return [];
  const out = new Set<string>();
  for (const k of kw) {
    const l = k.toLowerCase();
    if (!l || l.startsWith('\\') || /[\s(){}%*"\\\]\u0000-\u001f\u007f]/.test(l)) {
      throw new StoreError('invalid', `invalid keyword ${JSON.stringify(k)}`);
    }
    out.add(l);
  }
  return [...out].sort();
}

export function uidRanges(uids: UidSet): Array<[number, number]> {
  return uids.map((u) => {
    if (typeof u === 'number') return [u, u] as [number, number];
    const a = Math.min(u[0], u[1]);
    const b = Math.max(u[0], u[1]);
    return [a, Math.min(b, MAX_UID)] as [number, number];
  });
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const SEEN = FLAG_BITS.seen;
export const DELETED = FLAG_BITS.deleted;

/** SQLite's default wal_autocheckpoint (pages), restored if the checkpointer fails. */
export const DEFAULT_WAL_AUTOCHECKPOINT = 1000;
/** Ask for a checkpoint after about this much WAL (SQLite's default: 1000 pages of 4 KiB). */
export const CHECKPOINT_AFTER_BYTES = 4 * 1024 * 1024;
/** WAL estimate per delivered row (index and table pages) on top of inline message bytes. */
export const WAL_BYTES_PER_ROW = 1024;
/** WAL estimate per published change (flags, expunge, mailbox edits). */
export const WAL_BYTES_PER_CHANGE = 4096;

export abstract class AccountBase {
  readonly db: Db;
  protected nextId: number;
  protected quotaUsed: number;
  protected reserved = 0;
  protected inflight = new Set<Promise<unknown>>();
  protected closed = false;
  protected readonly st: AccountStatements;
  /** fdatasync of index.db-wal on the thread pool, after a batch committed at synchronous=NORMAL. */
  protected readonly wal: WalSyncer;
  /**
   * A committed delivery batch is waiting for its WAL fdatasync. No other batch is committed
   * meanwhile (rows keep queueing and form the next batch), and changes published by other
   * operations wait in `deferred` so the change bus stays in commit order.
   */
  protected syncing = false;
  protected deferred: Change[] = [];
  /** The account's full-text index database (store/fts.ts); written by the indexer worker. */
  readonly fts: Db;
  /** When new messages are handed to full-text indexing (store/index-deferral.ts). */
  protected readonly indexDeferral = new IndexDeferral(
    () => this.ctx.indexPolicy,
    () => this.indexPending().catch((err: unknown) => this.ctx.log.error({ err, account: this.name }, 'full-text indexing')),
  );
  protected readonly dbPath: string;
  /** Ids handed out whose rows are not committed yet (deliveries and copies in progress). */
  protected readonly reservedIds = new Set<number>();
  /** Estimated bytes written to the WAL since the last checkpoint request. */
  protected walBytes = 0;
  /**
   * Delivery batches whose fast path failed and that were redone with a savepoint per row (a row
   * failed, e.g. its mailbox was deleted meanwhile). Tests check it stays 0 otherwise.
   */
  batchRedos = 0;

  constructor(
    readonly name: string,
    protected readonly ctx: AccountContext,
  ) {
    const dir = accountDir(ctx.dataDir, name);
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) {
      // Make the new account directory (and any new parents) durable before anything is
      // acknowledged from it.
      for (let d = dir; d.length >= created.length; d = dirname(d)) syncDirSync(dirname(d));
    }
    const dbPath = accountDbPath(ctx.dataDir, name);
    this.db = openDb(dbPath, ACCOUNT_MIGRATIONS);
    try {
      // The index backs no acknowledgement (store/fts.ts): NORMAL.
      this.fts = openDb(join(dir, FTS_DB_FILE), FTS_MIGRATIONS, { synchronous: 'NORMAL' });
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.wal = new WalSyncer(`${dbPath}-wal`);
    this.dbPath = dbPath;
    try {
      // Checkpoints in a worker thread instead of inside a commit on the event loop.
      if (ctx.checkpointer?.available) this.db.pragma('wal_autocheckpoint = 0');
      this.initAccount();
      this.st = prepareAccountStatements(this.db);
      const meta = this.st.getAccount.get() as { nextMessageId: number; quotaUsed: number };
      const maxId = (this.db.prepare('SELECT max(id) AS m FROM message').get() as { m: number | null }).m ?? 0;
      this.nextId = Math.max(meta.nextMessageId, maxId + 1);
      this.quotaUsed = meta.quotaUsed;
      this.sweepOrphans();
    } catch (err) {
      this.fts.close();
      this.db.close();
      throw err;
    }
  }

  protected initAccount(): void {
    const tx = this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM account').get()) return;
      const now = this.ctx.clock().getTime();
      // UIDVALIDITY starts at the creation time in seconds (RFC 3501 §2.3.1.1 suggestion) so a
      // recreated account does not reuse values; afterwards it is a counter.
      let uidValidity = Math.max(1, Math.floor(now / 1000) % MAX_UID);
      this.db
        .prepare('INSERT INTO account (id, modseq, uidValidityNext, nextMessageId, quotaUsed, createdAt) VALUES (1, 1, ?, 1, 0, ?)')
        .run(uidValidity + DEFAULT_MAILBOXES.length, now);
      const ins = this.db.prepare(
        'INSERT INTO mailbox (name, specialUse, uidValidity, highestModseq, createSeq) VALUES (?, ?, ?, 1, 1)',
      );
      const sub = this.db.prepare('INSERT INTO subscription (name) VALUES (?)');
      for (const mb of DEFAULT_MAILBOXES) {
        ins.run(mb.name, mb.specialUse, uidValidity++);
        sub.run(mb.name);
      }
    });
    tx.immediate();
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Remove message files without a live row (written but never committed, or expunged but not
   * yet removed when the process died). Runs synchronously when the account is opened, before any
   * new id is handed out.
   */
  protected sweepOrphans(): number {
    const msgDir = messagesDir(this.ctx.dataDir, this.name);
    let dirs: string[];
    try {
      dirs = readdirSync(msgDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let removed = 0;
    const per = 2 ** MSG_DIR_SHIFT;
    for (const d of dirs) {
      const dirPath = join(msgDir, d);
      if (!statSync(dirPath).isDirectory()) continue;
      const names = readdirSync(dirPath);
      if (names.length === 0) continue;
      let live: Set<number> | undefined;
      for (const n of names) {
        const id = /^[0-9]+$/.test(n) ? Number(n) : NaN;
        if (Number.isNaN(id) || messageDirName(id) !== d) continue; // not ours; leave it
        if (!live) {
          const lo = Math.floor(id / per) * per;
          live = new Set(this.st.liveIdsInRange.all(lo, lo + per - 1) as number[]);
        }
        if (!live.has(id)) {
          rmSync(join(dirPath, n), { force: true });
          removed++;
        }
      }
    }
    if (removed) this.ctx.log.info({ account: this.name, removed }, 'removed unreferenced message files');
    return removed;
  }

  /** Waits for deliveries in progress, then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.indexDeferral.close();
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    await this.ctx.ftsIndexer?.forget(this.name);
    await this.wal.close();
    this.fts.close();
    this.db.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  protected checkOpen(): void {
    if (this.closed) throw new StoreError('closed', `account ${this.name} is closed`);
  }

  protected takeModseq(): number {
    return (this.st.getModseq.get() as number) + 1;
  }

  /**
   * Publish changes of a committed transaction. While a delivery batch waits for its WAL fsync
   * (its changes are published when that finishes), later changes wait behind it.
   */
  protected publish(changes: Change[]): void {
    if (!changes.length) return;
    let added = 0;
    for (const c of changes) if (c.kind === 'add') added += c.ids.length;
    if (added) this.indexDeferral.added(added);
    this.noteWalWrite(changes.length * WAL_BYTES_PER_CHANGE);
    if (this.syncing) this.deferred.push(...changes);
    else this.ctx.bus.publish(...changes);
  }

  /**
   * Count (an estimate of) bytes written to the WAL; past CHECKPOINT_AFTER_BYTES ask the
   * checkpointer for a passive checkpoint (store/checkpointer.ts).
   */
  protected noteWalWrite(bytes: number): void {
    const cp = this.ctx.checkpointer;
    if (!cp?.available) return;
    this.walBytes += bytes;
    if (this.walBytes < CHECKPOINT_AFTER_BYTES) return;
    this.walBytes = 0;
    void cp.request(this.dbPath);
  }

  /** The checkpointer failed: let SQLite checkpoint inside commits again (its default). */
  enableAutoCheckpoint(): void {
    if (this.closed) return;
    this.db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`);
  }

  messageFilePath(id: number): string {
    return messagePath(this.ctx.dataDir, this.name, id);
  }

  /** Full-text indexing of what was delivered (Account; called when the deferral says so). */
  abstract indexPending(): Promise<void>;

  /** Remove message files after a commit; failures are logged (the startup sweep retries). */
  protected removeFiles(ids: number[]): void {
    for (const id of ids) {
      const p = fsp.rm(this.messageFilePath(id), { force: true }).catch((err: unknown) => {
        this.ctx.log.warn({ err, account: this.name, id }, 'removing message file');
      });
      this.inflight.add(p);
      p.finally(() => this.inflight.delete(p));
    }
  }

  /** Resolves when all work started so far (deliveries, copies, file removals) has finished. */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }
}
