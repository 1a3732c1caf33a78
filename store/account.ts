/**
 * One account's mail store: mailboxes, messages, flags/keywords, modseq, quota, message files,
 * and the delivery path with group commit. The class is built in parts (store/account-base.ts
 * explains the chain); this module holds the message reads, flags, copy/move/expunge,
 * full-text search and the password record. See store/README.md for the invariants.
 * - Expunged messages stay as tombstone rows (expunged=1, parsed/meta cleared, file removed) so
 *   QRESYNC can report VANISHED uids.
 */
import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { accountDbPath, accountDir } from './paths.js';
import { linkOrCopy, readRange } from './msgfile.js';
import { FTS_DB_FILE, indexRange, indexedThrough, putText } from './fts.js';
import { rowToMessage, type MessageRow } from './account-sql.js';
import {
  MAX_UID,
  type Changes,
  type CopyResult,
  type ExpungeResult,
  type FlagResult,
  type FlagUpdate,
  type UidSet,
} from './account-types.js';
import { normalizeMailboxName, normKeywords, uidRanges, SEEN, DELETED, type FlagRow } from './account-base.js';
import { flagsFromBits, flagsToBits, MailboxNotFoundError, StoreError, type Message } from './types.js';
import { AccountDelivery } from './account-delivery.js';
export * from './account-types.js';
export { normalizeMailboxName, checkMailboxName, CHECKPOINT_AFTER_BYTES } from './account-base.js';

export class Account extends AccountDelivery {
  /** The running full-text indexing loop, if any (indexPending). */
  private indexRun: Promise<number> | null = null;
  /** imapMessages statements by column set. */
  private readonly leanStatements: Array<Statement | undefined> = [];
  /** Statements of setFlagBits by mode and UNCHANGEDSINCE. */
  private readonly flagBitStatements = new Map<string, { counts: Statement; update: Statement; failed: Statement | null }>();

  // ---------------------------------------------------------------- messages

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
}
