/**
 * Mailbox operations of an account (RFC 9051 CREATE/RENAME/DELETE/SUBSCRIBE, RFC 6154 special
 * use): the AccountMailboxes part of the Account chain (store/account-base.ts).
 */
import { rowToMailbox, type MailboxRow } from './account-sql.js';
import { AccountBase, normalizeMailboxName, checkMailboxName } from './account-base.js';
import type { Change } from './changes.js';
import { MailboxNotFoundError, SPECIAL_USES, StoreError, type Mailbox, type SpecialUse } from './types.js';

export abstract class AccountMailboxes extends AccountBase {
  // ---------------------------------------------------------------- mailboxes

  mailbox(idOrName: number | string): Mailbox | undefined {
    const r = (typeof idOrName === 'number'
      ? this.st.mailboxById.get(idOrName)
      : this.st.mailboxByName.get(normalizeMailboxName(idOrName))) as MailboxRow | undefined;
    return r ? rowToMailbox(r) : undefined;
  }

  protected xmailbox(idOrName: number | string): Mailbox {
    const mb = this.mailbox(idOrName);
    if (!mb) throw new MailboxNotFoundError(idOrName);
    return mb;
  }

  listMailboxes(): Mailbox[] {
    return (this.st.mailboxes.all() as MailboxRow[]).map(rowToMailbox);
  }

  /**
   * Create a mailbox and any missing parents. Throws StoreError('exists') if it exists.
   * Returns the new mailbox.
   */
  createMailbox(name: string, opts: { specialUse?: SpecialUse | null; subscribe?: boolean } = {}): Mailbox {
    this.checkOpen();
    name = normalizeMailboxName(name);
    checkMailboxName(name);
    if (opts.specialUse && !SPECIAL_USES.includes(opts.specialUse)) throw new StoreError('invalid', 'unknown special-use');
    const changes: Change[] = [];
    const tx = this.db.transaction(() => {
      if (this.st.mailboxIdByName.get(name) !== undefined) throw new StoreError('exists', `mailbox ${name} exists`);
      const modseq = this.takeModseq();
      this.createMailboxes(name, opts.specialUse ?? null, modseq, changes);
      if (opts.subscribe ?? true) this.db.prepare('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(name);
      this.st.setCounters.run(modseq, 0, 0);
    });
    tx.immediate();
    this.publish(changes);
    return this.xmailbox(name);
  }

  /** Inside a transaction: create `name` and missing parents. */
  protected createMailboxes(name: string, specialUse: SpecialUse | null, modseq: number, changes: Change[]): number {
    const parts = name.split('/');
    let id = 0;
    for (let i = 1; i <= parts.length; i++) {
      const n = parts.slice(0, i).join('/');
      const existing = this.st.mailboxIdByName.get(n) as number | undefined;
      if (existing !== undefined) {
        id = existing;
        continue;
      }
      const su = i === parts.length ? specialUse : null;
      const uidValidity = this.st.takeUidValidity.get() as number;
      id = this.st.insertMailbox.get(n, su, uidValidity, modseq, modseq) as number;
      changes.push({ account: this.name, kind: 'mailbox-add', modseq, mailboxId: id, name: n, specialUse: su });
    }
    return id;
  }

  /**
   * Rename a mailbox and its children (RFC 9051 §6.3.6); missing parents of the new name are
   * created; subscriptions follow. UIDVALIDITY is kept. Renaming Inbox is not supported.
   */
  renameMailbox(from: number | string, to: string): Mailbox[] {
    this.checkOpen();
    to = normalizeMailboxName(to);
    checkMailboxName(to);
    const changes: Change[] = [];
    const renamed: number[] = [];
    const tx = this.db.transaction(() => {
      const mb = this.xmailbox(from);
      if (mb.name === 'Inbox') throw new StoreError('notallowed', 'renaming Inbox is not supported');
      if (to === mb.name) return;
      if (to.startsWith(mb.name + '/')) throw new StoreError('invalid', 'cannot rename a mailbox into itself');
      if (this.st.mailboxIdByName.get(to) !== undefined) throw new StoreError('exists', `mailbox ${to} exists`);
      const modseq = this.takeModseq();
      const prefix = mb.name + '/';
      const kids = this.db
        .prepare('SELECT id, name FROM mailbox WHERE substr(name, 1, ?) = ? ORDER BY name')
        .all(prefix.length, prefix) as Array<{ id: number; name: string }>;
      const all = [{ id: mb.id, name: mb.name }, ...kids];
      const upd = this.db.prepare('UPDATE mailbox SET name = ?, highestModseq = ? WHERE id = ?');
      const updSub = this.db.prepare('UPDATE OR REPLACE subscription SET name = ? WHERE name = ?');
      for (const m of all) {
        const newName = to + m.name.slice(mb.name.length);
        if (m.id !== mb.id && this.st.mailboxIdByName.get(newName) !== undefined) {
          throw new StoreError('exists', `mailbox ${newName} exists`);
        }
        upd.run(newName, modseq, m.id);
        updSub.run(newName, m.name);
        renamed.push(m.id);
        changes.push({ account: this.name, kind: 'mailbox-rename', modseq, mailboxId: m.id, oldName: m.name, name: newName });
      }
      // Create missing parents of the new name.
      const parent = to.split('/').slice(0, -1).join('/');
      if (parent) this.createMailboxes(parent, null, modseq, changes);
      this.st.setCounters.run(modseq, 0, 0);
    });
    tx.immediate();
    this.publish(changes);
    return renamed.map((id) => this.xmailbox(id));
  }

  /**
   * Delete a mailbox with its messages. Inbox cannot be deleted; a mailbox with children cannot
   * be deleted (delete the children first), like mox.
   */
  deleteMailbox(idOrName: number | string): void {
    this.checkOpen();
    const changes: Change[] = [];
    let files: number[] = [];
    const inlined = new Set<number>();
    const tx = this.db.transaction(() => {
      const mb = this.xmailbox(idOrName);
      if (mb.name === 'Inbox') throw new StoreError('notallowed', 'Inbox cannot be deleted');
      const kid = this.db.prepare('SELECT 1 FROM mailbox WHERE substr(name, 1, ?) = ? LIMIT 1').get(mb.name.length + 1, mb.name + '/');
      if (kid) throw new StoreError('haschildren', `mailbox ${mb.name} has children`);
      const modseq = this.takeModseq();
      files = this.db.prepare('SELECT id FROM message WHERE mailboxId = ? AND expunged = 0').pluck().all(mb.id) as number[];
      for (const id of files) {
        if (this.st.deleteBlob.run(id).changes) inlined.add(id);
        this.st.deleteParsed.run(id);
        this.st.deleteImap.run(id);
      }
      this.db.prepare('DELETE FROM message WHERE mailboxId = ?').run(mb.id);
      this.db.prepare('DELETE FROM mailbox WHERE id = ?').run(mb.id);
      this.st.setCounters.run(modseq, 0, -mb.size);
      this.quotaUsed -= mb.size;
      changes.push({ account: this.name, kind: 'mailbox-remove', modseq, mailboxId: mb.id, name: mb.name });
    });
    tx.immediate();
    this.publish(changes);
    this.removeFiles(files.filter((id) => !inlined.has(id)));
  }

  /** Subscribe or unsubscribe a name (which need not exist as a mailbox). */
  setSubscribed(name: string, subscribed: boolean): void {
    this.checkOpen();
    name = normalizeMailboxName(name);
    checkMailboxName(name);
    let change: Change | undefined;
    const tx = this.db.transaction(() => {
      const r = subscribed
        ? this.db.prepare('INSERT OR IGNORE INTO subscription (name) VALUES (?)').run(name)
        : this.db.prepare('DELETE FROM subscription WHERE name = ?').run(name);
      if (r.changes === 0) return;
      const modseq = this.takeModseq();
      this.st.setCounters.run(modseq, 0, 0);
      const id = (this.st.mailboxIdByName.get(name) as number | undefined) ?? null;
      change = { account: this.name, kind: 'subscribe', modseq, name, subscribed, mailboxId: id };
    });
    tx.immediate();
    if (change) this.publish([change]);
  }

  listSubscriptions(): string[] {
    return this.db.prepare('SELECT name FROM subscription ORDER BY name').pluck().all() as string[];
  }
}
