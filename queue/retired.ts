/**
 * Reads of retired queue messages (msg_retired: delivered, failed, canceled or suppressed, kept
 * for the account's KeepRetiredMessagePeriod): the admin pages' and the webapi's listings with
 * keyset pagination, lookups, and the recent outcomes to an address that the suppression logic
 * looks at. queue/store.ts writes them (retire, recordOutcomes) and delegates these reads here.
 */
import type { Db } from '../store/db.js';
import { rowToRetired, type RetiredMsg, type Row } from './store-types.js';

export interface RetiredFilter {
  account?: string;
  /** Substring of the recipient address (case-insensitive). */
  to?: string;
  success?: boolean;
}

/** Newest first (last activity, then id), after the keyset `after`, at most `max`. */
export function listRetired(db: Db, f: RetiredFilter, after: { id: number; lastActivity: Date } | undefined, max: number): RetiredMsg[] {
  const c: string[] = [];
  const args: unknown[] = [];
  if (f.account !== undefined) {
    c.push('sender_account = ?');
    args.push(f.account);
  }
  if (f.to) {
    c.push('instr(recipient_address, lower(?)) > 0');
    args.push(f.to);
  }
  if (f.success !== undefined) {
    c.push('success = ?');
    args.push(f.success ? 1 : 0);
  }
  if (after) {
    c.push('(last_activity, id) < (?, ?)');
    args.push(after.lastActivity.getTime(), after.id);
  }
  const rows = db
    .prepare(`SELECT * FROM msg_retired WHERE ${c.length ? c.join(' AND ') : '1'} ORDER BY last_activity DESC, id DESC LIMIT ?`)
    .all(...args, max) as Row[];
  return rows.map(rowToRetired);
}

/** The retired message with this id, or with this from_id (the unique MAIL FROM id that DSNs are matched by). */
export function retiredBy(db: Db, column: 'id' | 'from_id', value: number | string): RetiredMsg | undefined {
  const r = db.prepare(`SELECT * FROM msg_retired WHERE ${column} = ?`).get(value) as Row | undefined;
  return r ? rowToRetired(r) : undefined;
}

/** Success flags of the most recent retired messages to an address, newest first. */
export function recentOutcomes(db: Db, account: string, recipientAddress: string, n: number): boolean[] {
  return (
    db
      .prepare('SELECT success FROM msg_retired WHERE sender_account = ? AND recipient_address = ? ORDER BY last_activity DESC, id DESC LIMIT ?')
      .pluck()
      .all(account, recipientAddress.toLowerCase(), n) as number[]
  ).map((x) => !!x);
}
