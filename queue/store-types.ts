/**
 * The outbound queue's record shapes and options (queue/store.ts is the storage): queued and
 * retired messages, attempt results, what add() takes, list filters, and the queue.db row mapping.
 */
import type { Logger } from '../log/logger.js';
import type { CheckpointRequester } from './checkpoints.js';

export interface AttemptResult {
  start: number;
  durationMs: number;
  success: boolean;
  code?: number;
  enhanced?: string;
  error: string;
  host?: string;
}

export interface DsnParams {
  notify?: string[];
  orcpt?: string;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
}

export interface QueuedMsg {
  id: number;
  baseId: number;
  queued: Date;
  hold: boolean;
  senderAccount: string;
  senderLocalpart: string;
  senderDomain: string;
  fromId: string | null;
  recipientLocalpart: string;
  recipientDomain: string;
  attempts: number;
  maxAttempts: number;
  nextAttempt: Date;
  lastAttempt: Date | null;
  results: AttemptResult[];
  has8bit: boolean;
  smtputf8: boolean;
  size: number;
  messageId: string;
  subject: string;
  transport: string | null;
  requireTLS: boolean | null;
  futureRelease: string | null;
  extra: Record<string, string>;
  dsn: DsnParams;
  delayedDsnSent: boolean;
}

export type RetiredOutcome = 'delivered' | 'failed' | 'canceled' | 'suppressed';

/** One recipient's outcome of a delivery attempt (QueueStore.recordOutcomes). */
export interface OutcomeInput {
  id: number;
  outcome: 'delivered' | 'failed' | 'suppressed' | 'delayed';
  result: AttemptResult;
  /** Add the recipient to the sender's suppression list with this reason (failures only). */
  suppress?: string;
  /** delayed: a delayed DSN is sent for this attempt. */
  delayedDsnSent?: boolean;
}

/** A DSN for a sender, composed inside the outcome transaction (QueueStore.recordOutcomes). */
export interface OutboxDsn {
  id: number;
  account: string;
  message: Buffer;
}

/**
 * Composes the sender DSNs owed for one recordOutcomes call, given the rows it retired and the ids
 * it recorded as delayed (rows dropped meanwhile are in neither). Runs inside the transaction:
 * pure computation only.
 */
export type ComposeDsns = (done: { retired: readonly RetiredMsg[]; delayed: ReadonlySet<number> }) => Array<Omit<OutboxDsn, 'id'>>;

export interface OutcomeResult {
  retired: RetiredMsg[];
  suppressing: Set<number>;
  files: number[];
  dsnOutbox: number[];
}

export interface RetiredMsg extends Omit<QueuedMsg, 'hold' | 'nextAttempt' | 'delayedDsnSent'> {
  recipientAddress: string;
  success: boolean;
  outcome: RetiredOutcome;
  lastActivity: Date;
  keepUntil: Date;
}

export interface AddRecipient {
  localpart: string;
  domain: string;
  fromId?: string;
  /** This recipient's MAIL FROM localpart when it differs from mailFrom's (fromid: "user+<id>"). */
  senderLocalpart?: string;
  notify?: string[];
  orcpt?: string;
}

export interface AddInput {
  account: string;
  mailFrom: { localpart: string; domain: string };
  recipients: AddRecipient[];
  /** The message bytes, or a temp file the caller wrote (hard-linked; the caller removes it). */
  message: Buffer | { tempPath: string; size: number };
  /** Header lines sent before the file (e.g. DKIM-Signature), stored with each row. */
  prefix?: Buffer;
  messageId?: string;
  subject?: string;
  has8bit?: boolean;
  smtputf8?: boolean;
  requireTLS?: boolean | null;
  transport?: string | null;
  /** rfc4865 FUTURERELEASE: first attempt at this time; request kept for DSNs. */
  futureRelease?: { at: Date; request: string };
  extra?: Record<string, string>;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  maxAttempts?: number;
  /**
   * Record the recipients in the `outgoing` table (send limits, queue/sendlimits.ts) in the same
   * transaction as the rows. Set by submissions; not by DSNs and other system messages.
   */
  recordOutgoing?: boolean;
}

export interface QueueFilter {
  ids?: number[];
  account?: string;
  /** Substring of the sender address. */
  from?: string;
  /** Substring of the recipient address; "@example.com" matches a domain. */
  to?: string;
  hold?: boolean;
  /** Submitted: {op: '<', ms} = less than ms ago; '>' = more than ms ago. */
  submitted?: { op: '<' | '>'; ms: number };
  /** Next attempt: '<' = within ms from now (or overdue), '>' = later than ms from now. */
  nextAttempt?: { op: '<' | '>'; ms: number };
  /** Transport name; null matches messages without an override. */
  transport?: string | null;
}

export interface ListSort {
  field: 'nextAttempt' | 'queued';
  asc?: boolean;
  /** Keyset pagination: the last row of the previous page. */
  after?: { id: number; value: Date };
}

export class QueueError extends Error {
  constructor(
    readonly code: 'duplicate-fromid' | 'notfound' | 'invalid' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'QueueError';
  }
}

export interface QueueStoreOptions {
  dataDir: string;
  log?: Logger;
  clock?: () => Date;
  /** How long to keep retired messages of an account (KeepRetiredMessagePeriod), ms; 0 keeps none. */
  keepRetiredFor?: (account: string) => number;
  /**
   * Messages given as bytes and at most this large are stored inline in queue.db (msg_body) in the
   * group-commit transaction of their rows instead of as files; default DEFAULT_QUEUE_INLINE_MAX_SIZE;
   * 0 = always files.
   */
  inlineMaxSize?: number;
  /**
   * What makes a committed batch durable: fdatasync of queue.db-wal (default: store/walsync.ts on
   * `<dataDir>/queue.db-wal`). Tests wrap it to observe that nothing is acknowledged before it.
   */
  walSyncer?: { sync(): Promise<void>; close(): Promise<void> };
  /** WAL checkpoints in a worker thread instead of inside commits (the server passes its store's; queue/checkpoints.ts). */
  checkpointer?: CheckpointRequester;
}

export type Row = Record<string, unknown>;

export function rowToMsg(r: Row): QueuedMsg {
  return {
    id: r.id as number,
    baseId: r.base_id as number,
    queued: new Date(r.queued as number),
    hold: !!r.hold,
    senderAccount: r.sender_account as string,
    senderLocalpart: r.sender_localpart as string,
    senderDomain: r.sender_domain as string,
    fromId: (r.from_id as string | null) ?? null,
    recipientLocalpart: r.recipient_localpart as string,
    recipientDomain: r.recipient_domain as string,
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    nextAttempt: new Date(r.next_attempt as number),
    lastAttempt: r.last_attempt == null ? null : new Date(r.last_attempt as number),
    results: JSON.parse(r.results as string) as AttemptResult[],
    has8bit: !!r.has8bit,
    smtputf8: !!r.smtputf8,
    size: r.size as number,
    messageId: r.message_id as string,
    subject: r.subject as string,
    transport: (r.transport as string | null) ?? null,
    requireTLS: r.require_tls == null ? null : !!r.require_tls,
    futureRelease: (r.future_release as string | null) ?? null,
    extra: JSON.parse(r.extra as string) as Record<string, string>,
    dsn: JSON.parse(r.dsn as string) as DsnParams,
    delayedDsnSent: !!r.delayed_dsn_sent,
  };
}

export function rowToRetired(r: Row): RetiredMsg {
  const { hold: _h, nextAttempt: _n, delayedDsnSent: _d, ...m } = rowToMsg({ ...r, hold: 0, next_attempt: 0, delayed_dsn_sent: 0 });
  return {
    ...m,
    recipientAddress: r.recipient_address as string,
    success: !!r.success,
    outcome: r.outcome as RetiredOutcome,
    lastActivity: new Date(r.last_activity as number),
    keepUntil: new Date(r.keep_until as number),
  };
}

