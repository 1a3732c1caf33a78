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
import { periodicCheckpoints, type CheckpointRequester, type PeriodicCheckpoints } from '../queue/checkpoints.js';
import type { OutgoingEventName, OutgoingPayload } from '../queue/events.js';
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

/** What sending one attempt needs (claimDue): no history, no JSON to parse. */
export interface SendHook {
  id: number;
  webhookId: string;
  account: string;
  url: string;
  authorization: string;
  /** The JSON body, sent byte-identical on every attempt. */
  payload: string;
  /** Attempts made so far. */
  attempts: number;
  nextAttempt: number;
}

/** One attempt's result for finishAttempts: `next` null retires the hook. */
export interface AttemptOutcome {
  id: number;
  result: HookResult;
  next: number | null;
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

let idPool = Buffer.alloc(0);
let idPoolAt = 0;
/** A new Standard Webhooks message id: "msg_" + 128 random bits (no "." as the spec requires). */
export function newWebhookId(): string {
  // Random bytes drawn 4 KiB at a time (one randomBytes call per id cost more than the rest of
  // creating a hook); each id still gets 16 bytes of its own.
  if (idPoolAt + 16 > idPool.length) {
    idPool = randomBytes(4096);
    idPoolAt = 0;
  }
  idPoolAt += 16;
  return `msg_${idPool.toString('base64url', idPoolAt - 16, idPoolAt)}`;
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
  /** WAL checkpoints in a worker thread instead of inside commits (the server passes its store's; queue/checkpoints.ts). */
  checkpointer?: CheckpointRequester;
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
  private readonly checkpoints: PeriodicCheckpoints;
  private urls: Set<string> | undefined;
  private urlsScanned = 0;
  /**
   * Ids of hooks written in a commit() that is not yet durable. Hook ids grow in commit order, so
   * everything below the smallest of these is durable; the worker sends nothing at or above it
   * (a crash could undo such a hook, and it would come back under a new webhook-id).
   */
  private readonly notDurable = new Set<number>();
  private minNotDurable = Number.MAX_SAFE_INTEGER;
  /** Set while a commit() operation runs: hooks it inserts (id, url). */
  private inserting: { ids: number[]; urls: Set<string> } | undefined;
  /** Called when hooks written through commit() are durable, with their URLs (the worker: send them). */
  onDurable: ((urls: ReadonlySet<string>) => void) | undefined;
  /**
   * Called when a queued hook stops being due as claimed: retired by superseding or cancel (with
   * its id), or rescheduled (without). The worker drops what it claimed in memory.
   */
  onInvalidate: ((id?: number) => void) | undefined;

  constructor(opts: WebhookStoreOptions) {
    this.db = opts.db;
    this.clock = opts.clock ?? (() => new Date());
    this.keepRetiredFor = opts.keepRetiredFor;
    this.st = this.prepare();
    this.tx = this.db.transaction((fn: () => unknown) => fn());
    this.group = new GroupCommit(this.db, `${this.db.name}-wal`);
    this.checkpoints = periodicCheckpoints(this.db, this.db.name, opts.checkpointer);
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
    const ins = { ids: [] as number[], urls: new Set<string>() };
    const p = this.group.run(() => {
      const outer = this.inserting;
      this.inserting = ins;
      try {
        return fn();
      } finally {
        this.inserting = outer;
      }
    });
    const done = (ok: boolean) => {
      if (!ins.ids.length) return;
      for (const id of ins.ids) this.notDurable.delete(id);
      this.minNotDurable = this.notDurable.size ? Math.min(...this.notDurable) : Number.MAX_SAFE_INTEGER;
      if (ok) this.onDurable?.(ins.urls);
    };
    return p.then(
      (v) => {
        done(true);
        return v;
      },
      (err: unknown) => {
        done(false);
        throw err;
      },
    );
  }

  /** The group commit's counters (commits, fsyncs and their time): benchmarks. */
  get commitStats(): Readonly<GroupCommit['stats']> {
    return this.group.stats;
  }

  /** Smallest id of a hook written but not yet durable (MAX_SAFE_INTEGER if none). */
  firstNotDurable(): number {
    return this.minNotDurable;
  }

  async close(): Promise<void> {
    await this.group.close();
    this.checkpoints.stop();
    if (this.ownsDb) this.db.close();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        `INSERT INTO hook (webhook_id, queue_msg_id, from_id, message_id, subject, extra, account, url, authorization, is_incoming, outgoing_event, payload, submitted, next_attempt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      // Ordered by next_attempt only: the index (url, next_attempt, rowid) is walked in order and
      // the scan stops after LIMIT rows. Spelling out ", id" in ORDER BY, or filtering on id in
      // SQL, made SQLite walk far more of the index (measured 5-20x slower with a backlog).
      claimForUrl: db.prepare('SELECT id, webhook_id, account, url, authorization, payload, attempts, next_attempt FROM hook WHERE url = ? AND next_attempt <= ? ORDER BY next_attempt LIMIT ?').raw(),
      events: db.prepare('SELECT id, account, queue_msg_id, event, payload FROM event ORDER BY id LIMIT ?'),
      // The consumed events are exactly those up to the last one read: the consumer reads the
      // oldest rows inside its write transaction, so no other writer can add one below.
      deleteEventsTo: db.prepare('DELETE FROM event WHERE id <= ?'),
      firstUrlAfter: db.prepare('SELECT min(url) FROM hook WHERE url > ?').pluck(),
      nextDueAfter: db.prepare('SELECT min(next_attempt) FROM hook WHERE next_attempt > ?').pluck(),
      hasEvents: db.prepare('SELECT 1 FROM event LIMIT 1'),
      secret: db.prepare('SELECT * FROM hook_secret WHERE account = ?'),
    };
  }

  private now(): number {
    return this.clock().getTime();
  }

  private insert(h: NewHook, secretChecked = false): number {
    this.urls?.add(h.url);
    // The account's signing secret is created in the same transaction as its first hook, so it
    // is durable before anything signed with it is sent.
    if (!secretChecked) this.secrets(h.account);
    // Positional parameters: binding an object by name costs more, once per hook.
    const r = this.st.insert.run(
      h.webhookId ?? newWebhookId(),
      h.queueMsgId ?? 0,
      h.fromId ?? '',
      h.messageId ?? '',
      h.subject ?? '',
      h.extra ? JSON.stringify(h.extra) : '{}',
      h.account,
      h.url,
      h.authorization ?? '',
      h.isIncoming ? 1 : 0,
      h.outgoingEvent ?? '',
      h.payload,
      h.submitted,
      h.nextAttempt,
    );
    const id = Number(r.lastInsertRowid);
    if (this.inserting) {
      this.inserting.ids.push(id);
      this.inserting.urls.add(h.url);
      this.notDurable.add(id);
      if (id < this.minNotDurable) this.minNotDurable = id;
    }
    return id;
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
      const events = this.st.events.all(max) as Array<{ id: number; account: string; queue_msg_id: number; event: OutgoingEventName; payload: string }>;
      consumed = events.length;
      if (!events.length) return;
      const now = this.now();
      const withSecret = new Set<string>();
      // The account's configuration once per batch, not per event.
      const targets = new Map<string, OutgoingTarget | undefined>();
      for (const e of events) {
        let t = targets.get(e.account);
        if (t === undefined && !targets.has(e.account)) {
          t = outgoing(e.account);
          targets.set(e.account, t);
        }
        if (!t || (t.events?.length && !t.events.includes(e.event))) continue;
        if (!withSecret.has(e.account)) {
          this.secrets(e.account);
          withSecret.add(e.account);
        }
        // The stored payload text is the body as is (the queue wrote it with JSON.stringify);
        // parsed only for the columns the admin commands filter and show.
        const p = JSON.parse(e.payload) as OutgoingPayload;
        const id = this.insert(
          {
            queueMsgId: e.queue_msg_id,
            fromId: p.FromID,
            messageId: p.MessageID,
            subject: p.Subject,
            extra: p.Extra,
            account: e.account,
            url: t.url,
            authorization: t.authorization,
            isIncoming: false,
            outgoingEvent: e.event,
            payload: e.payload,
            submitted: now,
            nextAttempt: now,
          },
          true,
        );
        created.push(id);
        // mox §2.2: only the latest event per queue message is guaranteed to arrive.
        if (e.queue_msg_id !== 0) {
          for (const old of this.st.pendingForMsg.all(e.queue_msg_id, id) as number[]) this.retireRow(old, false, now, id);
        }
      }
      this.st.deleteEventsTo.run(events[events.length - 1]!.id);
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
   * Claim due hooks of one URL, earliest first, at most `max`: what the worker will send to it
   * next, one at a time. Skips ids in `heldIds` (in flight or result not yet durable) and hooks
   * whose creating transaction is not yet durable (firstNotDurable). One indexed query
   * (url, next_attempt) whose cost does not grow with the URL's backlog. Nothing is written: a
   * claim lives in the worker's memory, so after a crash the hooks are simply due again.
   */
  claimDue(url: string, max: number, heldIds: ReadonlySet<number> = new Set(), heldForUrl = heldIds.size): SendHook[] {
    const belowId = this.minNotDurable;
    const out: SendHook[] = [];
    // Held hooks are the earliest rows of their URL (their next attempt has not moved yet); not
    // yet durable ones are the newest and sort last.
    // Rows as arrays (.raw()): one object per hook instead of two.
    const rows = this.st.claimForUrl.all(url, this.now(), max + heldForUrl) as Array<[number, string, string, string, string, string, number, number]>;
    for (const r of rows) {
      const id = r[0];
      if (heldIds.has(id) || id >= belowId) continue;
      out.push({ id, webhookId: r[1], account: r[2], url: r[3], authorization: r[4], payload: r[5], attempts: r[6], nextAttempt: r[7] });
      if (out.length >= max) break;
    }
    return out;
  }

  /** URLs that have queued hooks (see knownUrls). */
  queuedUrls(): ReadonlySet<string> {
    return this.knownUrls();
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
    return this.tx.immediate(() => this.finishOne(id, result, next)) as 'retried' | 'retired' | 'late' | 'gone';
  }

  /**
   * finishAttempt for several results in one transaction (the worker's group commit of results:
   * one commit and one fsync for many attempts). Each result is recorded independently; returns
   * the outcome of each, in order.
   */
  finishAttempts(list: readonly AttemptOutcome[]): Array<'retried' | 'retired' | 'late' | 'gone'> {
    return this.tx.immediate(() => list.map((o) => this.finishOne(o.id, o.result, o.next))) as Array<'retried' | 'retired' | 'late' | 'gone'>;
  }

  private finishOne(id: number, result: HookResult, next: number | null): 'retried' | 'retired' | 'late' | 'gone' {
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
    // The history is appended to as text: no need to parse earlier results.
    const one = JSON.stringify(result);
    const results = h.results === '[]' ? `[${one}]` : `${h.results.slice(0, -1)},${one}]`;
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
    this.onInvalidate?.(id);
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
    if (r.changes) this.onInvalidate?.();
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
