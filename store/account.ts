/**
 * One account's mail store: mailboxes, messages, flags/keywords, modseq, quota, message files,
 * and the delivery path with group commit. See store/README.md for the invariants.
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
 * - UIDs are assigned at commit time, in commit order, so UIDs in a mailbox increase with commits.
 * - Every transaction that changes something takes new modseq values from the account counter;
 *   per-message modseq, per-mailbox highestModseq (RFC 7162).
 * - Expunged messages stay as tombstone rows (expunged=1, parsed/meta cleared, file removed) so
 *   QRESYNC can report VANISHED uids.
 */
import { IndexDeferral } from './index-deferral.js';
import { promises as fsp, readdirSync, statSync, rmSync, mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDb, type Db } from './db.js';
import type { Statement, Transaction } from 'better-sqlite3';
import { ACCOUNT_MIGRATIONS } from './schema.js';
import { accountDbPath, accountDir, messagePath, messagesDir, messageDirName, MSG_DIR_SHIFT } from './paths.js';
import { installMessageFile, linkOrCopy, readRange } from './msgfile.js';
import { WalSyncer } from './walsync.js';
import { imapStrings, type ImapStrings } from './imapcache.js';
import { FTS_DB_FILE, FTS_MIGRATIONS, indexRange, indexedThrough, putText } from './fts.js';
import type { Part } from '../message/part.js';
import { rowToMailbox, rowToMessage, prepareAccountStatements, type AccountStatements, type MailboxRow, type MessageRow } from './account-sql.js';
import {
  MAX_UID,
  MAX_MAILBOX_NAME,
  DEFAULT_MAILBOXES,
  type AccountContext,
  type Changes,
  type CopyResult,
  type Delivered,
  type DeliverOptions,
  type ExpungeResult,
  type FlagResult,
  type FlagUpdate,
  type UidSet,
} from './account-types.js';
export * from './account-types.js';
import type { Change } from './changes.js';
import {
  FLAG_BITS,
  flagsFromBits,
  flagsToBits,
  MailboxNotFoundError,
  QuotaExceededError,
  SPECIAL_USES,
  StoreError,
  type Mailbox,
  type Message,
  type SpecialUse,
} from './types.js';

/** What setFlags and expunge read of a message. */
interface FlagRow {
  id: number;
  uid: number;
  modseq: number;
  bits: number;
  keywords: string[];
  size: number;
}

interface PendingDelivery {
  id: number;
  mailboxId: number;
  o: DeliverOptions;
  size: number;
  bits: number;
  keywords: string[];
  /** Bytes to store inline in message_blob, or null if the message is a file. */
  inline: Uint8Array | null;
  /** Preformatted IMAP ENVELOPE/BODYSTRUCTURE (computed before the batch transaction). */
  imap: ImapStrings;
  resolve: (d: Delivered) => void;
  reject: (e: unknown) => void;
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

function normKeywords(kw: readonly string[] | undefined): string[] {
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

function uidRanges(uids: UidSet): Array<[number, number]> {
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

const SEEN = FLAG_BITS.seen;
const DELETED = FLAG_BITS.deleted;

/** SQLite's default wal_autocheckpoint (pages), restored if the checkpointer fails. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;
/** Ask for a checkpoint after about this much WAL (SQLite's default: 1000 pages of 4 KiB). */
export const CHECKPOINT_AFTER_BYTES = 4 * 1024 * 1024;
/** WAL estimate per delivered row (index and table pages) on top of inline message bytes. */
const WAL_BYTES_PER_ROW = 1024;
/** WAL estimate per published change (flags, expunge, mailbox edits). */
const WAL_BYTES_PER_CHANGE = 4096;

export class Account {
  readonly db: Db;
  private nextId: number;
  private quotaUsed: number;
  private reserved = 0;
  private pending: PendingDelivery[] = [];
  private inflight = new Set<Promise<unknown>>();
  private closed = false;
  private readonly st: AccountStatements;
  private readonly commitOne: (p: PendingDelivery, modseq: number) => number;
  private readonly commitBatch: Transaction<(batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean) => number>;
  /** fdatasync of index.db-wal on the thread pool, after a batch committed at synchronous=NORMAL. */
  private readonly wal: WalSyncer;
  /**
   * A committed delivery batch is waiting for its WAL fdatasync. No other batch is committed
   * meanwhile (rows keep queueing and form the next batch), and changes published by other
   * operations wait in `deferred` so the change bus stays in commit order.
   */
  private syncing = false;
  private deferred: Change[] = [];
  /** The running full-text indexing loop, if any (indexPending). */
  private indexRun: Promise<number> | null = null;
  /** imapMessages statements by column set. */
  private readonly leanStatements: Array<Statement | undefined> = [];
  /** The account's full-text index database (store/fts.ts); written by the indexer worker. */
  readonly fts: Db;
  /** When new messages are handed to full-text indexing (store/index-deferral.ts). */
  private readonly indexDeferral = new IndexDeferral(
    () => this.ctx.indexPolicy,
    () => this.indexPending().catch((err: unknown) => this.ctx.log.error({ err, account: this.name }, 'full-text indexing')),
  );
  private readonly dbPath: string;
  /** Statements of setFlagBits by mode and UNCHANGEDSINCE. */
  private readonly flagBitStatements = new Map<string, { counts: Statement; update: Statement; failed: Statement | null }>();
  /** Ids handed out whose rows are not committed yet (deliveries and copies in progress). */
  private readonly reservedIds = new Set<number>();
  /** Estimated bytes written to the WAL since the last checkpoint request. */
  private walBytes = 0;
  /**
   * Delivery batches whose fast path failed and that were redone with a savepoint per row (a row
   * failed, e.g. its mailbox was deleted meanwhile). Tests check it stays 0 otherwise.
   */
  batchRedos = 0;

  constructor(
    readonly name: string,
    private readonly ctx: AccountContext,
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
      this.commitOne = this.db.transaction((p: PendingDelivery, modseq: number) => this.insertDelivery(p, modseq));
      this.commitBatch = this.db.transaction((batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean) =>
        this.insertBatch(batch, results, isolated),
      );
    } catch (err) {
      this.fts.close();
      this.db.close();
      throw err;
    }
  }

  private initAccount(): void {
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
  private sweepOrphans(): number {
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

  private checkOpen(): void {
    if (this.closed) throw new StoreError('closed', `account ${this.name} is closed`);
  }

  private takeModseq(): number {
    return (this.st.getModseq.get() as number) + 1;
  }

  /**
   * Publish changes of a committed transaction. While a delivery batch waits for its WAL fsync
   * (its changes are published when that finishes), later changes wait behind it.
   */
  private publish(changes: Change[]): void {
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
  private noteWalWrite(bytes: number): void {
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

  // ---------------------------------------------------------------- mailboxes

  mailbox(idOrName: number | string): Mailbox | undefined {
    const r = (typeof idOrName === 'number'
      ? this.st.mailboxById.get(idOrName)
      : this.st.mailboxByName.get(normalizeMailboxName(idOrName))) as MailboxRow | undefined;
    return r ? rowToMailbox(r) : undefined;
  }

  private xmailbox(idOrName: number | string): Mailbox {
    const mb = this.mailbox(idOrName);
    if (!mb) throw new MailboxNotFoundError(idOrName);
    return mb;
  }

  listMailboxes(): Mailbox[] {
    return (this.st.mailboxes.all() as MailboxRow[]).map(rowToMailbox);
  }

  /**
   * Create a mailbox and any missing parents. Throws StoreError('exists') if it exists.
   * Returns the new mailbox.
   */
  createMailbox(name: string, opts: { specialUse?: SpecialUse | null; subscribe?: boolean } = {}): Mailbox {
    this.checkOpen();
    name = normalizeMailboxName(name);
    checkMailboxName(name);
    if (opts.specialUse && !SPECIAL_USES.includes(opts.specialUse)) throw new StoreError('invalid', 'unknown special-use');
    const changes: Change[] = [];
    const tx = this.db.transaction(() => {
      if (this.st.mailboxIdByName.get(name) !== undefined) throw new StoreError('exists', `mailbox ${name} exists`);
      const modseq = this.takeModseq();
      this.createMailboxes(name, opts.specialUse ?? null, modseq, changes);
      if (opts.subscribe ?? true) this.db.prepare('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(name);
      this.st.setCounters.run(modseq, 0, 0);
    });
    tx.immediate();
    this.publish(changes);
    return this.xmailbox(name);
  }

  /** Inside a transaction: create `name` and missing parents. */
  private createMailboxes(name: string, specialUse: SpecialUse | null, modseq: number, changes: Change[]): number {
    const parts = name.split('/');
    let id = 0;
    for (let i = 1; i <= parts.length; i++) {
      const n = parts.slice(0, i).join('/');
      const existing = this.st.mailboxIdByName.get(n) as number | undefined;
      if (existing !== undefined) {
        id = existing;
        continue;
      }
      const su = i === parts.length ? specialUse : null;
      const uidValidity = this.st.takeUidValidity.get() as number;
      id = this.st.insertMailbox.get(n, su, uidValidity, modseq, modseq) as number;
      changes.push({ account: this.name, kind: 'mailbox-add', modseq, mailboxId: id, name: n, specialUse: su });
    }
    return id;
  }

  /**
   * Rename a mailbox and its children (RFC 9051 §6.3.6); missing parents of the new name are
   * created; subscriptions follow. UIDVALIDITY is kept. Renaming Inbox is not supported.
   */
  renameMailbox(from: number | string, to: string): Mailbox[] {
    this.checkOpen();
    to = normalizeMailboxName(to);
    checkMailboxName(to);
    const changes: Change[] = [];
    const renamed: number[] = [];
    const tx = this.db.transaction(() => {
      const mb = this.xmailbox(from);
      if (mb.name === 'Inbox') throw new StoreError('notallowed', 'renaming Inbox is not supported');
      if (to === mb.name) return;
      if (to.startsWith(mb.name + '/')) throw new StoreError('invalid', 'cannot rename a mailbox into itself');
      if (this.st.mailboxIdByName.get(to) !== undefined) throw new StoreError('exists', `mailbox ${to} exists`);
      const modseq = this.takeModseq();
      const prefix = mb.name + '/';
      const kids = this.db
        .prepare('SELECT id, name FROM mailbox WHERE substr(name, 1, ?) = ? ORDER BY name')
        .all(prefix.length, prefix) as Array<{ id: number; name: string }>;
      const all = [{ id: mb.id, name: mb.name }, ...kids];
      const upd = this.db.prepare('UPDATE mailbox SET name = ?, highestModseq = ? WHERE id = ?');
      const updSub = this.db.prepare('UPDATE OR REPLACE subscription SET name = ? WHERE name = ?');
      for (const m of all) {
        const newName = to + m.name.slice(mb.name.length);
        if (m.id !== mb.id && this.st.mailboxIdByName.get(newName) !== undefined) {
          throw new StoreError('exists', `mailbox ${newName} exists`);
        }
        upd.run(newName, modseq, m.id);
        updSub.run(newName, m.name);
        renamed.push(m.id);
        changes.push({ account: this.name, kind: 'mailbox-rename', modseq, mailboxId: m.id, oldName: m.name, name: newName });
      }
      // Create missing parents of the new name.
      const parent = to.split('/').slice(0, -1).join('/');
      if (parent) this.createMailboxes(parent, null, modseq, changes);
      this.st.setCounters.run(modseq, 0, 0);
    });
    tx.immediate();
    this.publish(changes);
    return renamed.map((id) => this.xmailbox(id));
  }

  /**
   * Delete a mailbox with its messages. Inbox cannot be deleted; a mailbox with children cannot
   * be deleted (delete the children first), like mox.
   */
  deleteMailbox(idOrName: number | string): void {
    this.checkOpen();
    const changes: Change[] = [];
    let files: number[] = [];
    const inlined = new Set<number>();
    const tx = this.db.transaction(() => {
      const mb = this.xmailbox(idOrName);
      if (mb.name === 'Inbox') throw new StoreError('notallowed', 'Inbox cannot be deleted');
      const kid = this.db.prepare('SELECT 1 FROM mailbox WHERE substr(name, 1, ?) = ? LIMIT 1').get(mb.name.length + 1, mb.name + '/');
      if (kid) throw new StoreError('haschildren', `mailbox ${mb.name} has children`);
      const modseq = this.takeModseq();
      files = this.db.prepare('SELECT id FROM message WHERE mailboxId = ? AND expunged = 0').pluck().all(mb.id) as number[];
      for (const id of files) {
        if (this.st.deleteBlob.run(id).changes) inlined.add(id);
        this.st.deleteParsed.run(id);
        this.st.deleteImap.run(id);
      }
      this.db.prepare('DELETE FROM message WHERE mailboxId = ?').run(mb.id);
      this.db.prepare('DELETE FROM mailbox WHERE id = ?').run(mb.id);
      this.st.setCounters.run(modseq, 0, -mb.size);
      this.quotaUsed -= mb.size;
      changes.push({ account: this.name, kind: 'mailbox-remove', modseq, mailboxId: mb.id, name: mb.name });
    });
    tx.immediate();
    this.publish(changes);
    this.removeFiles(files.filter((id) => !inlined.has(id)));
  }

  /** Subscribe or unsubscribe a name (which need not exist as a mailbox). */
  setSubscribed(name: string, subscribed: boolean): void {
    this.checkOpen();
    name = normalizeMailboxName(name);
    checkMailboxName(name);
    let change: Change | undefined;
    const tx = this.db.transaction(() => {
      const r = subscribed
        ? this.db.prepare('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(name)
        : this.db.prepare('DELETE FROM subscription WHERE name = ?').run(name);
      if (r.changes === 0) return;
      const modseq = this.takeModseq();
      this.st.setCounters.run(modseq, 0, 0);
      const id = (this.st.mailboxIdByName.get(name) as number | undefined) ?? null;
      change = { account: this.name, kind: 'subscribe', modseq, name, subscribed, mailboxId: id };
    });
    tx.immediate();
    if (change) this.publish([change]);
  }

  listSubscriptions(): string[] {
    return this.db.prepare('SELECT name FROM subscription ORDER BY name').pluck().all() as string[];
  }

  // ---------------------------------------------------------------- delivery (group commit)

  /**
   * Deliver a message into a mailbox. Resolves once the file (fsync'd, in place, directory
   * fsync'd) and the rows (committed, synchronous=FULL) are durable: only then may the caller
   * acknowledge. Concurrent deliveries share one commit (group commit, see Store).
   * Rejects with QuotaExceededError (before writing anything) if the account's quota would be
   * exceeded, MailboxNotFoundError if the mailbox is missing and create is false.
   * The caller must not modify `data` (or the temp file) until the promise settles.
   */
  deliver(o: DeliverOptions): Promise<Delivered> {
    const p = this.deliverInner(o);
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** IMAP APPEND / webapi: same path as deliver, but a missing mailbox is an error (TRYCREATE). */
  append(mailbox: string | number, o: Omit<DeliverOptions, 'mailbox'>): Promise<Delivered> {
    return this.deliver({ ...o, mailbox, create: o.create ?? false });
  }

  private async deliverInner(o: DeliverOptions): Promise<Delivered> {
    this.checkOpen();
    let mailboxId: number;
    if (typeof o.mailbox === 'number') {
      // Only whether it exists (the batch takes uids and counts from the row itself).
      if (this.st.mailboxIdById.get(o.mailbox) === undefined) throw new MailboxNotFoundError(o.mailbox);
      mailboxId = o.mailbox;
    } else {
      const name = normalizeMailboxName(o.mailbox);
      const id = this.st.mailboxIdByName.get(name) as number | undefined;
      if (id !== undefined) mailboxId = id;
      else if (o.create ?? true) mailboxId = this.createMailbox(name).id;
      else throw new MailboxNotFoundError(o.mailbox);
    }
    const bits = flagsToBits(o.flags ?? []);
    const keywords = normKeywords(o.keywords);
    let size: number;
    if (o.data instanceof Uint8Array) size = o.data.length;
    else size = o.data.size ?? (await fsp.stat(o.data.tempPath)).size;
    this.checkOpen();
    this.reserveQuota(size);
    const id = this.reserveIds(1)[0]!;
    try {
      const inline = o.data instanceof Uint8Array && size <= this.ctx.inlineMaxSize ? o.data : null;
      const imap = imapStrings(o.parsed);
      if (inline) {
        return await new Promise<Delivered>((resolve, reject) => {
          this.pending.push({ id, mailboxId, o, size, bits, keywords, inline, imap, resolve, reject });
          this.ctx.scheduleFlush(this);
        });
      }
      try {
        await installMessageFile({
          target: messagePath(this.ctx.dataDir, this.name, id),
          data: o.data,
          syncer: this.ctx.syncer,
          dirs: this.ctx.dirs,
        });
      } catch (err) {
        this.reserved -= size;
        throw err;
      }
      return await new Promise<Delivered>((resolve, reject) => {
        this.pending.push({ id, mailboxId, o, size, bits, keywords, inline: null, imap, resolve, reject });
        this.ctx.scheduleFlush(this);
      });
    } finally {
      this.reservedIds.delete(id);
    }
  }

  /**
   * Hand out message ids before their rows are committed (files are named by id). Until released
   * they keep the full-text indexer's watermark below them (indexableThrough).
   */
  private reserveIds(n: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      this.reservedIds.add(id);
      ids.push(id);
    }
    return ids;
  }

  /** Highest id such that every id at or below it is committed or will never be. */
  private indexableThrough(): number {
    let min = this.nextId;
    for (const id of this.reservedIds) if (id < min) min = id;
    return min - 1;
  }

  private reserveQuota(size: number): void {
    const limit = this.ctx.quotaLimit(this.name);
    if (limit && this.quotaUsed + this.reserved + size > limit) {
      throw new QuotaExceededError(this.quotaUsed + this.reserved, limit, size);
    }
    this.reserved += size;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Inside the batch transaction (as a savepoint): insert one delivery. Returns its uid. */
  private insertDelivery(p: PendingDelivery, modseq: number): number {
    const uid = this.st.mailboxAdd.get(
      (p.bits & SEEN) === 0 ? 1 : 0,
      (p.bits & DELETED) !== 0 ? 1 : 0,
      p.size,
      modseq,
      p.mailboxId,
    ) as number | undefined;
    if (uid === undefined) throw new MailboxNotFoundError(p.mailboxId);
    if (uid > MAX_UID) throw new StoreError('invalid', 'mailbox uids exhausted');
    this.insertRow(p, uid, modseq);
    return uid;
  }

  /**
   * Inside the batch transaction, without savepoints: one mailbox update per mailbox of the
   * batch (uids taken as a block, counts and highestModseq added once) instead of one per row,
   * then the rows, each with the uid and modseq insertDelivery would have given it (batch order).
   * Any error aborts the batch, which is then redone row by row with savepoints.
   */
  private insertBatchFast(batch: PendingDelivery[], modseq: number, results: Array<Delivered | Error>): void {
    const per = new Map<number, { n: number; unseen: number; deleted: number; size: number; lastModseq: number; next: number }>();
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      let a = per.get(p.mailboxId);
      if (!a) per.set(p.mailboxId, (a = { n: 0, unseen: 0, deleted: 0, size: 0, lastModseq: 0, next: 0 }));
      a.n++;
      if ((p.bits & SEEN) === 0) a.unseen++;
      if ((p.bits & DELETED) !== 0) a.deleted++;
      a.size += p.size;
      a.lastModseq = modseq + i + 1;
    }
    for (const [mailboxId, a] of per) {
      const first = this.st.mailboxAddMany.get(a.n, a.n, a.unseen, a.deleted, a.size, a.lastModseq, mailboxId, a.n) as number | undefined;
      if (first === undefined) throw new MailboxNotFoundError(mailboxId);
      if (first + a.n - 1 > MAX_UID) throw new StoreError('invalid', 'mailbox uids exhausted');
      a.next = first;
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const uid = per.get(p.mailboxId)!.next++;
      this.insertRow(p, uid, modseq + i + 1);
      results[i] = { id: p.id, uid, mailboxId: p.mailboxId, modseq: modseq + i + 1 };
    }
  }

  /** The message row (and inline bytes) of a delivery whose uid and mailbox counts are taken. */
  private insertRow(p: PendingDelivery, uid: number, modseq: number): void {
    const o = p.o;
    if (p.keywords.length) this.addMailboxKeywords(p.mailboxId, p.keywords);
    this.st.insertMessage.run(
      p.id,
      p.mailboxId,
      uid,
      modseq,
      modseq,
      p.bits,
      JSON.stringify(p.keywords),
      (o.receivedAt ?? this.ctx.clock()).getTime(),
      p.size,
      o.messageId ?? '',
      o.subject ?? '',
      null, // the parse tree goes into message_parsed (below)
      o.mailFrom ?? '',
      o.rcptTo ?? '',
      o.remoteIp ?? '',
      o.meta === undefined ? null : JSON.stringify(o.meta),
    );
    if (p.imap.envelope !== null || p.imap.bodyStructure !== null) this.st.insertImap.run(p.id, p.imap.envelope, p.imap.bodyStructure);
    if (o.parsed !== undefined) this.st.insertParsed.run(p.id, JSON.stringify(o.parsed));
    if (p.inline) this.st.insertBlob.run(p.id, p.inline);
  }

  /**
   * Inside the batch transaction: insert the rows, each with its own modseq; with `isolated`,
   * each in a savepoint so a failing row is rolled back alone (its error goes to `results`),
   * otherwise the first error is thrown. Returns the committed size.
   */
  private insertBatch(batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean): number {
    let modseq = this.st.getModseq.get() as number;
    let size = 0;
    if (!isolated) {
      this.insertBatchFast(batch, modseq, results);
      for (const p of batch) size += p.size;
      this.st.setCounters.run(modseq + batch.length, this.nextId, size);
      return size;
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      let uid: number;
      if (isolated) {
        try {
          uid = this.commitOne(p, modseq + 1);
        } catch (err) {
          results[i] = err instanceof Error ? err : new Error(String(err));
          continue;
        }
      } else {
        uid = this.insertDelivery(p, modseq + 1);
      }
      modseq++;
      size += p.size;
      results[i] = { id: p.id, uid, mailboxId: p.mailboxId, modseq };
    }
    this.st.setCounters.run(modseq, this.nextId, size);
    return size;
  }

  private addMailboxKeywords(mailboxId: number, kws: string[]): void {
    const cur = JSON.parse((this.st.mailboxKeywords.get(mailboxId) as string | undefined) ?? '[]') as string[];
    const set = new Set(cur);
    let added = false;
    for (const k of kws) if (!set.has(k)) (set.add(k), (added = true));
    if (added) this.st.setMailboxKeywords.run(JSON.stringify([...set].sort()), mailboxId);
  }

  /** A committed batch is waiting for its WAL fdatasync; the Store does not flush meanwhile. */
  get isSyncing(): boolean {
    return this.syncing;
  }

  /**
   * Commit up to `max` pending deliveries in one transaction, then make it durable with one
   * fdatasync of the WAL on the thread pool, then publish the changes and settle the promises.
   * Called by the Store's flusher; does nothing while the previous batch's fsync is running (the
   * account asks for a flush again when it finishes). Returns how many rows were taken.
   *
   * The transaction runs at synchronous=NORMAL (no fsync inside COMMIT, so the event loop is not
   * blocked); every other transaction of the connection stays at FULL. See store/README.md for
   * why this is exactly as durable as FULL.
   */
  flushPending(max: number): number {
    if (this.pending.length === 0 || this.syncing) return 0;
    if (!this.ctx.acquireSyncSlot(this)) return 0;
    const batch = this.pending.splice(0, max);
    if (this.closed && this.db.open === false) {
      this.ctx.releaseSyncSlot();
      for (const p of batch) p.reject(new StoreError('closed', 'account closed'));
      return batch.length;
    }
    const results: Array<Delivered | Error> = new Array(batch.length);
    let committedSize = 0;
    const t0 = performance.now();
    let committed = false;
    try {
      this.st.syncNormal.run();
      try {
        try {
          // Fast path: no savepoint per row. Any error rolls the whole batch back, and it is
          // redone with a savepoint per row, so only the failing rows fail.
          committedSize = this.commitBatch.immediate(batch, results, false);
        } catch (err) {
          this.batchRedos++;
          // Expected only when a row cannot be inserted (its error then goes to its caller).
          this.ctx.log.warn({ err, account: this.name, rows: batch.length }, 'delivery batch redone row by row');
          committedSize = this.commitBatch.immediate(batch, results, true);
        }
        committed = true;
      } finally {
        this.st.syncFull.run();
      }
    } catch (err) {
      for (let i = 0; i < batch.length; i++) results[i] = err instanceof Error ? err : new Error(String(err));
      committedSize = 0;
    }
    const commitMs = performance.now() - t0;
    this.quotaUsed += committedSize;
    if (committed) this.noteWalWrite(committedSize + batch.length * WAL_BYTES_PER_ROW);
    const changes: Change[] = [];
    const failed: number[] = [];
    let nFailed = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      this.reserved -= batch[i]!.size;
      if (r instanceof Error) {
        nFailed++;
        if (!batch[i]!.inline) failed.push(batch[i]!.id);
        continue;
      }
      const last = changes[changes.length - 1];
      if (last && last.kind === 'add' && last.mailboxId === r.mailboxId) {
        last.uids.push(r.uid);
        last.ids.push(r.id);
        last.modseq = r.modseq;
      } else {
        changes.push({ account: this.name, kind: 'add', modseq: r.modseq, mailboxId: r.mailboxId, uids: [r.uid], ids: [r.id] });
      }
    }
    if (nFailed) {
      this.ctx.log.error({ account: this.name, failed: nFailed }, 'deliveries failed at commit');
      this.removeFiles(failed);
    }
    const settle = (syncErr?: unknown) => {
      for (let i = 0; i < batch.length; i++) {
        const r = results[i]!;
        if (r instanceof Error) batch[i]!.reject(r);
        else if (syncErr !== undefined) batch[i]!.reject(syncErr);
        else batch[i]!.resolve(r);
      }
    };
    if (!committed || nFailed === batch.length) {
      this.ctx.releaseSyncSlot();
      settle();
      return batch.length;
    }
    // Durable once the WAL is fdatasync'd. Until then nothing is published or acknowledged.
    this.syncing = true;
    this.wal.sync().then(
      () => this.afterSync(batch.length, commitMs, t0, changes, settle, undefined),
      (err: unknown) => this.afterSync(batch.length, commitMs, t0, changes, settle, err),
    );
    return batch.length;
  }

  private afterSync(
    rows: number,
    commitMs: number,
    t0: number,
    changes: Change[],
    settle: (syncErr?: unknown) => void,
    err: unknown,
  ): void {
    this.syncing = false;
    this.ctx.releaseSyncSlot();
    const syncMs = performance.now() - t0 - commitMs;
    this.ctx.noteBatch?.(rows, commitMs, syncMs);
    this.ctx.log.debug({ account: this.name, rows, ms: +commitMs.toFixed(2), syncMs: +syncMs.toFixed(2) }, 'delivery batch committed');
    if (err !== undefined) {
      // The rows are committed (readers see them) but we cannot tell whether they are durable:
      // refuse the acknowledgement (SMTP answers 451, the sender retries; a duplicate is
      // possible, a loss is not). The changes are still published: the rows exist.
      this.ctx.log.error({ err, account: this.name, rows }, 'fsync of the account WAL failed');
    }
    // One publish, so changes made by listeners queue behind the deferred ones.
    const all = this.deferred.length ? [...changes, ...this.deferred] : changes;
    this.deferred = [];
    this.publish(all);
    settle(err);
    if (this.pending.length) this.ctx.scheduleFlush(this);
  }

  // ---------------------------------------------------------------- messages

  messageFilePath(id: number): string {
    return messagePath(this.ctx.dataDir, this.name, id);
  }

  /**
   * Bytes [start, end) of a message (whole message by default), from its file or inline BLOB.
   * IMAP FETCH and webapi must read through this, not through messageFilePath.
   */
  readMessage(id: number, start = 0, end?: number): Promise<Buffer> {
    if (this.st.hasBlob.get(id) !== undefined) {
      const size = this.st.blobSize.get(id) as number;
      const stop = Math.min(end ?? size, size);
      const from = Math.max(0, Math.min(start, stop));
      const b = this.st.readBlob.get(from + 1, stop - from, id) as Buffer | null;
      return Promise.resolve(b ? Buffer.from(b) : Buffer.alloc(0));
    }
    return readRange(this.messageFilePath(id), start, end);
  }

  /** Whether a message's bytes are stored inline in index.db (no file). */
  isInline(id: number): boolean {
    return this.st.hasBlob.get(id) !== undefined;
  }

  getMessage(id: number): Message | undefined {
    const r = this.st.messageById.get(id) as MessageRow | undefined;
    return r ? rowToMessage(r) : undefined;
  }

  getMessageByUid(mailboxId: number, uid: number): Message | undefined {
    const r = this.st.messageByUid.get(mailboxId, uid) as MessageRow | undefined;
    return r ? rowToMessage(r) : undefined;
  }

  /** UIDs of the live messages of a mailbox, ascending (IMAP sequence-number map at SELECT). */
  uids(mailboxId: number): number[] {
    return this.st.liveUids.all(mailboxId) as number[];
  }

  /** UID of the first live message without \Seen (IMAP4rev1 SELECT's UNSEEN), or undefined. */
  firstUnseenUid(mailboxId: number): number | undefined {
    const u = this.db
      .prepare('SELECT min(uid) FROM message WHERE mailboxId = ? AND expunged = 0 AND (flags & 1) = 0')
      .pluck()
      .get(mailboxId) as number | null;
    return u ?? undefined;
  }

  /**
   * Live messages of a mailbox in uid order. With `uids`, only those; otherwise a page of up to
   * `limit` (default all) after `afterUid`. `full` includes parsed and meta (heavier); `imap`
   * only the preformatted IMAP ENVELOPE/BODYSTRUCTURE besides the summary.
   */
  listMessages(
    mailboxId: number,
    opts: { uids?: UidSet; afterUid?: number; limit?: number; full?: boolean; imap?: boolean } = {},
  ): Message[] {
    const out: Message[] = [];
    if (opts.uids) {
      const st = opts.full ? this.st.messagesRangeFull : opts.imap ? this.st.messagesRangeImap : this.st.messagesRange;
      const ranges = uidRanges(opts.uids);
      // One range (IMAP "1:*"): rows cannot repeat, no need to track them.
      const seen = ranges.length > 1 ? new Set<number>() : undefined;
      for (const [a, b] of ranges) {
        for (const r of st.iterate(mailboxId, a, b) as IterableIterator<MessageRow>) {
          if (seen) {
            if (seen.has(r.id)) continue;
            seen.add(r.id);
          }
          out.push(rowToMessage(r));
        }
      }
      if (opts.uids.length > 1) out.sort((x, y) => x.uid - y.uid);
      return out;
    }
    const st = opts.full ? this.st.messagesPageFull : opts.imap ? this.st.messagesPageImap : this.st.messagesPage;
    for (const r of st.iterate(mailboxId, opts.afterUid ?? 0, opts.limit ?? -1) as IterableIterator<MessageRow>) {
      out.push(rowToMessage(r));
    }
    return out;
  }

  /**
   * Lean listing for IMAP over many messages (FETCH of the whole mailbox, SEARCH): only id, uid,
   * modseq, flags, keywords, receivedAt and size, plus the preformatted ENVELOPE and/or
   * BODYSTRUCTURE when asked; messageId, subject, mailFrom, rcptTo and remoteIp are left empty.
   * Rows are read as arrays (no per-row column objects) and keywords are parsed only when set:
   * materialising unused columns was half the cost of FETCH 1:* ENVELOPE on 10,000 messages.
   */
  imapMessages(mailboxId: number, uids: UidSet | null, cols: { envelope?: boolean; bodyStructure?: boolean } = {}): Message[] {
    const key = (cols.envelope ? 1 : 0) | (cols.bodyStructure ? 2 : 0);
    let st = this.leanStatements[key];
    if (!st) {
      // The IMAP strings are in message_imap (schema migration 7), joined by id only when asked for.
      const extra = (cols.envelope ? ', i.envelope' : ', NULL') + (cols.bodyStructure ? ', i.bodyStructure' : ', NULL');
      const join = key ? ' LEFT JOIN message_imap i ON i.id = m.id' : '';
      st = this.db
        .prepare(
          `SELECT m.id, m.uid, m.modseq, m.flags, m.keywords, m.receivedAt, m.size${extra} FROM message m${join} WHERE m.mailboxId = ? AND m.uid BETWEEN ? AND ? AND m.expunged = 0 ORDER BY m.uid`,
        )
        .raw(true);
      this.leanStatements[key] = st;
    }
    const out: Message[] = [];
    const ranges = uids ? uidRanges(uids) : [[1, MAX_UID] as [number, number]];
    const seen = ranges.length > 1 ? new Set<number>() : null;
    for (const [a, b] of ranges) {
      for (const r of st.iterate(mailboxId, a, b) as IterableIterator<[number, number, number, number, string, number, number, string | null, string | null]>) {
        if (seen) {
          if (seen.has(r[0])) continue;
          seen.add(r[0]);
        }
        out.push({
          id: r[0],
          mailboxId,
          uid: r[1],
          modseq: r[2],
          createSeq: 0,
          flags: flagsFromBits(r[3]),
          keywords: r[4] === '[]' ? [] : (JSON.parse(r[4]) as string[]),
          receivedAt: new Date(r[5]),
          size: r[6],
          messageId: '',
          subject: '',
          mailFrom: '',
          rcptTo: '',
          remoteIp: '',
          expunged: false,
          imapEnvelope: r[7],
          imapBodyStructure: r[8],
        });
      }
    }
    if (ranges.length > 1) out.sort((x, y) => x.uid - y.uid);
    return out;
  }

  /** Uids in a mailbox of live messages with these ids (IMAP SEARCH after a full-text match). */
  uidsOfIds(mailboxId: number, ids: readonly number[]): Map<number, number> {
    const m = new Map<number, number>();
    if (!ids.length) return m;
    for (const r of this.st.uidsOfIds.iterate(mailboxId, JSON.stringify(ids)) as IterableIterator<[number, number]>) m.set(r[0], r[1]);
    return m;
  }

  /**
   * Change flags/keywords of messages (IMAP STORE, webapi). Changed messages get one new modseq.
   * With unchangedSince, messages whose modseq is higher are left alone and listed in `failed`.
   */
  setFlags(mailboxId: number, uids: UidSet, upd: FlagUpdate): FlagResult {
    this.checkOpen();
    const bits = flagsToBits(upd.flags ?? []);
    const kws = normKeywords(upd.keywords);
    const result: FlagResult = { modseq: null, changed: [], failed: [] };
    // Adding or removing system flags only (IMAP STORE +FLAGS/-FLAGS (\Seen) on a whole mailbox):
    // set-based UPDATEs in SQLite, no row read into JS first.
    const setBased = !kws.length && upd.mode !== 'replace';
    const tx = this.db.transaction(() => {
      this.xmailbox(mailboxId);
      if (setBased) return this.setFlagBits(mailboxId, uids, upd.mode === 'add', bits, upd.unchangedSince, result);
      const msgs = this.flagRows(mailboxId, uids);
      let modseq = 0;
      let dUnseen = 0;
      let dDeleted = 0;
      for (const m of msgs) {
        if (upd.unchangedSince !== undefined && m.modseq > upd.unchangedSince) {
          result.failed.push(m.uid);
          continue;
        }
        const old = m.bits;
        let nb: number;
        let nk: string[];
        if (upd.mode === 'add') {
          nb = old | bits;
          nk = kws.length ? [...new Set([...m.keywords, ...kws])].sort() : m.keywords;
        } else if (upd.mode === 'remove') {
          nb = old & ~bits;
          nk = kws.length ? m.keywords.filter((k) => !kws.includes(k)) : m.keywords;
        } else {
          nb = bits;
          nk = kws;
        }
        if (nb === old && nk.length === m.keywords.length && nk.every((k, i) => k === m.keywords[i])) continue;
        if (!modseq) modseq = this.takeModseq();
        this.st.updateFlags.run(nb, JSON.stringify(nk), modseq, m.id);
        dUnseen += ((old & SEEN) !== 0 ? 1 : 0) - ((nb & SEEN) !== 0 ? 1 : 0);
        dDeleted += ((nb & DELETED) !== 0 ? 1 : 0) - ((old & DELETED) !== 0 ? 1 : 0);
        result.changed.push({ id: m.id, uid: m.uid, flags: flagsFromBits(nb), keywords: nk, modseq });
      }
      if (!modseq) return;
      this.st.mailboxCounts.run(0, dUnseen, dDeleted, 0, modseq, mailboxId);
      if (kws.length && upd.mode !== 'remove') this.addMailboxKeywords(mailboxId, kws);
      this.st.setCounters.run(modseq, 0, 0);
      result.modseq = modseq;
    });
    tx.immediate();
    if (result.modseq !== null) {
      this.publish([
        {
          account: this.name,
          kind: 'flags',
          modseq: result.modseq,
          mailboxId,
          uids: result.changed.map((c) => c.uid),
          flags: result.changed.map((c) => c.flags),
          keywords: result.changed.map((c) => c.keywords),
        },
      ]);
    }
    return result;
  }

  /**
   * setFlags for +FLAGS/-FLAGS of system flags (no keywords), inside its transaction: per uid range
   * one aggregate (how the mailbox's unseen/deleted counts move) and one UPDATE ... RETURNING of
   * the rows that actually change, all in SQLite. 10,000 messages: one statement instead of
   * 10,000 row reads and 10,000 UPDATE calls from JS.
   */
  private setFlagBits(mailboxId: number, uids: UidSet, add: boolean, bits: number, unchangedSince: number | undefined, result: FlagResult): void {
    if (!bits) return;
    const cond = unchangedSince !== undefined ? 1 : 0;
    const key = `${add ? 'add' : 'remove'}${cond}`;
    let st = this.flagBitStatements.get(key);
    if (!st) {
      const range = `mailboxId = :mb AND uid BETWEEN :a AND :b AND expunged = 0${cond ? ' AND modseq <= :since' : ''}`;
      // A row changes when it lacks one of the bits (add) or has one (remove).
      const changes = add ? '(flags & :bits) != :bits' : '(flags & :bits) != 0';
      st = {
        counts: this.db.prepare(
          `SELECT coalesce(sum((flags & ${SEEN}) = 0), 0), coalesce(sum((flags & ${SEEN}) != 0), 0), coalesce(sum((flags & ${DELETED}) = 0), 0), coalesce(sum((flags & ${DELETED}) != 0), 0) FROM message WHERE ${range} AND ${changes}`,
        ).raw(true),
        update: this.db.prepare(
          `UPDATE message SET flags = ${add ? 'flags | :bits' : 'flags & ~:bits'}, modseq = :modseq WHERE ${range} AND ${changes} RETURNING id, uid, flags, keywords`,
        ).raw(true),
        failed: cond ? this.db.prepare(`SELECT uid FROM message WHERE mailboxId = :mb AND uid BETWEEN :a AND :b AND expunged = 0 AND modseq > :since`).pluck() : null,
      };
      this.flagBitStatements.set(key, st);
    }
    // Ranges may overlap (a client's "1:5,3:7"): merge them so each row is counted once.
    const ranges = uidRanges(uids).sort((x, y) => x[0] - y[0]);
    const merged: Array<[number, number]> = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    const modseq = this.takeModseq();
    let dUnseen = 0;
    let dDeleted = 0;
    for (const [a, b] of merged) {
      const p: Record<string, number> = { mb: mailboxId, a, b, bits };
      if (cond) p.since = unchangedSince!;
      if (st.failed) for (const uid of st.failed.iterate(p) as IterableIterator<number>) result.failed.push(uid);
      // Among the rows that change: with/without \Seen and \Deleted before the update.
      const [noSeen, hasSeen, noDeleted, hasDeleted] = st.counts.get(p) as [number, number, number, number];
      if (bits & SEEN) dUnseen += add ? -noSeen : hasSeen;
      if (bits & DELETED) dDeleted += add ? noDeleted : -hasDeleted;
      for (const r of st.update.iterate({ ...p, modseq }) as IterableIterator<[number, number, number, string]>) {
        result.changed.push({ id: r[0], uid: r[1], flags: flagsFromBits(r[2]), keywords: r[3] === '[]' ? [] : (JSON.parse(r[3]) as string[]), modseq });
      }
    }
    if (!result.changed.length) return;
    // RETURNING follows the scan order (uid index); sort anyway, the callers rely on uid order.
    for (let i = 1; i < result.changed.length; i++) {
      if (result.changed[i - 1]!.uid > result.changed[i]!.uid) {
        result.changed.sort((x, y) => x.uid - y.uid);
        break;
      }
    }
    this.st.mailboxCounts.run(0, dUnseen, dDeleted, 0, modseq, mailboxId);
    this.st.setCounters.run(modseq, 0, 0);
    result.modseq = modseq;
  }

  /**
   * Copy messages to another mailbox (IMAP COPY, UIDPLUS COPYUID mapping). Files are hard-linked
   * under new ids (durably) before the rows commit. Counts against the quota.
   */
  async copyMessages(srcMailboxId: number, uids: UidSet, dst: number | string): Promise<CopyResult> {
    this.checkOpen();
    const dstMb = this.xmailbox(typeof dst === 'string' ? normalizeMailboxName(dst) : dst);
    this.xmailbox(srcMailboxId);
    const msgs = this.listMessages(srcMailboxId, { uids, full: true });
    const total = msgs.reduce((s, m) => s + m.size, 0);
    if (msgs.length === 0) return { uidValidity: dstMb.uidValidity, mailboxId: dstMb.id, srcUids: [], dstUids: [], modseq: null };
    this.reserveQuota(total);
    const ids = this.reserveIds(msgs.length);
    const inline = msgs.map((m) => this.isInline(m.id));
    const fileIds = ids.filter((_, i) => !inline[i]);
    const work = (async () => {
      const linked: number[] = [];
      try {
        await Promise.all(
          msgs.map(async (m, i) => {
            if (inline[i]) return;
            const target = this.messageFilePath(ids[i]!);
            await this.ctx.dirs.ensure(join(target, '..'));
            await linkOrCopy(this.messageFilePath(m.id), target);
            linked.push(ids[i]!);
          }),
        );
        await Promise.all([...new Set(fileIds.map((id) => join(this.messageFilePath(id), '..')))].map((d) => this.ctx.syncer.sync(d)));
      } catch (err) {
        this.reserved -= total;
        this.removeFiles(linked);
        throw err;
      }
      const res: CopyResult = { uidValidity: dstMb.uidValidity, mailboxId: dstMb.id, srcUids: [], dstUids: [], modseq: null };
      try {
        const tx = this.db.transaction(() => {
          const modseq = this.takeModseq();
          const first = this.takeUidRange(dstMb.id, msgs.length);
          let unseen = 0;
          let deleted = 0;
          const kwAll = new Set<string>();
          msgs.forEach((m, i) => {
            const uid = first + i;
            const b = flagsToBits(m.flags);
            if (!(b & SEEN)) unseen++;
            if (b & DELETED) deleted++;
            m.keywords.forEach((k) => kwAll.add(k));
            this.st.insertMessage.run(
              ids[i], dstMb.id, uid, modseq, modseq, b, JSON.stringify(m.keywords), m.receivedAt.getTime(), m.size,
              m.messageId, m.subject, null, m.mailFrom, m.rcptTo,
              m.remoteIp, m.meta === undefined ? null : JSON.stringify(m.meta),
            );
            this.st.copyParsed.run(ids[i], m.id);
            this.st.copyImap.run(ids[i], m.id);
            if (inline[i] && this.st.copyBlob.run(ids[i], m.id).changes !== 1) {
              throw new StoreError('notfound', `message ${m.id} vanished during copy`);
            }
            res.srcUids.push(m.uid);
            res.dstUids.push(uid);
          });
          this.st.mailboxCounts.run(msgs.length, unseen, deleted, total, modseq, dstMb.id);
          if (kwAll.size) this.addMailboxKeywords(dstMb.id, [...kwAll]);
          this.st.setCounters.run(modseq, this.nextId, total);
          res.modseq = modseq;
        });
        tx.immediate();
      } catch (err) {
        this.reserved -= total;
        this.removeFiles(fileIds);
        throw err;
      }
      this.reserved -= total;
      this.quotaUsed += total;
      this.publish([{ account: this.name, kind: 'add', modseq: res.modseq!, mailboxId: dstMb.id, uids: res.dstUids, ids }]);
      return res;
    })();
    this.inflight.add(work);
    const done = () => {
      this.inflight.delete(work);
      for (const id of ids) this.reservedIds.delete(id);
    };
    work.then(done, done);
    return work;
  }

  /**
   * Move messages (IMAP MOVE, RFC 6851): the rows keep their id and file and get new uids in the
   * target; tombstones (new ids) record the expunge in the source for QRESYNC.
   */
  moveMessages(srcMailboxId: number, uids: UidSet, dst: number | string): CopyResult {
    this.checkOpen();
    const dstMb = this.xmailbox(typeof dst === 'string' ? normalizeMailboxName(dst) : dst);
    const res: CopyResult = { uidValidity: dstMb.uidValidity, mailboxId: dstMb.id, srcUids: [], dstUids: [], modseq: null };
    if (dstMb.id === srcMailboxId) throw new StoreError('invalid', 'source and destination mailbox are the same');
    const ids: number[] = [];
    const tx = this.db.transaction(() => {
      this.xmailbox(srcMailboxId);
      const msgs = this.listMessages(srcMailboxId, { uids });
      if (!msgs.length) return;
      const modseq = this.takeModseq();
      const first = this.takeUidRange(dstMb.id, msgs.length);
      let unseen = 0;
      let deleted = 0;
      let size = 0;
      const kwAll = new Set<string>();
      msgs.forEach((m, i) => {
        const uid = first + i;
        const b = flagsToBits(m.flags);
        if (!(b & SEEN)) unseen++;
        if (b & DELETED) deleted++;
        size += m.size;
        m.keywords.forEach((k) => kwAll.add(k));
        this.st.moveMessage.run(dstMb.id, uid, modseq, m.id);
        this.st.insertTombstone.run(this.nextId++, srcMailboxId, m.uid, modseq, m.createSeq, m.receivedAt.getTime());
        res.srcUids.push(m.uid);
        res.dstUids.push(uid);
        ids.push(m.id);
      });
      this.st.mailboxCounts.run(-msgs.length, -unseen, -deleted, -size, modseq, srcMailboxId);
      this.st.mailboxCounts.run(msgs.length, unseen, deleted, size, modseq, dstMb.id);
      if (kwAll.size) this.addMailboxKeywords(dstMb.id, [...kwAll]);
      this.st.setCounters.run(modseq, this.nextId, 0);
      res.modseq = modseq;
    });
    tx.immediate();
    if (res.modseq !== null) {
      this.publish([
        { account: this.name, kind: 'remove', modseq: res.modseq, mailboxId: srcMailboxId, uids: res.srcUids },
        { account: this.name, kind: 'add', modseq: res.modseq, mailboxId: dstMb.id, uids: res.dstUids, ids },
      ]);
    }
    return res;
  }

  /**
   * Expunge messages: by default those with \Deleted (IMAP EXPUNGE); with `uids` only those
   * (UID EXPUNGE, RFC 4315), and with deletedOnly=false regardless of \Deleted (webapi delete).
   * Rows become tombstones; files are removed after the commit.
   */
  expunge(mailboxId: number, opts: { uids?: UidSet; deletedOnly?: boolean } = {}): ExpungeResult {
    this.checkOpen();
    const deletedOnly = opts.deletedOnly ?? true;
    const res: ExpungeResult = { uids: [], modseq: null };
    const ids: number[] = [];
    const tx = this.db.transaction(() => {
      this.xmailbox(mailboxId);
      const msgs = this.flagRows(mailboxId, opts.uids).filter((m) => !deletedOnly || (m.bits & DELETED) !== 0);
      if (!msgs.length) return;
      const modseq = this.takeModseq();
      let unseen = 0;
      let deleted = 0;
      let size = 0;
      for (const m of msgs) {
        if (!(m.bits & SEEN)) unseen++;
        if (m.bits & DELETED) deleted++;
        size += m.size;
        this.st.expungeMessage.run(modseq, m.id);
        this.st.deleteParsed.run(m.id);
        this.st.deleteImap.run(m.id);
        res.uids.push(m.uid);
        if (this.st.deleteBlob.run(m.id).changes === 0) ids.push(m.id);
      }
      this.st.mailboxCounts.run(-msgs.length, -unseen, -deleted, -size, modseq, mailboxId);
      this.st.setCounters.run(modseq, 0, -size);
      this.quotaUsed -= size;
      res.modseq = modseq;
    });
    tx.immediate();
    if (res.modseq !== null) {
      this.publish([{ account: this.name, kind: 'remove', modseq: res.modseq, mailboxId, uids: res.uids }]);
      this.removeFiles(ids);
    }
    return res;
  }

  /** QRESYNC (RFC 7162 §3.2.5): what changed in a mailbox after `modseq`. */
  changesSince(mailboxId: number, modseq: number): Changes {
    const mb = this.xmailbox(mailboxId);
    const out: Changes = { highestModseq: mb.highestModseq, changed: [], vanished: [] };
    for (const r of this.st.changesSince.iterate(mailboxId, modseq) as IterableIterator<MessageRow>) {
      if (r.expunged) out.vanished.push(r.uid);
      else out.changed.push(rowToMessage(r));
    }
    return out;
  }

  /** Highest modseq of the account. */
  highestModseq(): number {
    return this.st.getModseq.get() as number;
  }

  /** Quota: bytes used by live messages (committed) and the limit (0: unlimited). */
  quota(): { used: number; limit: number } {
    return { used: this.quotaUsed, limit: this.ctx.quotaLimit(this.name) ?? 0 };
  }

  // ---------------------------------------------------------------- full-text index (store/fts.ts)

  /** Put a message's text into the full-text index, replacing its entry. A string is body text. */
  indexText(id: number, text: string | { header: string; body: string }): void {
    this.checkOpen();
    putText(this.fts, id, typeof text === 'string' ? { header: '', body: text } : text);
  }

  /** Live messages of a mailbox not yet in the full-text index. */
  unindexedCount(mailboxId: number): number {
    return this.st.countAfter.get(indexedThrough(this.fts), mailboxId) as number;
  }

  /**
   * Index every message delivered so far that is not yet in the full-text index: in the
   * Store's worker thread (store/fts-indexer.ts) when it runs, else here. IMAP SEARCH TEXT/BODY
   * awaits this first so its results include messages delivered a moment ago.
   */
  async indexPending(): Promise<void> {
    if (this.closed) return;
    const through = this.indexableThrough();
    if (indexedThrough(this.fts) >= through) return;
    const ix = this.ctx.ftsIndexer;
    if (ix?.available) {
      const dir = accountDir(this.ctx.dataDir, this.name);
      const job = ix.index({ account: this.name, dataDir: this.ctx.dataDir, indexPath: accountDbPath(this.ctx.dataDir, this.name), ftsPath: join(dir, FTS_DB_FILE), through });
      this.inflight.add(job);
      try {
        await job;
        return;
      } catch (err) {
        if (ix.available) throw err;
        // The worker is gone: index here instead.
      } finally {
        this.inflight.delete(job);
      }
    }
    await (this.indexRun ??= indexRange({ index: this.db, fts: this.fts, messagePath: (id) => this.messageFilePath(id) }, through).finally(() => {
      this.indexRun = null;
    }));
  }

  /**
   * Ids of live messages matching an FTS5 query (raw FTS5 syntax; the IMAP layer builds it), in
   * id order. Entries of expunged messages stay in fts.db (only the worker writes it; store/fts.ts),
   * so matches are filtered against index.db here.
   */
  searchText(query: string): number[] {
    const ids = this.fts.prepare('SELECT rowid FROM message_text WHERE message_text MATCH ? ORDER BY rowid').pluck().all(query) as number[];
    if (!ids.length) return ids;
    return this.st.liveIds.all(JSON.stringify(ids)) as number[];
  }

  // ---------------------------------------------------------------- password

  /** Store the password record (JSON of auth/password.ts PasswordRecord). */
  setPassword(record: object): void {
    this.checkOpen();
    this.st.setPassword.run(JSON.stringify(record), this.ctx.clock().getTime());
  }

  getPassword<T = unknown>(): T | undefined {
    const s = this.st.getPassword.get() as string | undefined;
    return s === undefined ? undefined : (JSON.parse(s) as T);
  }

  // ---------------------------------------------------------------- helpers

  /** Light rows (id, uid, modseq, flag bits, keywords, size) of live messages, in uid order. */
  private flagRows(mailboxId: number, uids: UidSet | undefined): FlagRow[] {
    const ranges = uids ? uidRanges(uids) : [[1, MAX_UID] as [number, number]];
    const out: FlagRow[] = [];
    const seen = ranges.length > 1 ? new Set<number>() : undefined;
    for (const [a, b] of ranges) {
      for (const r of this.st.flagRowsRange.iterate(mailboxId, a, b) as IterableIterator<{ id: number; uid: number; modseq: number; flags: number; keywords: string; size: number }>) {
        if (seen) {
          if (seen.has(r.id)) continue;
          seen.add(r.id);
        }
        out.push({ id: r.id, uid: r.uid, modseq: r.modseq, bits: r.flags, keywords: r.keywords === '[]' ? [] : (JSON.parse(r.keywords) as string[]), size: r.size });
      }
    }
    if (seen) out.sort((x, y) => x.uid - y.uid);
    return out;
  }

  /** Reserve n consecutive UIDs in a mailbox (inside a write transaction); returns the first. */
  private takeUidRange(mailboxId: number, n: number): number {
    const first = this.st.takeUids.get(n, mailboxId, n) as number | undefined;
    if (first === undefined) throw new MailboxNotFoundError(mailboxId);
    // rfc9051:2.3.1.1 UIDs are 32-bit; a mailbox that ran out needs a new UIDVALIDITY.
    if (first + n - 1 > MAX_UID) throw new StoreError('invalid', 'mailbox uids exhausted');
    return first;
  }

  /** Remove message files after a commit; failures are logged (the startup sweep retries). */
  private removeFiles(ids: number[]): void {
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
