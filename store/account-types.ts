/**
 * The public types and limits of an account's store (store/account.ts): what callers pass to and
 * get from Account. Kept apart from the implementation so the API reads on one page.
 */
import type { Checkpointer } from './checkpointer.js';
import type { FtsIndexer } from './fts-indexer.js';
import type { Logger } from '../log/logger.js';
import type { DirMaker, DirSyncer } from './msgfile.js';
import type { ChangeBus } from './changes.js';
import type { FlagName, Flags, Message, SpecialUse } from './types.js';
import type { AccountDelivery } from './account-delivery.js';

/** Default mailboxes of a new account (mox's set), with their special-use attributes. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'Inbox', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Archive', specialUse: '\\Archive' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Junk', specialUse: '\\Junk' },
];

/** Longest mailbox name we accept (bytes of UTF-16 code units; mox limits similarly). */
export const MAX_MAILBOX_NAME = 1000;
/** Largest UID (RFC 9051: 32-bit unsigned, non-zero). */
export const MAX_UID = 0xffffffff;

/** Which uids: single uids and inclusive [from, to] ranges (to may be Infinity for "*"). */
export type UidSet = ReadonlyArray<number | readonly [number, number]>;

export interface DeliverOptions {
  /** Mailbox name or id. By name, a missing mailbox is created unless create is false. */
  mailbox: string | number;
  /** Create a missing mailbox given by name (default true for deliver, false for append). */
  create?: boolean;
  /** Message bytes, or a temp file the caller wrote (it is hard-linked; the caller removes it). */
  data: Uint8Array | { tempPath: string; size?: number; synced?: boolean };
  receivedAt?: Date;
  flags?: FlagName[];
  keywords?: string[];
  parsed?: unknown;
  meta?: unknown;
  messageId?: string;
  subject?: string;
  mailFrom?: string;
  rcptTo?: string;
  remoteIp?: string;
}

export interface Delivered {
  id: number;
  uid: number;
  mailboxId: number;
  modseq: number;
}

export interface FlagUpdate {
  /** add: set these; remove: clear these; replace: exactly these (system flags and keywords). */
  mode: 'add' | 'remove' | 'replace';
  flags?: FlagName[];
  keywords?: string[];
  /** CONDSTORE UNCHANGEDSINCE: messages with a higher modseq are not changed but reported. */
  unchangedSince?: number;
}

export interface FlagResult {
  /** Modseq given to changed messages, or null if nothing changed. */
  modseq: number | null;
  changed: Array<{ id: number; uid: number; flags: Flags; keywords: string[]; modseq: number }>;
  /** UIDs not changed because their modseq > unchangedSince (RFC 7162 MODIFIED). */
  failed: number[];
}

export interface CopyResult {
  uidValidity: number;
  mailboxId: number;
  /** Source and destination uids, same order (UIDPLUS COPYUID). */
  srcUids: number[];
  dstUids: number[];
  modseq: number | null;
}

export interface ExpungeResult {
  uids: number[];
  modseq: number | null;
}

export interface Changes {
  highestModseq: number;
  /** Live messages with modseq > the given one. */
  changed: Message[];
  /** UIDs expunged with modseq > the given one (QRESYNC VANISHED). */
  vanished: number[];
}

/** What Account needs from the Store that owns it. */
export interface AccountContext {
  dataDir: string;
  log: Logger;
  clock: () => Date;
  bus: ChangeBus;
  syncer: DirSyncer;
  dirs: DirMaker;
  /** Quota in bytes for the account's messages; 0 or undefined: unlimited. */
  quotaLimit: (account: string) => number | undefined;
  /** Messages given as bytes up to this size are stored in index.db, not as files (0: never). */
  inlineMaxSize: number;
  scheduleFlush: (account: AccountDelivery) => void;
  /**
   * Take one of the Store's WAL-fsync slots before committing a batch (false: none free; the
   * account is queued and flushed again when one is handed to it). Bounding concurrent fsyncs
   * makes batches grow under load instead of the number of fsyncs.
   */
  acquireSyncSlot: (account: AccountDelivery) => boolean;
  releaseSyncSlot: () => void;
  /**
   * Runs WAL checkpoints in a worker thread (store/checkpointer.ts). When it is available the
   * account turns SQLite's automatic checkpoint off and asks it instead.
   */
  checkpointer?: Checkpointer;
  /** Fills the full-text index in a worker thread (store/fts-indexer.ts); else on the event loop. */
  ftsIndexer?: FtsIndexer;
  /** When to index new messages (StoreOptions.indexIdleMs etc.; store/README.md "Deferred indexing"). */
  indexPolicy?: IndexPolicy;
  /** Called after each delivery batch's WAL fsync: rows, commit and fsync milliseconds (Store.deliveryStats). */
  noteBatch?: (rows: number, commitMs: number, syncMs: number) => void;
}

/** Deferred full-text indexing: index when deliveries pause, within bounds. */
export interface IndexPolicy {
  /** Index once no delivery batch was flushed for this long (0: at once). */
  idleMs: number;
  /** Index anyway once the oldest unindexed delivery waited this long. */
  maxDelayMs: number;
  /** Index anyway once this many messages wait. */
  maxBacklog: number;
  /** Milliseconds since the Store last flushed a delivery batch (any account). */
  sinceLastDelivery: () => number;
}
