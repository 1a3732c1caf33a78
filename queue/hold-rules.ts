/**
 * Hold rules in queue.db (mox §4 "hold rules"): messages from an account, sender domain and/or to
 * a recipient domain are queued on hold until an admin releases them. Read once and kept until
 * they change: add/remove drop the copy, and a commit by another connection (e.g. `moxts queue
 * holdrules add` run directly on the data dir) changes PRAGMA data_version, which is checked on
 * every use (no table read per submission).
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { holdRuleMatches, type HoldRule } from './rules.js';
import type { Row } from './store-types.js';

export class HoldRuleList {
  private cached?: { rules: HoldRule[]; dataVersion: number };
  private readonly dataVersion: Statement<unknown[]>;
  private readonly all: Statement<unknown[]>;

  constructor(private readonly db: Db) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.all = db.prepare('SELECT * FROM hold_rule ORDER BY id');
  }

  list(): HoldRule[] {
    return this.current().map((r) => ({ ...r }));
  }

  /** The rules as of the last commit by any connection (shared: do not modify). */
  current(): readonly HoldRule[] {
    const dataVersion = this.dataVersion.get() as number;
    if (this.cached?.dataVersion !== dataVersion) this.cached = { rules: this.read(), dataVersion };
    return this.cached.rules;
  }

  private read(): HoldRule[] {
    return (this.all.all() as Row[]).map((r) => ({
      id: r.id as number,
      account: r.account as string,
      senderDomain: r.sender_domain as string,
      recipientDomain: r.recipient_domain as string,
    }));
  }

  /** Add a rule and hold the queued messages it matches (same matching as for new messages). Returns the rule and how many were held. */
  add(rule: Omit<HoldRule, 'id'>): { rule: HoldRule; held: number } {
    const r = { account: rule.account, senderDomain: rule.senderDomain.toLowerCase(), recipientDomain: rule.recipientDomain.toLowerCase() };
    let id = 0;
    let held = 0;
    this.cached = undefined;
    this.db.transaction(() => {
      id = Number(this.db.prepare('INSERT INTO hold_rule (account, sender_domain, recipient_domain) VALUES (?, ?, ?)').run(r.account, r.senderDomain, r.recipientDomain).lastInsertRowid);
      const rows = this.db.prepare('SELECT id, sender_account, sender_domain, recipient_domain FROM msg WHERE hold = 0').all() as Row[];
      const upd = this.db.prepare('UPDATE msg SET hold = 1 WHERE id = ?');
      for (const m of rows) {
        if (holdRuleMatches(r, { account: m.sender_account as string, senderDomain: m.sender_domain as string, recipientDomain: m.recipient_domain as string })) {
          upd.run(m.id);
          held++;
        }
      }
    })();
    return { rule: { id, ...r }, held };
  }

  /** Remove a rule; held messages stay held until released. */
  remove(id: number): boolean {
    this.cached = undefined;
    return this.db.prepare('DELETE FROM hold_rule WHERE id = ?').run(id).changes > 0;
  }
}
