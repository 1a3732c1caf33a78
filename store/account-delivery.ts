/**
 * Delivery with group commit (deliver, append, the batch transaction and its WAL fdatasync):
 * the AccountDelivery part of the Account chain (store/account-base.ts). store/README.md
 * "Durability protocol" and "Group commit" describe what happens before deliver() resolves.
 * UIDs are assigned at commit time, in commit order, so UIDs in a mailbox increase with commits.
 */
import { promises as fsp } from 'node:fs';
import type { Transaction } from 'better-sqlite3';
import { messagePath } from './paths.js';
import { installMessageFile } from './msgfile.js';
import { imapStrings, type ImapStrings } from './imapcache.js';
import { MAX_UID, type AccountContext, type Delivered, type DeliverOptions } from './account-types.js';
import { normalizeMailboxName, normKeywords, SEEN, DELETED, WAL_BYTES_PER_ROW } from './account-base.js';
import { AccountMailboxes } from './account-mailboxes.js';
import type { Change } from './changes.js';
import { flagsToBits, MailboxNotFoundError, QuotaExceededError, StoreError } from './types.js';

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

export abstract class AccountDelivery extends AccountMailboxes {
  protected pending: PendingDelivery[] = [];
  protected readonly commitOne: (p: PendingDelivery, modseq: number) => number;
  protected readonly commitBatch: Transaction<(batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean) => number>;

  constructor(name: string, ctx: AccountContext) {
    super(name, ctx);
    this.commitOne = this.db.transaction((p: PendingDelivery, modseq: number) => this.insertDelivery(p, modseq));
    this.commitBatch = this.db.transaction((batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean) =>
      this.insertBatch(batch, results, isolated),
    );
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

  protected async deliverInner(o: DeliverOptions): Promise<Delivered> {
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
  protected reserveIds(n: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      this.reservedIds.add(id);
      ids.push(id);
    }
    return ids;
  }

  /** Highest id such that every id at or below it is committed or will never be. */
  protected indexableThrough(): number {
    let min = this.nextId;
    for (const id of this.reservedIds) if (id < min) min = id;
    return min - 1;
  }

  protected reserveQuota(size: number): void {
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
  protected insertDelivery(p: PendingDelivery, modseq: number): number {
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
  protected insertBatchFast(batch: PendingDelivery[], modseq: number, results: Array<Delivered | Error>): void {
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
  protected insertRow(p: PendingDelivery, uid: number, modseq: number): void {
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
  protected insertBatch(batch: PendingDelivery[], results: Array<Delivered | Error>, isolated: boolean): number {
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

  protected addMailboxKeywords(mailboxId: number, kws: string[]): void {
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

  protected afterSync(
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
}
