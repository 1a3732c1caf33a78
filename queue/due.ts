/**
 * Which queued rows are due for a delivery attempt (queue/scheduler.ts asks through QueueStore):
 * rows not held whose next attempt has come, grouped into delivery batches per submission and
 * recipient domain. Reads only; QueueStore passes its cached statements (`stmt`).
 */
import type { Statement } from 'better-sqlite3';
import { rowToMsg, type QueuedMsg, type Row } from './store-types.js';

/** Rows looked at per scheduling pass when picking due batches (bounds the cost of a pass). */
export const DUE_SCAN_LIMIT = 10_000;

type Stmt = (sql: string) => Statement<unknown[]>;

/** Due messages (not held, next attempt at or before now), oldest first. */
export function dueRows(stmt: Stmt, now: number, max: number): QueuedMsg[] {
  return (stmt('SELECT * FROM msg WHERE hold = 0 AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?').all(now, max) as Row[]).map(rowToMsg);
}

/**
 * The next delivery batches: up to `max` groups of due rows (not held, next attempt reached) that
 * share a submission and a recipient domain, oldest first, at most one group per domain and none
 * for `skipDomains` (domains being delivered to). A group has at most `maxRecipients` rows (the
 * rest follow in a later batch). Stops scanning after DUE_SCAN_LIMIT rows, so one huge busy
 * domain cannot make a scheduling pass expensive.
 */
export function dueBatches(stmt: Stmt, now: number, max: number, skipDomains: ReadonlySet<string>, maxRecipients: number): QueuedMsg[][] {
  if (max <= 0) return [];
  const picked = new Map<string, number>();
  let scanned = 0;
  const it = stmt('SELECT base_id, recipient_domain FROM msg WHERE hold = 0 AND next_attempt <= ? ORDER BY next_attempt, id').raw().iterate(now) as IterableIterator<[number, string]>;
  for (const [baseId, domain] of it) {
    if (++scanned > DUE_SCAN_LIMIT) break;
    if (skipDomains.has(domain) || picked.has(domain)) continue;
    picked.set(domain, baseId);
    if (picked.size >= max) break;
  }
  const rows = stmt('SELECT * FROM msg WHERE base_id = ? AND recipient_domain = ? AND hold = 0 AND next_attempt <= ? ORDER BY id LIMIT ?');
  return [...picked].map(([domain, baseId]) => (rows.all(baseId, domain, now, maxRecipients) as Row[]).map(rowToMsg));
}

/** When the next message becomes due (held messages excluded), or undefined when none is queued. */
export function nextDue(stmt: Stmt): Date | undefined {
  const t = stmt('SELECT min(next_attempt) FROM msg WHERE hold = 0').pluck().get() as number | null;
  return t == null ? undefined : new Date(t);
}
