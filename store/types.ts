/** Shared types of the account store. */

/** IMAP system flags (RFC 9051 §2.3.2). \Recent is not stored, see store/README.md. */
export interface Flags {
  seen: boolean;
  answered: boolean;
  flagged: boolean;
  deleted: boolean;
  draft: boolean;
}

export type FlagName = keyof Flags;

export const FLAG_BITS: Record<FlagName, number> = { seen: 1, answered: 2, flagged: 4, deleted: 8, draft: 16 };
export const FLAG_NAMES = Object.keys(FLAG_BITS) as FlagName[];

export function flagsFromBits(bits: number): Flags {
  return {
    seen: (bits & 1) !== 0,
    answered: (bits & 2) !== 0,
    flagged: (bits & 4) !== 0,
    deleted: (bits & 8) !== 0,
    draft: (bits & 16) !== 0,
  };
}

export function flagsToBits(flags: Iterable<FlagName> | Partial<Flags>): number {
  let b = 0;
  if (Symbol.iterator in Object(flags)) {
    for (const f of flags as Iterable<FlagName>) b |= FLAG_BITS[f] ?? 0;
  } else {
    for (const [k, v] of Object.entries(flags as Partial<Flags>)) if (v) b |= FLAG_BITS[k as FlagName] ?? 0;
  }
  return b;
}

/** Special-use attributes (RFC 6154) we assign. */
export type SpecialUse = '\\Sent' | '\\Archive' | '\\Trash' | '\\Drafts' | '\\Junk';
export const SPECIAL_USES: readonly SpecialUse[] = ['\\Sent', '\\Archive', '\\Trash', '\\Drafts', '\\Junk'];

export interface Mailbox {
  id: number;
  /** Hierarchy separated by '/'; "Inbox" is always spelled so. */
  name: string;
  specialUse: SpecialUse | null;
  uidValidity: number;
  uidNext: number;
  subscribed: boolean;
  /** Non-expunged messages. */
  total: number;
  unseen: number;
  deleted: number;
  /** Sum of message sizes. */
  size: number;
  highestModseq: number;
  /** Keywords ever used in the mailbox (for FLAGS / PERMANENTFLAGS). */
  keywords: string[];
}

/** A message row. `parsed` and `meta` are only filled by getMessage / listMessages({full}). */
export interface Message {
  id: number;
  mailboxId: number;
  uid: number;
  modseq: number;
  createSeq: number;
  flags: Flags;
  /** Lower-cased IMAP keywords. */
  keywords: string[];
  receivedAt: Date;
  size: number;
  messageId: string;
  subject: string;
  mailFrom: string;
  rcptTo: string;
  remoteIp: string;
  /** Tombstone: kept for QRESYNC VANISHED; its file is gone. */
  expunged: boolean;
  /** Parsed MIME structure computed by message/ (opaque here). */
  parsed?: unknown;
  /** Auth verdicts etc. (opaque). */
  meta?: unknown;
  /**
   * IMAP ENVELOPE and BODYSTRUCTURE, preformatted at delivery (store/imapcache.ts). Filled by
   * getMessage / listMessages({full}) / listMessages({imap}); null for messages delivered without
   * a parse tree or before store migration 3 (compute them from `parsed` then).
   */
  imapEnvelope?: string | null;
  imapBodyStructure?: string | null;
}

/** Typed store errors; `code` lets protocol layers map them (e.g. quota → SMTP 552 5.2.2). */
export class StoreError extends Error {
  constructor(
    readonly code: 'notfound' | 'exists' | 'invalid' | 'quota' | 'haschildren' | 'notallowed' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export class QuotaExceededError extends StoreError {
  constructor(
    readonly used: number,
    readonly limit: number,
    readonly size: number,
  ) {
    super('quota', `quota exceeded: ${used} + ${size} > ${limit} bytes`);
    this.name = 'QuotaExceededError';
  }
}

export class MailboxNotFoundError extends StoreError {
  constructor(readonly mailbox: string | number) {
    super('notfound', `mailbox not found: ${String(mailbox)}`);
    this.name = 'MailboxNotFoundError';
  }
}
