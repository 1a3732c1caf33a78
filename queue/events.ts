/**
 * The outgoing event log in queue.db (table `event`, queue/schema.ts migration 2).
 *
 * Every delivery outcome (delivered, delayed, failed, suppressed, canceled, and the outcomes of
 * incoming DSNs: relayed, expanded, unrecognized; complaints: complained) is recorded here by the code that records the
 * outcome, inside the same SQLite transaction, with the payload already in mox's
 * `webhook.Outgoing` shape (../shared/reference/mox-behaviour.md §2.3). webhook/ reads the log in
 * id order, turns rows into webhook deliveries for accounts that configured an OutgoingWebhook
 * (with their Events filter), and deletes the rows it consumed, in its own transactions.
 *
 * This module only writes and reads rows; it knows nothing about HTTP or configuration.
 */
import type { Db } from '../store/db.js';

/**
 * mox's events plus `complained` (our addition): an incoming feedback report (rfc5965 ARF, JMRP,
 * …) about a message we sent; the recipient was added to the suppression list (queue/incoming.ts).
 */
export const OUTGOING_EVENTS = ['delivered', 'suppressed', 'delayed', 'failed', 'relayed', 'expanded', 'canceled', 'unrecognized', 'complained'] as const;
export type OutgoingEventName = (typeof OUTGOING_EVENTS)[number];

/** mox webhook.Outgoing (field names are the JSON names apps already parse). */
export interface OutgoingPayload {
  Version: 0;
  Event: OutgoingEventName;
  /** True when the event came from an incoming DSN message. */
  DSN: boolean;
  /** True when this failure added the address to the suppression list. */
  Suppressing: boolean;
  QueueMsgID: number;
  FromID: string;
  /** With angle brackets. */
  MessageID: string;
  Subject: string;
  /** RFC 3339 time the event (and so the webhook payload) was composed. */
  WebhookQueued: string;
  /** 0 for delivered; the SMTP reply code for errors when known. */
  SMTPCode: number;
  SMTPEnhancedCode: string;
  Error: string;
  /** Always an object, never null. */
  Extra: Record<string, string>;
}

export interface RecordedEvent {
  id: number;
  created: Date;
  account: string;
  queueMsgId: number;
  event: OutgoingEventName;
  payload: OutgoingPayload;
}

export interface NewEvent {
  account: string;
  event: OutgoingEventName;
  queueMsgId: number;
  fromId?: string | null;
  messageId?: string;
  subject?: string;
  extra?: Record<string, string>;
  dsn?: boolean;
  suppressing?: boolean;
  smtpCode?: number;
  enhancedCode?: string;
  error?: string;
}

/** Build the webhook payload for an event composed at `now`. */
export function outgoingPayload(e: NewEvent, now: Date): OutgoingPayload {
  return {
    Version: 0,
    Event: e.event,
    DSN: e.dsn ?? false,
    Suppressing: e.suppressing ?? false,
    QueueMsgID: e.queueMsgId,
    FromID: e.fromId ?? '',
    MessageID: e.messageId ?? '',
    Subject: e.subject ?? '',
    WebhookQueued: now.toISOString(),
    SMTPCode: e.event === 'delivered' ? 0 : (e.smtpCode ?? 0),
    SMTPEnhancedCode: e.enhancedCode ?? '',
    Error: e.error ?? '',
    Extra: e.extra ?? {},
  };
}

/**
 * Append an event. Call it inside the transaction that records the outcome (better-sqlite3
 * transactions nest as savepoints, so calling it from within `db.transaction(...)` is enough).
 */
export function recordEvent(db: Db, e: NewEvent, now: Date): number {
  const payload = outgoingPayload(e, now);
  const r = db
    .prepare('INSERT INTO event (created, account, queue_msg_id, event, payload) VALUES (?, ?, ?, ?, ?)')
    .run(now.getTime(), e.account, e.queueMsgId, e.event, JSON.stringify(payload));
  return Number(r.lastInsertRowid);
}

/** The oldest events after `afterId`, in id order. */
export function readEvents(db: Db, afterId = 0, max = 100): RecordedEvent[] {
  const rows = db.prepare('SELECT * FROM event WHERE id > ? ORDER BY id LIMIT ?').all(afterId, max) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: r.id as number,
    created: new Date(r.created as number),
    account: r.account as string,
    queueMsgId: r.queue_msg_id as number,
    event: r.event as OutgoingEventName,
    payload: JSON.parse(r.payload as string) as OutgoingPayload,
  }));
}

/** Remove consumed events (call inside the consumer's transaction). */
export function deleteEvents(db: Db, ids: readonly number[]): void {
  const del = db.prepare('DELETE FROM event WHERE id = ?');
  for (const id of ids) del.run(id);
}
