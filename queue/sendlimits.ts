/**
 * Per-account send limits over a rolling 24 hours (mox §3.11): MaxOutgoingMessagesPerDay counts
 * one per recipient of each submission; MaxFirstTimeRecipientsPerDay counts recipients the account
 * had never sent to before. The counts come from the `outgoing` table (queue.db migration 4), which
 * QueueStore.add fills in the same transaction as the queued rows for every way of sending (SMTP
 * submission and webapi share queue/submit.ts), so all of them use up the same budget (mox only
 * counts SMTP submissions, §11.5; we don't copy that).
 */
import type { Db } from '../store/db.js';

/** The rolling window of the limits. */
export const SEND_LIMIT_WINDOW_MS = 24 * 3600_000;
/** How long outgoing records are kept: they also tell whether a recipient is a first-time one. */
export const OUTGOING_KEEP_MS = 365 * 24 * 3600_000;

export interface SendLimits {
  maxMessagesPerDay: number;
  maxFirstTimeRecipientsPerDay: number;
}

type Stmt = { get(...args: unknown[]): unknown };
interface Stmts {
  count: Stmt;
  firstTime: Stmt;
  known: Stmt;
}
const stmtCache = new WeakMap<Db, Stmts>();

function stmts(db: Db): Stmts {
  let s = stmtCache.get(db);
  if (!s) {
    s = {
      count: db.prepare('SELECT count(*) FROM outgoing WHERE account = ? AND submitted > ?').pluck(),
      // Recipients in the window that had no earlier record.
      firstTime: db
        .prepare(
          `SELECT count(*) FROM outgoing o WHERE o.account = ? AND o.submitted > ? AND NOT EXISTS (
             SELECT 1 FROM outgoing p WHERE p.account = o.account AND p.recipient = o.recipient AND (p.submitted < o.submitted OR (p.submitted = o.submitted AND p.id < o.id)))`,
        )
        .pluck(),
      known: db.prepare('SELECT 1 FROM outgoing WHERE account = ? AND recipient = ? LIMIT 1').pluck(),
    };
    stmtCache.set(db, s);
  }
  return s;
}

/**
 * Per account, an upper bound of its outgoing records in the window: the exact count of records
 * newer than `from` when it was last counted, plus every record committed since (noteOutgoing).
 * While `from` is not after the window's start, it bounds the window's count from above (records
 * only leave the window as time passes), so a check that passes with the bound passes with the
 * exact count and needs no query. Counting the window is a range scan over every record of the
 * last 24 h, so without this each submission cost time proportional to the day's volume.
 */
const bounds = new WeakMap<Db, Map<string, { from: number; count: number }>>();

/** QueueStore.add: `n` outgoing records of `account` were committed. */
export function noteOutgoing(db: Db, account: string, n: number): void {
  const b = bounds.get(db)?.get(account);
  if (b) b.count += n;
}

export type SendLimitResult = { ok: true } | { ok: false; limit: 'messages' | 'recipients'; max: number };

/**
 * Would sending to `recipients` (lower-case addresses) exceed the account's limits at `now`?
 * `pending` recipients of submissions being added right now (not yet committed) count as sent.
 * Like mox, the first-time check only runs once the total could reach the first-time limit.
 */
export function checkSendLimits(db: Db, account: string, recipients: readonly string[], limits: SendLimits, now: number, pending = 0): SendLimitResult {
  const since = now - SEND_LIMIT_WINDOW_MS;
  const st = stmts(db);
  const rmax = limits.maxFirstTimeRecipientsPerDay;
  let perDb = bounds.get(db);
  if (!perDb) bounds.set(db, (perDb = new Map()));
  const b = perDb.get(account);
  if (b && b.from <= since) {
    const upper = b.count + pending + recipients.length;
    if ((limits.maxMessagesPerDay <= 0 || upper <= limits.maxMessagesPerDay) && (rmax <= 0 || upper < rmax)) return { ok: true };
  }
  const counted = st.count.get(account, since) as number;
  perDb.set(account, { from: since, count: counted });
  const n = counted + pending;
  if (limits.maxMessagesPerDay > 0 && n + recipients.length > limits.maxMessagesPerDay) return { ok: false, limit: 'messages', max: limits.maxMessagesPerDay };
  if (rmax <= 0 || n + recipients.length < rmax) return { ok: true };
  // First-time recipients in the window, plus new recipients never sent to.
  let firstTime = st.firstTime.get(account, since) as number;
  for (const r of new Set(recipients)) if (!st.known.get(account, r)) firstTime++;
  if (firstTime > rmax) return { ok: false, limit: 'recipients', max: rmax };
  return { ok: true };
}

/** Messages (one per recipient) sent in the last 24 h, for UIs. */
export function sendCounts(db: Db, account: string, now: number): { messages: number } {
  return { messages: stmts(db).count.get(account, now - SEND_LIMIT_WINDOW_MS) as number };
}

/** Remove outgoing records older than OUTGOING_KEEP_MS; returns how many. Called hourly. */
export function cleanupOutgoing(db: Db, now: number): number {
  return db.prepare('DELETE FROM outgoing WHERE submitted < ?').run(now - OUTGOING_KEEP_MS).changes;
}
