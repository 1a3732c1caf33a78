/**
 * The outbound queue's storage (queue.db + message files), without delivery: adding messages
 * durably, listing with filters and keyset pagination, admin changes (hold, schedule, transport,
 * RequireTLS), retiring finished messages, hold rules and the suppression list.
 *
 * Durability (DESIGN §4): add() resolves only when the message bytes and its rows are durable.
 * Concurrent add() calls are committed together in one transaction (group commit) whose WAL is
 * fdatasync'd once. One message per submission, keyed by the id of its first row (base_id) and
 * shared by the rows of all its recipients: a small one (≤ inlineMaxSize, default 64 KiB, given as
 * bytes) is stored inline in `msg_body`, in the same transaction as its rows, so that one WAL fsync
 * covers it; a larger one (or one given as a temp file) is a file under queue/msg/ (fsync'd,
 * directory fsync'd) before its rows are committed.
 *
 * Parts in their own modules: record shapes and row mapping (store-types.ts, re-exported here),
 * list filters (filter.ts), hold rules (hold-rules.ts), the suppression list (suppressions.ts),
 * reads of retired messages (retired.ts), which rows are due (due.ts).
 */
import { promises as fsp, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { openDb, type Db } from '../store/db.js';
import { SuppressionList, type Suppression } from './suppressions.js';

export type { Suppression } from './suppressions.js';
import { writeFileSynced, linkOrCopy, syncFile, DirSyncer, DirMaker } from '../store/msgfile.js';
import { WalSyncer } from '../store/walsync.js';
import { messageDirName } from '../store/paths.js';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { QUEUE_MIGRATIONS } from './schema.js';
import { recordEvent, type OutgoingEventName } from './events.js';
import { noteOutgoing } from './sendlimits.js';
import { holdRuleMatches, DEFAULT_MAX_ATTEMPTS, type HoldRule } from './rules.js';
import { HoldRuleList } from './hold-rules.js';
import { queueWhere } from './filter.js';
import { dueBatches, dueRows, nextDue } from './due.js';
import { listRetired, recentOutcomes, retiredBy, type RetiredFilter } from './retired.js';
import {
  rowToMsg,
  rowToRetired,
  QueueError,
  type AddInput,
  type AttemptResult,
  type ComposeDsns,
  type DsnParams,
  type OutcomeResult,
  type ListSort,
  type OutboxDsn,
  type OutcomeInput,
  type QueuedMsg,
  type QueueFilter,
  type QueueStoreOptions,
  type RetiredMsg,
  type RetiredOutcome,
  type Row,
} from './store-types.js';
import { periodicCheckpoints, type PeriodicCheckpoints } from './checkpoints.js';

export { DUE_SCAN_LIMIT } from './due.js';

/** Most rows committed in one group-commit transaction. */
export const QUEUE_MAX_BATCH = 512;

/** Default QueueStoreOptions.inlineMaxSize: messages up to 64 KiB are stored in queue.db. */
export const DEFAULT_QUEUE_INLINE_MAX_SIZE = 64 * 1024;

export * from './store-types.js';

interface Pending {
  rows: Array<Record<string, unknown>>;
  /** Rows for the outgoing table (send limits). */
  outgoing?: Array<{ account: string; recipient: string; submitted: number }>;
  resolve: (ids: number[]) => void;
  reject: (e: unknown) => void;
  /** Inline message bytes (msg_body), inserted with the rows; undefined when it is a file. */
  body?: { baseId: number; data: Buffer };
}

export class QueueStore {
  readonly db: Db;
  readonly msgDir: string;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly keepRetiredFor: (account: string) => number;
  private nextId: number;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  /** A batch is committed and its WAL fdatasync is running; the next batch waits for it. */
  private syncing = false;
  private readonly wal: { sync(): Promise<void>; close(): Promise<void> };
  private readonly dirSyncer = new DirSyncer();
  private readonly dirMaker = new DirMaker(this.dirSyncer);
  private readonly inlineMaxSize: number;
  private readonly checkpoints: PeriodicCheckpoints;

  private constructor(opts: QueueStoreOptions, db: Db) {
    this.db = db;
    this.suppressions = new SuppressionList(db, () => this.now());
    this.holdRules = new HoldRuleList(db);
    this.msgDir = join(opts.dataDir, 'queue', 'msg');
    this.log = opts.log ?? nullLogger();
    this.clock = opts.clock ?? (() => new Date());
    this.keepRetiredFor = opts.keepRetiredFor ?? (() => 0);
    this.inlineMaxSize = opts.inlineMaxSize ?? DEFAULT_QUEUE_INLINE_MAX_SIZE;
    this.wal = opts.walSyncer ?? new WalSyncer(join(opts.dataDir, 'queue.db-wal'));
    this.checkpoints = periodicCheckpoints(db, join(opts.dataDir, 'queue.db'), opts.checkpointer);
    const max = db.prepare('SELECT max(m) FROM (SELECT max(id) AS m FROM msg UNION ALL SELECT max(id) FROM msg_retired)').pluck().get() as number | null;
    this.nextId = (max ?? 0) + 1;
  }

  /** Open queue.db in dataDir and remove message files no row refers to (never acknowledged). */
  static async open(opts: QueueStoreOptions): Promise<QueueStore> {
    await fsp.mkdir(join(opts.dataDir, 'queue', 'msg'), { recursive: true, mode: 0o750 });
    const db = openDb(join(opts.dataDir, 'queue.db'), QUEUE_MIGRATIONS);
    const q = new QueueStore(opts, db);
    await q.sweepOrphans();
    return q;
  }

  private filePath(baseId: number): string {
    return join(this.msgDir, messageDirName(baseId), String(baseId));
  }

  private async sweepOrphans(): Promise<void> {
    const live = new Set((this.db.prepare('SELECT DISTINCT base_id FROM msg').pluck().all() as number[]).map(String));
    let removed = 0;
    for (const d of readdirSync(this.msgDir)) {
      for (const f of readdirSync(join(this.msgDir, d))) {
        if (!live.has(f)) {
          await fsp.rm(join(this.msgDir, d, f), { force: true });
          removed++;
        }
      }
    }
    if (removed) this.log.info({ removed }, 'queue: removed unreferenced message files');
    // Inline bodies are removed in the transaction that removes their last row; this only guards
    // against a database written by something else.
    const bodies = this.db.prepare('DELETE FROM msg_body WHERE base_id NOT IN (SELECT base_id FROM msg)').run().changes;
    if (bodies) this.log.info({ removed: bodies }, 'queue: removed unreferenced inline messages');
  }

  private now(): number {
    return this.clock().getTime();
  }

  /**
   * Queue a message for its recipients: one row each, sharing one message file. Hold rules are
   * applied. Resolves with the queue ids once everything is durable.
   */
  add(input: AddInput): Promise<QueuedMsg[]> {
    if (this.closed) return Promise.reject(new QueueError('closed', 'queue is closed'));
    const p = this.addInner(input);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  private readonly inflight = new Set<Promise<unknown>>();

  private async addInner(input: AddInput): Promise<QueuedMsg[]> {
    if (!input.recipients.length) throw new QueueError('invalid', 'no recipients');
    const fromIds = input.recipients.map((r) => r.fromId).filter((x): x is string => !!x);
    if (new Set(fromIds).size !== fromIds.length) throw new QueueError('duplicate-fromid', 'duplicate fromid in submission');
    const dupe = fromIds.length
      ? (this.db.prepare(`SELECT from_id FROM msg WHERE from_id IN (${fromIds.map(() => '?').join(',')}) UNION SELECT from_id FROM msg_retired WHERE from_id IN (${fromIds.map(() => '?').join(',')}) LIMIT 1`).pluck().get(...fromIds, ...fromIds) as string | undefined)
      : undefined;
    if (dupe) throw new QueueError('duplicate-fromid', `fromid ${dupe} already used`);

    const baseId = this.nextId;
    this.nextId += input.recipients.length;
    const inline = Buffer.isBuffer(input.message) && input.message.length <= this.inlineMaxSize;
    const file = inline ? undefined : this.filePath(baseId);
    if (file) {
      await this.dirMaker.ensure(dirname(file));
      if (Buffer.isBuffer(input.message)) {
        await writeFileSynced(file, input.message);
      } else {
        await syncFile(input.message.tempPath);
        await linkOrCopy(input.message.tempPath, file);
      }
      // Directory fsyncs are shared by concurrent submissions (one per directory at a time).
      await this.dirSyncer.sync(dirname(file));
    }

    const now = this.now();
    const fileSize = Buffer.isBuffer(input.message) ? input.message.length : input.message.size;
    const rows = input.recipients.map((r, i) => {
      return {
        id: baseId + i,
        base_id: baseId,
        queued: now,
        // Hold rules are applied by flush(), once per batch, with the rules current at the commit.
        hold: 0,
        sender_account: input.account,
        sender_localpart: r.senderLocalpart ?? input.mailFrom.localpart,
        sender_domain: input.mailFrom.domain.toLowerCase(),
        from_id: r.fromId ?? null,
        recipient_localpart: r.localpart,
        recipient_domain: r.domain.toLowerCase(),
        max_attempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        next_attempt: input.futureRelease?.at.getTime() ?? now,
        has8bit: input.has8bit ? 1 : 0,
        smtputf8: input.smtputf8 ? 1 : 0,
        size: (input.prefix?.length ?? 0) + fileSize,
        message_id: input.messageId ?? '',
        subject: input.subject ?? '',
        prefix: input.prefix ?? null,
        transport: input.transport ?? null,
        require_tls: input.requireTLS == null ? null : input.requireTLS ? 1 : 0,
        future_release: input.futureRelease?.request ?? null,
        extra: JSON.stringify(input.extra ?? {}),
        dsn: JSON.stringify({ notify: r.notify, orcpt: r.orcpt, envid: input.envid, ret: input.ret } satisfies DsnParams),
      };
    });
    try {
      await new Promise<number[]>((resolve, reject) => {
        const outgoing = input.recordOutgoing
          ? input.recipients.map((r) => ({ account: input.account, recipient: `${r.localpart}@${r.domain}`.toLowerCase(), submitted: now }))
          : undefined;
        const body = inline ? { baseId, data: input.message as Buffer } : undefined;
        this.pending.push({ rows, resolve, reject, body, outgoing });
        this.scheduleFlush();
      });
    } catch (e) {
      if (file) await fsp.rm(file, { force: true });
      throw e;
    }
    this.changed();
    // The rows as committed (a fresh row has no attempts yet); no need to read them back.
    return rows.map((r) => ({
      id: r.id,
      baseId,
      queued: new Date(now),
      hold: r.hold === 1,
      senderAccount: r.sender_account,
      senderLocalpart: r.sender_localpart,
      senderDomain: r.sender_domain,
      fromId: r.from_id,
      recipientLocalpart: r.recipient_localpart,
      recipientDomain: r.recipient_domain,
      attempts: 0,
      maxAttempts: r.max_attempts,
      nextAttempt: new Date(r.next_attempt),
      lastAttempt: null,
      results: [],
      has8bit: r.has8bit === 1,
      smtputf8: r.smtputf8 === 1,
      size: r.size,
      messageId: r.message_id,
      subject: r.subject,
      transport: r.transport,
      requireTLS: r.require_tls == null ? null : r.require_tls === 1,
      futureRelease: r.future_release,
      extra: { ...input.extra },
      // As stored (JSON drops the absent ones).
      dsn: JSON.parse(r.dsn) as DsnParams,
      delayedDsnSent: false,
    }));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private insertStmt?: Statement<unknown[]>;
  private outgoingStmt?: Statement<unknown[]>;
  /** Statements of the hot paths (submission, scheduling), prepared once. */
  private readonly stmts = new Map<string, Statement<unknown[]>>();

  private stmt(sql: string): Statement<unknown[]> {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  /**
   * Group commit: pending submissions in one transaction, committed at synchronous=NORMAL (no
   * fsync inside COMMIT, so the event loop is not blocked) and then made durable by one fdatasync
   * of the WAL on the thread pool (store/walsync.ts, as the account store's delivery batches; as
   * durable as FULL) before any promise resolves. Submissions arriving during that fsync form the
   * next batch. Every other transaction on queue.db stays at FULL.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.syncing) return; // the running batch flushes again when its fsync is done
    const batch: Pending[] = [];
    let n = 0;
    while (this.pending.length && n < QUEUE_MAX_BATCH) {
      const p = this.pending.shift()!;
      batch.push(p);
      n += p.rows.length;
    }
    if (!batch.length) return;
    this.insertStmt ??= this.db.prepare(
      `INSERT INTO msg (id, base_id, queued, hold, sender_account, sender_localpart, sender_domain, from_id, recipient_localpart, recipient_domain,
        max_attempts, next_attempt, has8bit, smtputf8, size, message_id, subject, prefix, transport, require_tls, future_release, extra, dsn)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const stmt = this.insertStmt;
    this.outgoingStmt ??= this.db.prepare('INSERT INTO outgoing (account, recipient, submitted) VALUES (?, ?, ?)');
    const outStmt = this.outgoingStmt;
    const bodyStmt = this.stmt('INSERT INTO msg_body (base_id, data) VALUES (?, ?)');
    const failed = new Map<Pending, unknown>();
    // Hold rules as of this commit, for every row of the batch (one data_version check per batch).
    const rules = this.holdRules.current();
    for (const p of batch) {
      for (const r of p.rows) {
        r.hold = rules.length && rules.some((rule) => holdRuleMatches(rule, { account: r.sender_account as string, senderDomain: r.sender_domain as string, recipientDomain: r.recipient_domain as string })) ? 1 : 0;
      }
    }
    const insert = (p: Pending) => {
      if (p.body) bodyStmt.run(p.body.baseId, p.body.data);
      // Positional parameters: binding 23 named ones from an object cost about half the insert.
      for (const r of p.rows) {
        stmt.run(r.id, r.base_id, r.queued, r.hold, r.sender_account, r.sender_localpart, r.sender_domain, r.from_id, r.recipient_localpart, r.recipient_domain,
          r.max_attempts, r.next_attempt, r.has8bit, r.smtputf8, r.size, r.message_id, r.subject, r.prefix, r.transport, r.require_tls, r.future_release, r.extra, r.dsn);
      }
      for (const o of p.outgoing ?? []) outStmt.run(o.account, o.recipient, o.submitted);
    };
    try {
      this.stmt('PRAGMA synchronous = NORMAL').run();
      try {
        try {
          // The usual case: every submission inserts, one transaction without savepoints.
          this.db.transaction(() => {
            for (const p of batch) insert(p);
          }).immediate();
        } catch {
          // Rolled back. Again with one savepoint per submission, so a failing one (e.g. a fromid
          // race) does not fail the others.
          this.db.transaction(() => {
            for (const p of batch) {
              try {
                this.db.transaction(() => insert(p))();
              } catch (e) {
                failed.set(p, e);
              }
            }
          }).immediate();
        }
      } finally {
        this.stmt('PRAGMA synchronous = FULL').run();
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
      if (this.pending.length) this.scheduleFlush();
      return;
    }
    // Committed: the send-limit counts of these accounts grew (an upper bound; see sendlimits.ts).
    for (const p of batch) if (p.outgoing?.length && !failed.has(p)) noteOutgoing(this.db, p.outgoing[0]!.account, p.outgoing.length);
    const settle = (syncErr?: unknown) => {
      for (const p of batch) {
        const err = failed.get(p);
        if (err) p.reject((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' ? new QueueError('duplicate-fromid', 'fromid already used') : err);
        else if (syncErr !== undefined) p.reject(syncErr);
        else p.resolve(p.rows.map((r) => r.id as number));
      }
    };
    this.syncing = true;
    this.wal.sync().then(
      () => settle(),
      (err: unknown) => settle(err),
    ).finally(() => {
      this.syncing = false;
      if (this.pending.length) this.scheduleFlush();
    });
  }

  get(id: number): QueuedMsg | undefined {
    const r = this.db.prepare('SELECT * FROM msg WHERE id = ?').get(id) as Row | undefined;
    return r ? rowToMsg(r) : undefined;
  }

  /** The message as sent: prefix + message (inline or file). */
  async messageBytes(id: number): Promise<Buffer> {
    const r = this.stmt('SELECT base_id, prefix FROM msg WHERE id = ?').get(id) as { base_id: number; prefix: Buffer | null } | undefined;
    if (!r) throw new QueueError('notfound', `no queued message ${id}`);
    const m = this.message({ baseId: r.base_id });
    const body = Buffer.isBuffer(m) ? m : await fsp.readFile(m);
    return r.prefix ? Buffer.concat([r.prefix, body]) : body;
  }

  /**
   * A queued message (without its per-row prefix): the inline bytes, or the path of its file (to be
   * streamed; big messages are never read whole). Valid while a row of the submission is queued.
   */
  message(m: Pick<QueuedMsg, 'baseId'>): Buffer | string {
    const data = this.stmt('SELECT data FROM msg_body WHERE base_id = ?').pluck().get(m.baseId) as Buffer | undefined;
    return data ?? this.filePath(m.baseId);
  }

  /** Messages matching the filter, sorted, with keyset pagination (at most `max`). */
  list(f: QueueFilter = {}, sort: ListSort = { field: 'nextAttempt' }, max = 100): QueuedMsg[] {
    const w = queueWhere(f, this.now());
    const col = sort.field === 'queued' ? 'queued' : 'next_attempt';
    const dir = sort.asc === false ? 'DESC' : 'ASC';
    let sql = `SELECT * FROM msg WHERE ${w.sql}`;
    const args = [...w.args];
    if (sort.after) {
      sql += ` AND (${col}, id) ${dir === 'ASC' ? '>' : '<'} (?, ?)`;
      args.push(sort.after.value.getTime(), sort.after.id);
    }
    sql += ` ORDER BY ${col} ${dir}, id ${dir} LIMIT ?`;
    args.push(max);
    return (this.db.prepare(sql).all(...args) as Row[]).map(rowToMsg);
  }

  count(f: QueueFilter = {}): number {
    const w = queueWhere(f, this.now());
    return this.db.prepare(`SELECT count(*) FROM msg WHERE ${w.sql}`).pluck().get(...w.args) as number;
  }

  private update(f: QueueFilter, set: string, args: unknown[]): number {
    const w = queueWhere(f, this.now());
    const n = this.db.prepare(`UPDATE msg SET ${set} WHERE ${w.sql}`).run(...args, ...w.args).changes;
    if (n) this.changed();
    return n;
  }

  hold(f: QueueFilter, hold: boolean): number {
    return this.update(f, 'hold = ?', [hold ? 1 : 0]);
  }

  /** Reschedule: `addMs` relative to each message's next attempt, or `at` an absolute time. */
  /** Move the next attempt: by addMs, to a time, or to fromNowMs after now (the store's clock). */
  schedule(f: QueueFilter, s: { addMs: number } | { at: Date } | { fromNowMs: number }): number {
    if ('fromNowMs' in s) return this.update(f, 'next_attempt = ?', [this.now() + s.fromNowMs]);
    return 'at' in s ? this.update(f, 'next_attempt = ?', [s.at.getTime()]) : this.update(f, 'next_attempt = next_attempt + ?', [s.addMs]);
  }

  setTransport(f: QueueFilter, transport: string | null): number {
    return this.update(f, 'transport = ?', [transport]);
  }

  setRequireTLS(f: QueueFilter, requireTLS: boolean | null): number {
    return this.update(f, 'require_tls = ?', [requireTLS == null ? null : requireTLS ? 1 : 0]);
  }

  /**
   * Remove matching messages from the queue as finished with `outcome`, appending `result` to
   * their history; keep retired records for accounts with a KeepRetiredMessagePeriod. Message
   * files are removed once no row refers to them. An outgoing event (queue/events.ts) is recorded
   * for each message in the same transaction: admin drop → `canceled`, fail → `failed`.
   * Returns the retired messages.
   */
  async retire(f: QueueFilter, outcome: RetiredOutcome, result?: Omit<AttemptResult, 'start' | 'durationMs'> & Partial<Pick<AttemptResult, 'start' | 'durationMs'>>): Promise<RetiredMsg[]> {
    const now = this.now();
    const w = queueWhere(f, this.now());
    let retired: RetiredMsg[] = [];
    let files: number[] = [];
    this.db.transaction(() => {
      const rows = this.db.prepare(`SELECT * FROM msg WHERE ${w.sql}`).all(...w.args) as Row[];
      retired = rows.map((r) => this.retireRow(r, outcome, result ? { start: now, durationMs: 0, ...result } : undefined, now).retired);
      files = this.removeUnusedBodies(retired.map((r) => r.baseId));
    })();
    await this.removeFiles(files);
    if (retired.length) this.changed();
    return retired;
  }

  /** Inside a transaction: move one row to msg_retired (if kept), delete it, record its event. */
  private retireRow(r: Row, outcome: RetiredOutcome, result: AttemptResult | undefined, now: number, suppressing = false): { retired: RetiredMsg } {
    this.retireStmt ??= this.db.prepare(
      `INSERT OR REPLACE INTO msg_retired (id, base_id, queued, sender_account, sender_localpart, sender_domain, from_id, recipient_localpart, recipient_domain, recipient_address,
        attempts, max_attempts, last_attempt, results, has8bit, smtputf8, size, message_id, subject, transport, require_tls, future_release, extra, dsn, success, outcome, last_activity, keep_until)
       VALUES (@id, @base_id, @queued, @sender_account, @sender_localpart, @sender_domain, @from_id, @recipient_localpart, @recipient_domain, @recipient_address,
        @attempts, @max_attempts, @last_attempt, @results, @has8bit, @smtputf8, @size, @message_id, @subject, @transport, @require_tls, @future_release, @extra, @dsn, @success, @outcome, @last_activity, @keep_until)`,
    );
    const results = JSON.parse(r.results as string) as AttemptResult[];
    if (result) results.push(result);
    const keep = this.keepRetiredFor(r.sender_account as string);
    const rec = {
      ...r,
      results: JSON.stringify(results),
      recipient_address: `${r.recipient_localpart as string}@${r.recipient_domain as string}`.toLowerCase(),
      success: outcome === 'delivered' ? 1 : 0,
      outcome,
      last_activity: now,
      keep_until: now + keep,
    };
    if (keep > 0) this.retireStmt.run(rec);
    this.stmt('DELETE FROM msg WHERE id = ?').run(r.id);
    this.recordRowEvent(r, outcome, result, now, suppressing);
    return { retired: rowToRetired(rec) };
  }

  private retireStmt?: ReturnType<Db['prepare']>;

  /** Inside a transaction: the outgoing event for a row's outcome (mox webhook.Outgoing, §2.3). */
  private recordRowEvent(r: Row, event: OutgoingEventName, result: AttemptResult | undefined, now: number, suppressing: boolean): void {
    this.eventsRecorded();
    recordEvent(
      this.db,
      {
        account: r.sender_account as string,
        event,
        queueMsgId: r.id as number,
        fromId: (r.from_id as string | null) ?? '',
        messageId: r.message_id as string,
        subject: r.subject as string,
        extra: JSON.parse(r.extra as string) as Record<string, string>,
        suppressing,
        smtpCode: result?.code,
        enhancedCode: result?.enhanced,
        error: event === 'delivered' ? '' : (result?.error ?? ''),
      },
      new Date(now),
    );
  }

  /**
   * Inside the transaction that removed rows: the inline bodies of submissions with no row left are
   * deleted with them; returns the base ids whose message is a file, to be removed after the commit
   * (a crash in between leaves a file no row refers to, removed at the next open).
   */
  private removeUnusedBodies(baseIds: Iterable<number>): number[] {
    const files: number[] = [];
    for (const b of new Set(baseIds)) {
      if (this.stmt('SELECT 1 FROM msg WHERE base_id = ? LIMIT 1').get(b)) continue;
      if (this.stmt('DELETE FROM msg_body WHERE base_id = ?').run(b).changes === 0) files.push(b);
    }
    return files;
  }

  private async removeFiles(baseIds: readonly number[]): Promise<void> {
    for (const b of baseIds) await fsp.rm(this.filePath(b), { force: true });
  }

  /**
   * Record the outcomes of one delivery attempt in one transaction (one fsync for a whole SMTP
   * transaction's recipients): delivered/failed/suppressed rows are retired, temporary failures
   * get their result appended (`delayed`), suppression-list additions are made, and every outcome's
   * event is recorded — all or nothing. Returns the retired messages and the ids whose failure
   * added a suppression.
   */
  async recordOutcomes(items: readonly OutcomeInput[], dsns?: ComposeDsns): Promise<{ retired: RetiredMsg[]; suppressing: Set<number>; dsnOutbox: number[] }> {
    if (this.closed) throw new QueueError('closed', 'queue is closed');
    // Group commit: outcomes of attempts finishing in the same tick share one transaction (one
    // fsync); better-sqlite3 commits block the event loop, so one commit per attempt would
    // serialise every delivery behind the disk.
    const res = await new Promise<OutcomeResult>((resolve, reject) => {
      this.pendingOutcomes.push({ items, dsns, resolve, reject });
      if (this.pendingOutcomes.length === 1) setImmediate(() => this.flushOutcomes());
    });
    await this.removeFiles(res.files);
    return { retired: res.retired, suppressing: res.suppressing, dsnOutbox: res.dsnOutbox };
  }

  private pendingOutcomes: Array<{ items: readonly OutcomeInput[]; dsns?: ComposeDsns; resolve: (r: OutcomeResult) => void; reject: (e: unknown) => void }> = [];

  /** DSNs stored with their cause's outcome and not yet delivered to the sender, oldest first. */
  dsnOutbox(ids?: readonly number[]): OutboxDsn[] {
    const rows = (ids ? ids.map((id) => this.stmt('SELECT id, account, message FROM dsn_outbox WHERE id = ?').get(id)).filter(Boolean) : this.stmt('SELECT id, account, message FROM dsn_outbox ORDER BY id').all()) as OutboxDsn[];
    return rows;
  }

  /** The DSN was delivered (or cannot be, e.g. its account is gone): remove it from the outbox. */
  dsnDone(id: number): void {
    this.stmt('DELETE FROM dsn_outbox WHERE id = ?').run(id);
  }

  private flushOutcomes(): void {
    const batch = this.pendingOutcomes.splice(0);
    if (!batch.length) return;
    const now = this.now();
    const out: OutcomeResult[] = batch.map(() => ({ retired: [], suppressing: new Set<number>(), files: [], dsnOutbox: [] }));
    try {
      this.db
        .transaction(() => {
          const get = this.stmt('SELECT * FROM msg WHERE id = ?');
          const outbox = this.stmt('INSERT INTO dsn_outbox (account, message, created) VALUES (?, ?, ?)');
          const upd = this.stmt('UPDATE msg SET results = ?, delayed_dsn_sent = delayed_dsn_sent | ? WHERE id = ?');
          for (const [i, p] of batch.entries()) {
            const { retired, suppressing } = out[i]!;
            const delayed = new Set<number>();
            for (const it of p.items) {
              const r = get.get(it.id) as Row | undefined;
              if (!r) continue; // removed meanwhile (admin drop)
              if (it.outcome === 'delayed') {
                const results = JSON.parse(r.results as string) as AttemptResult[];
                results.push(it.result);
                upd.run(JSON.stringify(results), it.delayedDsnSent ? 1 : 0, it.id);
                this.recordRowEvent(r, 'delayed', it.result, now, false);
                delayed.add(it.id);
                continue;
              }
              let sup = false;
              if (it.suppress) {
                const address = `${r.recipient_localpart as string}@${r.recipient_domain as string}`;
                sup = this.addSuppression(r.sender_account as string, address, { manual: false, reason: it.suppress });
                if (sup) suppressing.add(it.id);
              }
              retired.push(this.retireRow(r, it.outcome, it.result, now, sup).retired);
            }
            // The sender's DSNs are stored with the outcome that causes them, so a crash after
            // this commit cannot lose them (the scheduler delivers and removes them after it).
            let dsns: Array<Omit<OutboxDsn, 'id'>> = [];
            try {
              dsns = p.dsns?.({ retired, delayed }) ?? [];
            } catch (err) {
              this.log.error({ err }, 'queue: composing sender DSN'); // the outcomes still count
            }
            for (const d of dsns) out[i]!.dsnOutbox.push(Number(outbox.run(d.account, d.message, now).lastInsertRowid));
          }
          // After all of the batch's rows are gone: a submission's message goes with its last row.
          const seen = new Set<number>();
          for (const o of out) {
            o.files = this.removeUnusedBodies(o.retired.map((r) => r.baseId).filter((b) => !seen.has(b)));
            for (const r of o.retired) seen.add(r.baseId);
          }
        })
        .immediate();
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(out[i]!);
  }

  /** Per-row prefix bytes (Received/DKIM-Signature), sent before the message. */
  prefix(id: number): Buffer | undefined {
    return (this.stmt('SELECT prefix FROM msg WHERE id = ?').pluck().get(id) as Buffer | null | undefined) ?? undefined;
  }

  /**
   * Called (coalesced, after the current tick) when messages were queued or changed by an admin,
   * so the scheduler looks again at once. Set by the server.
   */
  onChange: (() => void) | undefined;
  private changePending = false;

  /**
   * Called (coalesced, after the current tick, so after the transaction that recorded them) when
   * outgoing events were recorded, so the webhook worker consumes them at once. Set by the server.
   */
  onEvents: (() => void) | undefined;
  private eventsPending = false;

  private eventsRecorded(): void {
    if (!this.onEvents || this.eventsPending) return;
    this.eventsPending = true;
    setImmediate(() => {
      this.eventsPending = false;
      this.onEvents?.();
    });
  }

  private changed(): void {
    if (!this.onChange || this.changePending) return;
    this.changePending = true;
    setImmediate(() => {
      this.changePending = false;
      this.onChange?.();
    });
  }

  // ---------------------------------------------------------------- delivery attempts

  // Which rows are due: queue/due.ts.
  /** Due messages (not held, next attempt at or before now), oldest first. */
  due(max = 1000): QueuedMsg[] {
    return dueRows((sql) => this.stmt(sql), this.now(), max);
  }

  /** The next delivery batches (queue/due.ts dueBatches). */
  dueBatches(max: number, skipDomains: ReadonlySet<string>, maxRecipients: number): QueuedMsg[][] {
    return dueBatches((sql) => this.stmt(sql), this.now(), max, skipDomains, maxRecipients);
  }

  /** When the next message becomes due (held messages excluded), or undefined when none is queued. */
  nextDue(): Date | undefined {
    return nextDue((sql) => this.stmt(sql));
  }

  /**
   * Start an attempt: count it and push the next attempt forward *before* delivering, so a crash
   * during delivery never leads to an immediate retry storm (mox §3.2). Returns the updated rows
   * (fewer when some were changed or removed meanwhile, e.g. held by an admin).
   */
  beginAttempt(ids: readonly number[], nextAttempt: (attempts: number) => number): QueuedMsg[] {
    const now = this.now();
    const out: QueuedMsg[] = [];
    this.db.transaction(() => {
      const get = this.stmt('SELECT * FROM msg WHERE id = ? AND hold = 0');
      const upd = this.stmt('UPDATE msg SET attempts = ?, last_attempt = ?, next_attempt = ? WHERE id = ?');
      for (const id of ids) {
        const r = get.get(id) as Row | undefined;
        if (!r) continue;
        const attempts = (r.attempts as number) + 1;
        const next = now + nextAttempt(attempts);
        upd.run(attempts, now, next, id);
        out.push(rowToMsg({ ...r, attempts, last_attempt: now, next_attempt: next }));
      }
    })();
    return out;
  }

  /** Append an attempt result to a message's history (a temporary failure; it stays queued). */
  addResult(id: number, result: AttemptResult, opts: { delayedDsnSent?: boolean } = {}): void {
    const r = this.db.prepare('SELECT results FROM msg WHERE id = ?').pluck().get(id) as string | undefined;
    if (r === undefined) return;
    const results = JSON.parse(r) as AttemptResult[];
    results.push(result);
    this.db
      .prepare('UPDATE msg SET results = ?, delayed_dsn_sent = delayed_dsn_sent | ? WHERE id = ?')
      .run(JSON.stringify(results), opts.delayedDsnSent ? 1 : 0, id);
  }

  // ---------------------------------------------------------------- retired messages

  // Reads of msg_retired: queue/retired.ts.
  listRetired(f: RetiredFilter = {}, after?: { id: number; lastActivity: Date }, max = 100): RetiredMsg[] {
    return listRetired(this.db, f, after, max);
  }

  getRetired(id: number): RetiredMsg | undefined {
    return retiredBy(this.db, 'id', id);
  }

  retiredByFromId(fromId: string): RetiredMsg | undefined {
    return retiredBy(this.db, 'from_id', fromId);
  }

  /** Success flags of the most recent retired messages to an address, newest first (suppression history). */
  recentOutcomes(account: string, recipientAddress: string, n = 2): boolean[] {
    return recentOutcomes(this.db, account, recipientAddress, n);
  }

  /** Delete retired records past their keep time; returns how many. Called hourly. */
  cleanupRetired(): number {
    return this.db.prepare('DELETE FROM msg_retired WHERE keep_until < ?').run(this.now()).changes;
  }

  // ---------------------------------------------------------------- hold rules

  // Delegates to queue/hold-rules.ts (add() checks new messages against them in its transaction).
  private readonly holdRules: HoldRuleList;

  listHoldRules(): HoldRule[] {
    return this.holdRules.list();
  }

  /** Add a rule and hold the queued messages it matches. Returns the rule and how many were held. */
  addHoldRule(rule: Omit<HoldRule, 'id'>): { rule: HoldRule; held: number } {
    return this.holdRules.add(rule);
  }

  /** Remove a rule; held messages stay held until released. */
  removeHoldRule(id: number): boolean {
    return this.holdRules.remove(id);
  }

  // ---------------------------------------------------------------- suppression list

  // Delegates to queue/suppressions.ts (the list lives in this database, and delivery failures add
  // to it inside the outcome transaction).
  private readonly suppressions: SuppressionList;

  listSuppressions(account?: string): Suppression[] {
    return this.suppressions.list(account);
  }

  /** Add an address (by its base address); false when it was already listed. */
  addSuppression(account: string, address: string, opts: { manual: boolean; reason: string }): boolean {
    return this.suppressions.add(account, address, opts);
  }

  removeSuppression(account: string, address: string): boolean {
    return this.suppressions.remove(account, address);
  }

  lookupSuppression(account: string, address: string): Suppression | undefined {
    return this.suppressions.lookup(account, address);
  }

  /** Finish submissions in progress, then close the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    this.flushOutcomes();
    this.checkpoints.stop();
    this.db.close();
    await this.wal.close();
  }
}
