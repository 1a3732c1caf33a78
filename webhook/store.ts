/**
 * Webhook storage in queue.db (tables hook, hook_retired, hook_secret; queue/schema.ts migration
 * 3): turning the queue's outgoing event log into hooks (with Events filtering and superseding,
 * mox §2.2), incoming-message hooks, attempt bookkeeping, retirement with KeepRetiredWebhookPeriod,
 * admin operations (list, schedule, cancel, replay) and the per-account signing secrets.
 *
 * Every method is one synchronous SQLite transaction on the queue.db connection (synchronous=FULL),
 * so when it returns its effect is durable. GroupCommit (commit.ts) batches several of them into
 * one transaction and one fsync when they come in together.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openDb, type Db } from '../store/db.js';
import type { Transaction } from 'better-sqlite3';
import { QUEUE_MIGRATIONS } from '../queue/schema.js';
import { GroupCommit } from './commit.js';
import { readEvents, deleteEvents, type OutgoingEventName } from '../queue/events.js';
import { MAX_ATTEMPTS } from './schedule.js';

/** One attempt (mox HookResult). */
export interface HookResult {
  /** Start, ms since the epoch. */
  start: number;
  durationMs: number;
  url: string;
  success: boolean;
  /** HTTP status; 0 when no response (connection error, timeout). */
  code: number;
  error: string;
  /** First RESPONSE_KEEP bytes of the response body (as text). */
  response: string;
}

export interface Hook {
  id: number;
  /** Standard Webhooks "webhook-id": the same on every attempt and on a replay. */
  webhookId: string;
  /** 0 for incoming-message hooks. */
  queueMsgId: number;
  fromId: string;
  messageId: string;
  subject: string;
  extra: Record<string, string>;
  account: string;
  url: string;
  authorization: string;
  isIncoming: boolean;
  /** "" for incoming hooks. */
  outgoingEvent: string;
  /** The JSON body, sent byte-identical on every attempt. */
  payload: string;
  submitted: Date;
  attempts: number;
  nextAttempt: Date;
  results: HookResult[];
}

export interface RetiredHook extends Omit<Hook, 'authorization' | 'nextAttempt'> {
  hasAuthorization: boolean;
  /** Id of the hook that replaced this one (a newer event for the same queue message), or 0. */
  supersededById: number;
  success: boolean;
  lastActivity: Date;
  keepUntil: Date;
}

/** Where an account's webhooks go, as configured now (captured into each hook when queued). */
export interface HookTarget {
  url: string;
  authorization?: string;
}
export interface OutgoingTarget extends HookTarget {
  /** Subscribed events; empty or absent: all. */
  events?: readonly string[];
}

/** Filters as mox's admin offers them (§2.2). Relative times: '<' within ms, '>' beyond ms. */
export interface HookFilter {
  ids?: number[];
  account?: string;
  submitted?: { op: '<' | '>'; ms: number };
  nextAttempt?: { op: '<' | '>'; ms: number };
  /** "incoming" or an outgoing event name. */
  event?: string;
}
export interface RetiredHookFilter {
  ids?: number[];
  account?: string;
  submitted?: { op: '<' | '>'; ms: number };
  lastActivity?: { op: '<' | '>'; ms: number };
  event?: string;
  success?: boolean;
}
export interface HookSort {
  field: 'nextAttempt' | 'submitted';
  asc?: boolean;
  /** Keyset pagination: the last row of the previous page. */
  after?: { id: number; value: Date };
}

export interface SigningSecrets {
  /** "whsec_" + base64. */
  current: string;
  /** The secret before the last rotation while it is still honoured (receivers may still use it). */
  previous?: string;
}

/** Response bytes kept per attempt (mox keeps 512). */
export const RESPONSE_KEEP = 512;
/** When the account of a retired hook no longer exists, keep it this long (mox: 7 days). */
export const DEFAULT_KEEP_RETIRED_MS = 7 * 24 * 3_600_000;
/** The set of URLs with queued hooks is rebuilt this often (real time), dropping finished ones. */
export const URL_RESCAN_MS = 10_000;
/** Events consumed per transaction. */
export const EVENT_BATCH = 500;

export class WebhookError extends Error {
  constructor(
    readonly code: 'notfound' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}

type Row = Record<string, unknown>;

function rowToHook(r: Row): Hook {
  return {
    id: r.id as number,
    webhookId: r.webhook_id as string,
    queueMsgId: r.queue_msg_id as number,
    fromId: r.from_id as string,
    messageId: r.message_id as string,
    subject: r.subject as string,
    extra: JSON.parse(r.extra as string) as Record<string, string>,
    account: r.account as string,
    url: r.url as string,
    authorization: r.authorization as string,
    isIncoming: !!r.is_incoming,
    outgoingEvent: r.outgoing_event as string,
    payload: r.payload as string,
    submitted: new Date(r.submitted as number),
    attempts: r.attempts as number,
    nextAttempt: new Date(r.next_attempt as number),
    results: JSON.parse(r.results as string) as HookResult[],
  };
}

function rowToRetired(r: Row): RetiredHook {
  const { authorization: _a, nextAttempt: _n, ...h } = rowToHook({ ...r, authorization: '', next_attempt: 0 });
  return {
    ...h,
    hasAuthorization: !!r.has_authorization,
    supersededById: r.superseded_by_id as number,
    success: !!r.success,
    lastActivity: new Date(r.last_activity as number),
    keepUntil: new Date(r.keep_until as number),
  };
}

/** A new Standard Webhooks message id: "msg_" + 128 random bits (no "." as the spec requires). */
export function newWebhookId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** A new signing secret in the Standard Webhooks format: "whsec_" + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface WebhookStoreOptions {
  /** A connection to queue.db: events and hooks live in the same database. */
  db: Db;
  clock?: () => Date;
  /** KeepRetiredWebhookPeriod of an account in ms, or undefined if the account does not exist. */
  keepRetiredFor: (account: string) => number | undefined;
}

interface NewHook {
  webhookId?: string;
  queueMsgId?: number;
  fromId?: string;
  messageId?: string;
  subject?: string;
  extra?: Record<string, string>;
  account: string;
  url: string;
  authorization?: string;
  isIncoming: boolean;
  outgoingEvent?: string;
  payload: string;
  submitted: number;
  nextAttempt: number;
}

export class WebhookStore {
  readonly db: Db;
  private readonly clock: () => Date;
  private readonly keepRetiredFor: (account: string) => number | undefined;
  private readonly st: ReturnType<WebhookStore['prepare']>;
  private readonly group: GroupCommit;
  /** Runs a function in a transaction (a savepoint when nested); created once, it is not free. */
  private readonly tx: Transaction<(fn: () => unknown) => unknown>;
  private ownsDb = false;
  private urls: Set<string> | undefined;
  private urlsScanned = 0;

  constructor(opts: WebhookStoreOptions) {
    this.db = opts.db;
    this.clock = opts.clock ?? (() => new Date());
    this.keepRetiredFor = opts.keepRetiredFor;
    this.st = this.prepare();
    this.tx = this.db.transaction((fn: () => unknown) => fn());
    this.group = new GroupCommit(this.db, `${this.db.name}-wal`);
  }

  /**
   * Open queue.db in dataDir with a connection of its own at synchronous=NORMAL: writes go
   * through commit(), which makes them durable with a group fsync of the WAL (commit.ts).
   */
  static open(opts: Omit<WebhookStoreOptions, 'db'> & { dataDir: string }): WebhookStore {
    const db = openDb(join(opts.dataDir, 'queue.db'), QUEUE_MIGRATIONS, { synchronous: 'NORMAL' });
    const s = new WebhookStore({ ...opts, db });
    s.ownsDb = true;
    return s;
  }

  /**
   * Run write operations of this store (fn calls its methods) in a group commit; resolves once
   * they are durable. Everything that changes hooks in the server goes through here.
   */
  commit<T>(fn: () => T): Promise<T> {
    return this.group.run(fn);
  }

  async close(): Promise<void> {
    await this.group.close();
    if (this.ownsDb) this.db.close();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        `INSERT INTO hook (webhook_id, queue_msg_id, from_id, message_id, subject, extra, account, url, authorization, is_incoming, outgoing_event, payload, submitted, next_attempt)
         VALUES (@webhookId, @queueMsgId, @fromId, @messageId, @subject, @extra, @account, @url, @authorization, @isIncoming, @outgoingEvent, @payload, @submitted, @nextAttempt)`,
      ),
      get: db.prepare('SELECT * FROM hook WHERE id = ?'),
      attemptState: db.prepare('SELECT account, attempts, results FROM hook WHERE id = ?'),
      getRetired: db.prepare('SELECT * FROM hook_retired WHERE id = ?'),
      // "queue_msg_id != 0" spelled out: only then may SQLite use the partial index hook_queue_msg
      // (a bound parameter does not imply it); without it every event scanned the whole hook table.
      pendingForMsg: db.prepare('SELECT id FROM hook WHERE queue_msg_id = ? AND queue_msg_id != 0 AND is_incoming = 0 AND id != ?').pluck(),
      retire: db.prepare(
        `INSERT INTO hook_retired (id, webhook_id, queue_msg_id, from_id, message_id, subject, extra, account, url, has_authorization, is_incoming, outgoing_event, payload, submitted, attempts, results, superseded_by_id, success, last_activity, keep_until)
         SELECT id, webhook_id, queue_msg_id, from_id, message_id, subject, extra, account, url, authorization != '', is_incoming, outgoing_event, payload, submitted, coalesce(?, attempts), coalesce(?, results), ?, ?, ?, ? FROM hook WHERE id = ?`,
      ),
      delete: db.prepare('DELETE FROM hook WHERE id = ?'),
      updateAttempt: db.prepare('UPDATE hook SET attempts = ?, results = ?, next_attempt = ? WHERE id = ?'),
      updateRetiredResults: db.prepare('UPDATE hook_retired SET attempts = ?, results = ?, last_activity = ? WHERE id = ?'),
      nextDue: db.prepare('SELECT min(next_attempt) FROM hook').pluck(),
      // Ids only, ordered by next_attempt only: a covering index scan (url, next_attempt, rowid)
      // that stops after LIMIT rows. Spelling out ", id" in ORDER BY, or filtering on id in SQL,
      // made SQLite walk far more of the index (measured 5-20x slower with a backlog).
      dueForUrl: db.prepare('SELECT id, next_attempt FROM hook WHERE url = ? AND next_attempt <= ? ORDER BY next_attempt LIMIT ?'),
      firstUrlAfter: db.prepare('SELECT min(url) FROM hook WHERE url > ?').pluck(),
      nextDueAfter: db.prepare('SELECT min(next_attempt) FROM hook WHERE next_attempt > ?').pluck(),
      hasEvents: db.prepare('SELECT 1 FROM event LIMIT 1'),
      secret: db.prepare('SELECT * FROM hook_secret WHERE account = ?'),
    };
  }

  private now(): number {
    return this.clock().getTime();
  }

  private insert(h: NewHook): number {
    this.urls?.add(h.url);
    // The account's signing secret is created in the same transaction as its first hook, so it
    // is durable before anything signed with it is sent.
    this.secrets(h.account);
    const r = this.st.insert.run({
      webhookId: h.webhookId ?? newWebhookId(),
      queueMsgId: h.queueMsgId ?? 0,
      fromId: h.fromId ?? '',
      messageId: h.messageId ?? '',
      subject: h.subject ?? '',
      extra: JSON.stringify(h.extra ?? {}),
      account: h.account,
      url: h.url,
      authorization: h.authorization ?? '',
      isIncoming: h.isIncoming ? 1 : 0,
      outgoingEvent: h.outgoingEvent ?? '',
      payload: h.payload,
      submitted: h.submitted,
      nextAttempt: h.nextAttempt,
    });
    return Number(r.lastInsertRowid);
  }

  /**
   * Consume up to `max` rows of the queue's event log in one transaction: an event of an account
   * whose OutgoingWebhook subscribes to it becomes a hook (URL and Authorization captured now),
   * superseding still-queued hooks for the same queue message; every consumed event row is
   * deleted. A crash before the commit leaves the events in place; after it, the hooks exist.
   * Returns the ids of the new hooks and how many events were consumed.
   */
  consumeEvents(outgoing: (account: string) => OutgoingTarget | undefined, max = EVENT_BATCH): { created: number[]; consumed: number } {
    const created: number[] = [];
    let consumed = 0;
    if (!this.hasEvents()) return { created, consumed };
    this.tx.immediate(() => {
        const events = readEvents(this.db, 0, max);
        consumed = events.length;
        if (!events.length) return;
        const now = this.now();
        for (const e of events) {
          const t = outgoing(e.account);
          if (!t || (t.events?.length && !t.events.includes(e.event))) continue;
          const p = e.payload;
          const id = this.insert({
            queueMsgId: e.queueMsgId,
            fromId: p.FromID,
            messageId: p.MessageID,
            subject: p.Subject,
            extra: p.Extra,
            account: e.account,
            url: t.url,
            authorization: t.authorization,
            isIncoming: false,
            outgoingEvent: e.event,
            payload: JSON.stringify(p),
            submitted: now,
            nextAttempt: now,
          });
          created.push(id);
          // mox §2.2: only the latest event per queue message is guaranteed to arrive.
          if (e.queueMsgId !== 0) {
            for (const old of this.st.pendingForMsg.all(e.queueMsgId, id) as number[]) this.retireRow(old, false, now, id);
          }
        }
        deleteEvents(
          this.db,
          events.map((e) => e.id),
        );
      });
    return { created, consumed };
  }

  /** Queue an incoming-message hook (payload already built). Returns its id. */
  addIncoming(account: string, target: HookTarget, payload: string): number {
    const now = this.now();
    return this.tx.immediate(() => this.insert({ account, url: target.url, authorization: target.authorization, isIncoming: true, payload, submitted: now, nextAttempt: now })) as number;
  }

  get(id: number): Hook | undefined {
    const r = this.st.get.get(id) as Row | undefined;
    return r ? rowToHook(r) : undefined;
  }

  getRetired(id: number): RetiredHook | undefined {
    const r = this.st.getRetired.get(id) as Row | undefined;
    return r ? rowToRetired(r) : undefined;
  }

  /**
   * Due hooks to start now, earliest first: at most one per URL, none for a URL in `skipUrls`
   * (one request at a time per URL), none whose id is in `heldIds` or is `belowId` or higher
   * (hooks whose creating transaction is not yet durable; ids grow in commit order); at most `max`.
   * Per URL one indexed query (url, next_attempt): cost grows with the number of URLs, never with
   * the backlog of a busy URL.
   */
  dueByUrl(skipUrls: ReadonlySet<string>, max: number, heldIds: ReadonlySet<number> = new Set(), belowId = Number.MAX_SAFE_INTEGER): Hook[] {
    const now = this.now();
    const cands: Array<{ id: number; next_attempt: number }> = [];
    // Hooks not yet durable are the newest, so they sort last; a few extra rows step over held ones.
    const limit = 2 + heldIds.size;
    for (const url of this.knownUrls()) {
      if (skipUrls.has(url)) continue;
      for (const r of this.st.dueForUrl.all(url, now, limit) as Array<{ id: number; next_attempt: number }>) {
        if (heldIds.has(r.id) || r.id >= belowId) continue;
        cands.push(r);
        break;
      }
    }
    cands.sort((a, b) => a.next_attempt - b.next_attempt || a.id - b.id);
    const out: Hook[] = [];
    for (const c of cands.slice(0, max)) {
      const h = this.get(c.id);
      if (h) out.push(h);
    }
    return out;
  }

  /**
   * URLs that have queued hooks: found with a loose index scan (one lookup per distinct URL),
   * cached, extended on every insert, and rescanned every URL_RESCAN_MS to drop finished ones.
   */
  private knownUrls(): Set<string> {
    const t = Date.now();
    if (!this.urls || t - this.urlsScanned > URL_RESCAN_MS) {
      const urls = new Set<string>();
      for (let u = this.st.firstUrlAfter.get('') as string | null; u != null; u = this.st.firstUrlAfter.get(u) as string | null) urls.add(u);
      this.urls = urls;
      this.urlsScanned = t;
    }
    return this.urls;
  }

  /** Earliest next attempt of any queued hook (after `after`, ms, when given). */
  nextDue(after?: number): Date | null {
    const m = (after === undefined ? this.st.nextDue.get() : this.st.nextDueAfter.get(after)) as number | null;
    return m == null ? null : new Date(m);
  }

  /** Whether the queue's event log has rows to consume (cheap; no transaction). */
  hasEvents(): boolean {
    return this.st.hasEvents.get() !== undefined;
  }

  /**
   * Record an attempt's result. `next`: when to try again; null retires the hook (success, or
   * no attempts left). A hook that was retired meanwhile (superseded or canceled while in flight)
   * gets the result appended to its retired record, marked "(superseded)"/"(retired)" as mox does.
   */
  finishAttempt(id: number, result: HookResult, next: number | null): 'retried' | 'retired' | 'late' | 'gone' {
    return this.tx.immediate(() => {
        // Only the columns needed (not the payload): this runs once per attempt.
        const h = this.st.attemptState.get(id) as { account: string; attempts: number; results: string } | undefined;
        if (!h) {
          const r = this.getRetired(id);
          if (!r) return 'gone';
          const mark = r.supersededById ? ' (superseded)' : ' (retired)';
          const late = { ...result, error: result.error + mark };
          this.st.updateRetiredResults.run(r.attempts + 1, JSON.stringify([...r.results, late]), this.now(), id);
          return 'late';
        }
        const results = JSON.stringify([...(JSON.parse(h.results) as HookResult[]), result]);
        const attempts = h.attempts + 1;
        if (result.success || next === null || attempts >= MAX_ATTEMPTS) {
          const now = this.now();
          const keep = this.keepRetiredFor(h.account) ?? DEFAULT_KEEP_RETIRED_MS;
          if (keep > 0) this.st.retire.run(attempts, results, 0, result.success ? 1 : 0, now, now + keep, id);
          this.st.delete.run(id);
          return 'retired';
        }
        this.st.updateAttempt.run(attempts, results, next, id);
        return 'retried';
      }) as 'retried' | 'retired' | 'late' | 'gone';
  }

  /** Inside a transaction: move a hook to hook_retired (or drop it when its account keeps none). */
  private retireRow(id: number, success: boolean, now: number, supersededById: number, extraResult?: HookResult, account?: string): void {
    const h = account === undefined || extraResult ? this.get(id) : undefined;
    const acct = account ?? h?.account;
    if (acct === undefined) return;
    const keep = this.keepRetiredFor(acct) ?? DEFAULT_KEEP_RETIRED_MS;
    if (keep > 0) {
      // Results as stored in the row, unless one is added here.
      const results = extraResult ? JSON.stringify([...h!.results, extraResult]) : null;
      this.st.retire.run(null, results, supersededById, success ? 1 : 0, now, now + keep, id);
    }
    this.st.delete.run(id);
  }

  private where(f: HookFilter | RetiredHookFilter, retired: boolean): { sql: string; args: unknown[] } {
    const c: string[] = [];
    const args: unknown[] = [];
    const now = this.now();
    if (f.ids?.length) {
      c.push(`id IN (${f.ids.map(() => '?').join(',')})`);
      args.push(...f.ids);
    }
    if (f.account !== undefined) {
      c.push('account = ?');
      args.push(f.account);
    }
    if (f.submitted) {
      // "<1h": submitted less than an hour ago.
      c.push(f.submitted.op === '<' ? 'submitted > ?' : 'submitted <= ?');
      args.push(now - f.submitted.ms);
    }
    if (!retired && (f as HookFilter).nextAttempt) {
      const n = (f as HookFilter).nextAttempt!;
      c.push(n.op === '<' ? 'next_attempt <= ?' : 'next_attempt > ?');
      args.push(now + n.ms);
    }
    if (retired && (f as RetiredHookFilter).lastActivity) {
      const n = (f as RetiredHookFilter).lastActivity!;
      c.push(n.op === '<' ? 'last_activity > ?' : 'last_activity <= ?');
      args.push(now - n.ms);
    }
    if (retired && (f as RetiredHookFilter).success !== undefined) {
      c.push('success = ?');
      args.push((f as RetiredHookFilter).success ? 1 : 0);
    }
    if (f.event) {
      if (f.event === 'incoming') c.push('is_incoming = 1');
      else {
        c.push('is_incoming = 0 AND outgoing_event = ?');
        args.push(f.event);
      }
    }
    return { sql: c.length ? `WHERE ${c.join(' AND ')}` : '', args };
  }

  list(f: HookFilter = {}, sort: HookSort = { field: 'nextAttempt' }, max = 100): Hook[] {
    const w = this.where(f, false);
    const col = sort.field === 'submitted' ? 'submitted' : 'next_attempt';
    const asc = sort.asc !== false;
    let sql = w.sql;
    const args = [...w.args];
    if (sort.after) {
      const cmp = asc ? '>' : '<';
      sql += `${sql ? ' AND' : 'WHERE'} (${col} ${cmp} ? OR (${col} = ? AND id ${cmp} ?))`;
      args.push(sort.after.value.getTime(), sort.after.value.getTime(), sort.after.id);
    }
    const dir = asc ? 'ASC' : 'DESC';
    const rows = this.db.prepare(`SELECT * FROM hook ${sql} ORDER BY ${col} ${dir}, id ${dir} LIMIT ?`).all(...args, max) as Row[];
    return rows.map(rowToHook);
  }

  count(f: HookFilter = {}): number {
    const w = this.where(f, false);
    return this.db.prepare(`SELECT count(*) FROM hook ${w.sql}`).pluck().get(...w.args) as number;
  }

  /** Newest first; `after` (the last row of the previous page) for keyset pagination. */
  listRetired(f: RetiredHookFilter = {}, max = 100, after?: { id: number; lastActivity: Date }): RetiredHook[] {
    const w = this.where(f, true);
    let sql = w.sql;
    const args = [...w.args];
    if (after) {
      sql += `${sql ? ' AND' : 'WHERE'} (last_activity < ? OR (last_activity = ? AND id < ?))`;
      args.push(after.lastActivity.getTime(), after.lastActivity.getTime(), after.id);
    }
    const rows = this.db.prepare(`SELECT * FROM hook_retired ${sql} ORDER BY last_activity DESC, id DESC LIMIT ?`).all(...args, max) as Row[];
    return rows.map(rowToRetired);
  }

  /** Move the next attempt of matching hooks: by a duration, or to a fixed time. Returns how many. */
  schedule(f: HookFilter, how: { addMs: number } | { at: Date }): number {
    const w = this.where(f, false);
    const r =
      'addMs' in how
        ? this.db.prepare(`UPDATE hook SET next_attempt = next_attempt + ? ${w.sql}`).run(how.addMs, ...w.args)
        : this.db.prepare(`UPDATE hook SET next_attempt = ? ${w.sql}`).run(how.at.getTime(), ...w.args);
    return r.changes;
  }

  /** Cancel matching hooks: retired as failed with the result "canceled by admin". Returns their ids. */
  cancel(f: HookFilter): number[] {
    return this.tx.immediate(() => {
        const now = this.now();
        const ids = this.list(f, { field: 'nextAttempt' }, 1_000_000).map((h) => h.id);
        for (const id of ids) {
          const h = this.get(id)!;
          this.retireRow(id, false, now, 0, { start: now, durationMs: 0, url: h.url, success: false, code: 0, error: 'canceled by admin', response: '' });
        }
        return ids;
      }) as number[];
  }

  /**
   * Send a retired hook again, as a new hook with the same payload and webhook-id (receivers
   * dedupe on it), to the account's webhook URL and Authorization as configured now.
   */
  replay(id: number, target: HookTarget | undefined): number {
    return this.tx.immediate(() => {
        const r = this.getRetired(id);
        if (!r) throw new WebhookError('notfound', `no retired webhook ${id}`);
        if (!target) throw new WebhookError('invalid', `account ${r.account} has no ${r.isIncoming ? 'IncomingWebhook' : 'OutgoingWebhook'} configured`);
        const now = this.now();
        return this.insert({
          webhookId: r.webhookId,
          queueMsgId: r.queueMsgId,
          fromId: r.fromId,
          messageId: r.messageId,
          subject: r.subject,
          extra: r.extra,
          account: r.account,
          url: target.url,
          authorization: target.authorization,
          isIncoming: r.isIncoming,
          outgoingEvent: r.outgoingEvent,
          payload: r.payload,
          submitted: now,
          nextAttempt: now,
        });
      }) as number;
  }

  /** Delete retired hooks past their KeepUntil. Returns how many. */
  cleanupRetired(): number {
    return this.db.prepare('DELETE FROM hook_retired WHERE keep_until <= ?').run(this.now()).changes;
  }

  /** The account's signing secrets, creating the first one on first use. */
  secrets(account: string): SigningSecrets {
    const now = this.now();
    let r = this.st.secret.get(account) as { secret: string; previous: string | null; previous_until: number | null } | undefined;
    if (!r) {
      this.db.prepare('INSERT OR IGNORE INTO hook_secret (account, secret, created) VALUES (?, ?, ?)').run(account, newSigningSecret(), now);
      r = this.st.secret.get(account) as { secret: string; previous: string | null; previous_until: number | null };
    }
    return { current: r.secret, ...(r.previous && (r.previous_until ?? 0) > now ? { previous: r.previous } : {}) };
  }

  /**
   * What can be said about the account's signing secret without revealing or creating it (the
   * account pages show this after the secret itself was shown once): when it was created and a
   * fingerprint (first 16 hex digits of its SHA-256); undefined when there is none yet.
   */
  secretInfo(account: string): { created: Date; fingerprint: string; previousUntil?: Date } | undefined {
    const r = this.st.secret.get(account) as { secret: string; created: number; previous: string | null; previous_until: number | null } | undefined;
    if (!r) return undefined;
    const now = this.now();
    return {
      created: new Date(r.created),
      fingerprint: createHash('sha256').update(r.secret).digest('hex').slice(0, 16),
      ...(r.previous && (r.previous_until ?? 0) > now ? { previousUntil: new Date(r.previous_until!) } : {}),
    };
  }

  /**
   * Replace the account's signing secret. The old one keeps being sent as a second signature for
   * `overlapMs`, so receivers can switch without rejecting webhooks in between.
   */
  rotateSecret(account: string, overlapMs: number): SigningSecrets {
    const old = this.secrets(account).current;
    const now = this.now();
    this.db
      .prepare('UPDATE hook_secret SET secret = ?, created = ?, previous = ?, previous_until = ? WHERE account = ?')
      .run(newSigningSecret(), now, overlapMs > 0 ? old : null, overlapMs > 0 ? now + overlapMs : null, account);
    return this.secrets(account);
  }
}

/** Outgoing event names a hook can have (for CLI validation). */
export type HookEvent = OutgoingEventName | 'complained' | 'incoming';
