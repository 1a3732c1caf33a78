/**
 * Per-account suppression lists in queue.db (mox §4): addresses, by their base address (catchall
 * separator part removed, queue/rules.ts baseAddress), that the queue fails at once instead of
 * dialing. Written by admins, the webapi, and delivery failures (in the outcome's transaction).
 */
import type { Db } from '../store/db.js';
import { baseAddress } from './rules.js';

export interface Suppression {
  id: number;
  created: Date;
  account: string;
  baseAddress: string;
  originalAddress: string;
  manual: boolean;
  reason: string;
}

type Row = Record<string, unknown>;

function rowToSuppression(r: Row): Suppression {
  return {
    id: r.id as number,
    created: new Date(r.created as number),
    account: r.account as string,
    baseAddress: r.base_address as string,
    originalAddress: r.original_address as string,
    manual: !!r.manual,
    reason: r.reason as string,
  };
}

export class SuppressionList {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  list(account?: string): Suppression[] {
    const rows = (account === undefined
      ? this.db.prepare('SELECT * FROM suppression ORDER BY account, base_address').all()
      : this.db.prepare('SELECT * FROM suppression WHERE account = ? ORDER BY base_address').all(account)) as Row[];
    return rows.map(rowToSuppression);
  }

  /** Add an address (by its base address); false when it was already listed. */
  add(account: string, address: string, opts: { manual: boolean; reason: string }): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO suppression (created, account, base_address, original_address, manual, reason) VALUES (?, ?, ?, ?, ?, ?)')
        .run(this.now(), account, baseAddress(address), address, opts.manual ? 1 : 0, opts.reason).changes > 0
    );
  }

  remove(account: string, address: string): boolean {
    return this.db.prepare('DELETE FROM suppression WHERE account = ? AND base_address = ?').run(account, baseAddress(address)).changes > 0;
  }

  lookup(account: string, address: string): Suppression | undefined {
    const r = this.db.prepare('SELECT * FROM suppression WHERE account = ? AND base_address = ?').get(account, baseAddress(address)) as Row | undefined;
    return r ? rowToSuppression(r) : undefined;
  }
}
