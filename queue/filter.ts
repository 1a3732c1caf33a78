/**
 * The SQL condition for a queue list filter (queue/store.ts list, count, hold, schedule, retire;
 * the CLI's and admin pages' filters, as mox's queue filter: ids, account, from/to substrings,
 * hold, submitted and next-attempt relative to now, transport).
 */
import type { QueueFilter } from './store-types.js';

/** WHERE clause (without the keyword) and its arguments; "1" for an empty filter. */
export function queueWhere(f: QueueFilter, now: number): { sql: string; args: unknown[] } {
  const c: string[] = [];
  const args: unknown[] = [];
  if (f.ids?.length) {
    c.push(`id IN (${f.ids.map(() => '?').join(',')})`);
    args.push(...f.ids);
  }
  if (f.account !== undefined) {
    c.push('sender_account = ?');
    args.push(f.account);
  }
  if (f.from) {
    c.push("instr(lower(sender_localpart || '@' || sender_domain), lower(?)) > 0");
    args.push(f.from);
  }
  if (f.to) {
    c.push("instr(lower(recipient_localpart || '@' || recipient_domain), lower(?)) > 0");
    args.push(f.to);
  }
  if (f.hold !== undefined) {
    c.push('hold = ?');
    args.push(f.hold ? 1 : 0);
  }
  if (f.submitted) {
    c.push(f.submitted.op === '<' ? 'queued > ?' : 'queued < ?');
    args.push(now - f.submitted.ms);
  }
  if (f.nextAttempt) {
    c.push(f.nextAttempt.op === '<' ? 'next_attempt < ?' : 'next_attempt > ?');
    args.push(now + f.nextAttempt.ms);
  }
  if (f.transport !== undefined) {
    if (f.transport === null) c.push('transport IS NULL');
    else {
      c.push('transport = ?');
      args.push(f.transport);
    }
  }
  return { sql: c.length ? c.join(' AND ') : '1', args };
}
