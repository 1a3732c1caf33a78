/**
 * Change bus: after a store transaction commits, the changes it made are published here, in commit
 * order, to listeners of that account (IMAP sessions for IDLE/NOOP untagged responses, webhooks).
 *
 * Delivery is synchronous and ordered. A listener that throws is logged and skipped; the other
 * listeners still get the event. A listener that causes another commit while being notified (e.g.
 * sets flags) does not reorder events: nested publishes are queued behind the current one.
 */
import type { Logger } from '../log/logger.js';
import type { Flags } from './types.js';

interface ChangeBase {
  account: string;
  /** Modseq of the change (the highest one if the change covers several messages). */
  modseq: number;
}

/** Messages added to a mailbox (delivery, append, copy, move target). */
export interface ChangeAdd extends ChangeBase {
  kind: 'add';
  mailboxId: number;
  uids: number[];
  /** Message ids, same order as uids. */
  ids: number[];
}

/** Messages expunged from a mailbox (expunge, move source, mailbox delete is 'mailbox-remove'). */
export interface ChangeRemove extends ChangeBase {
  kind: 'remove';
  mailboxId: number;
  uids: number[];
}

export interface ChangeFlags extends ChangeBase {
  kind: 'flags';
  mailboxId: number;
  uids: number[];
  /** New flags/keywords per uid (same order). */
  flags: Flags[];
  keywords: string[][];
}

export interface ChangeMailboxAdd extends ChangeBase {
  kind: 'mailbox-add';
  mailboxId: number;
  name: string;
  specialUse: string | null;
}

export interface ChangeMailboxRemove extends ChangeBase {
  kind: 'mailbox-remove';
  mailboxId: number;
  name: string;
}

export interface ChangeMailboxRename extends ChangeBase {
  kind: 'mailbox-rename';
  mailboxId: number;
  oldName: string;
  name: string;
}

export interface ChangeSubscribe extends ChangeBase {
  kind: 'subscribe';
  name: string;
  subscribed: boolean;
  /** Mailbox id if the mailbox exists, else null (subscriptions may name absent mailboxes). */
  mailboxId: number | null;
}

export type Change =
  | ChangeAdd
  | ChangeRemove
  | ChangeFlags
  | ChangeMailboxAdd
  | ChangeMailboxRemove
  | ChangeMailboxRename
  | ChangeSubscribe;

export type ChangeListener = (change: Change) => void;

export class ChangeBus {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly queue: Change[] = [];
  private dispatching = false;

  constructor(private readonly log?: Logger) {}

  /** Listen to changes of one account. Returns the unsubscribe function. */
  subscribe(account: string, listener: ChangeListener): () => void {
    let set = this.listeners.get(account);
    if (!set) {
      set = new Set();
      this.listeners.set(account, set);
    }
    set.add(listener);
    return () => this.unsubscribe(account, listener);
  }

  unsubscribe(account: string, listener: ChangeListener): void {
    const set = this.listeners.get(account);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(account);
  }

  listenerCount(account: string): number {
    return this.listeners.get(account)?.size ?? 0;
  }

  /** Called by the store right after a commit, in commit order. */
  publish(...changes: Change[]): void {
    this.queue.push(...changes);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let c = this.queue.shift(); c; c = this.queue.shift()) {
        const set = this.listeners.get(c.account);
        if (!set) continue;
        // Copy: listeners may unsubscribe while being notified.
        for (const l of [...set]) {
          try {
            l(c);
          } catch (err) {
            this.log?.error({ err, account: c.account, kind: c.kind }, 'change listener failed');
          }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }
}
