// The SEARCH key AST (rfc9051:6.4.4 and 9 "search-key", rfc3501:6.4.4 incl. the rev1-only keys
// NEW/OLD/RECENT, rfc7162:3.1.5 MODSEQ, rfc5032 OLDER/YOUNGER, rfc8514 SAVEDBEFORE/SAVEDON/
// SAVEDSINCE). The command parser (imap/protocol/) fills these; imap/search/ evaluates them.
// Plain data. The search program is a list of keys that must all match (rfc9051:6.4.4).

import type { SequenceSet } from '../seqset.js';
import type { FlagName } from '../../store/types.js';

/** A date without time or zone (rfc9051:9 "date"), e.g. 1-Feb-1994 → {year: 1994, month: 2, day: 1}. */
export interface ImapDate {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
}

export type SearchKey =
  /** ALL */
  | { kind: 'all' }
  /**
   * System flag keys: ANSWERED/UNANSWERED, DELETED/UNDELETED, DRAFT/UNDRAFT, FLAGGED/UNFLAGGED,
   * SEEN/UNSEEN (`set` false for the UN- forms).
   */
  | { kind: 'flag'; flag: FlagName; set: boolean }
  /** KEYWORD x / UNKEYWORD x (matched case-insensitively, keywords are stored lower-case). */
  | { kind: 'keyword'; keyword: string; set: boolean }
  /** rev1: RECENT, NEW (= RECENT UNSEEN), OLD (= NOT RECENT). rev2 sessions never match RECENT. */
  | { kind: 'recent' }
  | { kind: 'new' }
  | { kind: 'old' }
  /**
   * BCC/CC/FROM/SUBJECT/TO x (field is 'bcc', 'cc', 'from', 'subject', 'to') and HEADER field x:
   * messages with that header field whose (decoded) value contains x, case-insensitively. For
   * HEADER with an empty value, every message that has the field matches (rfc9051:6.4.4).
   * `field` is as sent; compare case-insensitively.
   */
  | { kind: 'header'; field: string; value: string }
  /** BODY x: x in the body text (not the header); TEXT x: in header or body. Case-insensitive. */
  | { kind: 'body'; value: string }
  | { kind: 'text'; value: string }
  /**
   * BEFORE/ON/SINCE (internal date), SENTBEFORE/SENTON/SENTSINCE (Date: header), rfc8514
   * SAVEDBEFORE/SAVEDON/SAVEDSINCE (save date). Dates compare without time and timezone
   * (rfc9051:6.4.4): internal date in the server's reckoning, Date: header in its own zone.
   */
  | { kind: 'date'; which: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since'; date: ImapDate }
  /** LARGER n / SMALLER n (RFC822.SIZE strictly greater / smaller). */
  | { kind: 'size'; op: 'larger' | 'smaller'; size: number }
  /** A sequence set of message sequence numbers (including '$' for the saved result). */
  | { kind: 'seq'; set: SequenceSet }
  /** UID sequence-set (including 'UID $'). */
  | { kind: 'uid'; set: SequenceSet }
  /** NOT key */
  | { kind: 'not'; key: SearchKey }
  /** OR key1 key2 */
  | { kind: 'or'; a: SearchKey; b: SearchKey }
  /** "(" key *(SP key) ")": all must match. */
  | { kind: 'and'; keys: SearchKey[] }
  /**
   * rfc7162:3.1.5 MODSEQ [entry-name entry-type-req] mod-sequence-valzer: messages with modseq
   * ≥ n. The entry name/type (per-flag modseq) are parsed and ignored, like most servers.
   */
  | { kind: 'modseq'; modseq: number; entry?: { name: string; type: 'priv' | 'shared' | 'all' } }
  /** rfc5032 WITHIN: OLDER n / YOUNGER n (internal date more / at most n seconds ago). */
  | { kind: 'older'; seconds: number }
  | { kind: 'younger'; seconds: number }
  /** rfc8514 SAVEDATESUPPORTED: true in every mailbox here. */
  | { kind: 'savedatesupported' };

export type SearchKind = SearchKey['kind'];

/** A parsed SEARCH command's criteria: all keys must match. `charset` as given (UTF-8/US-ASCII). */
export interface SearchProgram {
  charset?: string;
  keys: SearchKey[];
}
