// SEARCH evaluation (rfc9051:6.4.4, rfc3501:6.4.4, rfc7162:3.1.5 MODSEQ, rfc5032 WITHIN,
// rfc5182 "$", rfc8514 SAVED*): runs a parsed program against the session's view of a mailbox.
//
// Cost model: flags, keywords, sizes, dates, uids and modseqs come from one indexed scan of the
// mailbox's rows (no parse trees). TEXT/BODY use the full-text index (FTS5 trigram, see
// store/textindex.ts) after waiting for pending indexing; header keys (FROM, TO, CC, BCC, SUBJECT,
// HEADER) use the index's header column to pick candidates and then read only those messages'
// headers to check the named field. Only SENT* dates and strings shorter than 3 characters (too
// short for trigrams) read every message's header or text.

import type { Account } from '../../store/account.js';
import type { Message } from '../../store/types.js';
import { decodeHeaderValue } from '../../message/decode.js';
import { type Header, parseHeader } from '../../message/header.js';
import { type Part } from '../../message/part.js';
import { messageText, MAX_INDEX_HEADER } from '../../store/textindex.js';
import { resolveRanges, type SequenceSet } from '../seqset.js';
import type { ImapDate, SearchKey } from './types.js';

/** The session state a search depends on. */
export interface SearchContext {
  account: Account;
  mailboxId: number;
  /** The session's view: uid of sequence number i+1 at index i, ascending. */
  uids: readonly number[];
  /** IMAP4rev2 session: no \Recent, so RECENT and NEW never match and OLD always does. */
  rev2: boolean;
  /** rev1 \Recent of this session. */
  isRecent?: (uid: number) => boolean;
  /** SEARCHRES saved result (rfc5182), as uids; absent or empty: "$" matches nothing. */
  saved?: readonly number[];
  /** For OLDER/YOUNGER; defaults to the system clock. */
  now?: () => Date;
}

export interface SearchResult {
  /** Matching sequence numbers, ascending. */
  seqs: number[];
  /** Their uids, same order. */
  uids: number[];
  /** Highest modseq of the matching messages (rfc7162:3.1.5 "(MODSEQ n)"), 0 if none; only
   * computed when the program has other than TEXT/BODY keys (a MODSEQ key is one). */
  highestModseq: number;
}

/** Header reads in flight at once when header keys need messages' headers. */
const HEADER_READ_CONCURRENCY = 64;

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

/** yyyymmdd as a number, for date comparisons without time. */
const dayNum = (d: ImapDate) => d.year * 10000 + d.month * 100 + d.day;

/** The calendar date of an internal date, in UTC (the zone INTERNALDATE is shown in). */
function internalDay(d: Date): number {
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/**
 * The calendar date of a Date: header in its own zone (rfc9051:6.4.4 SENT*: "disregarding time and
 * timezone"), e.g. "Tue, 1 Jul 2003 23:52:37 -0700" is 2003-07-01. Null when unparsable.
 */
export function sentDay(value: string): number | null {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(value);
  if (!m) return null;
  const month = MONTHS[m[2]!.toLowerCase()];
  if (!month) return null;
  let year = Number(m[3]);
  // rfc5322:4.3 obsolete 2/3-digit years.
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  return year * 10000 + month * 100 + Number(m[1]);
}

function cmpDay(day: number, op: 'before' | 'on' | 'since', d: ImapDate): boolean {
  const t = dayNum(d);
  return op === 'before' ? day < t : op === 'on' ? day === t : day >= t;
}

/** An FTS5 phrase for a literal string (double quotes doubled, rfc: sqlite fts5 3.1 strings). */
function ftsPhrase(s: string): string {
  return '"' + s.replace(/"/g, '""') + '"';
}

/** Strings shorter than this cannot use the trigram index. */
const TRIGRAM = 3;

function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

type RangeCache = Map<SequenceSet, Array<[number, number]>>;

/** Whether n is in the set; "$" (rfc5182) is the saved result, kept as uids. */
function setHas(rangeCache: RangeCache, set: SequenceSet, n: number, max: number, saved: ReadonlySet<number> | null, uid: number): boolean {
  if (set.kind === 'saved') return saved ? saved.has(uid) : false;
  let rs = rangeCache.get(set);
  if (!rs) {
    rs = resolveRanges(set.ranges, max);
    rangeCache.set(set, rs);
  }
  for (const [a, b] of rs) if (n >= a && n <= b) return true;
  return false;
}

/** TEXT/BODY keys only (all must match): intersect the index's matches, map ids to the view. */
async function textSearch(ctx: SearchContext, keys: readonly SearchKey[]): Promise<SearchResult> {
  const { account, mailboxId } = ctx;
  for (let i = 0; i < 3 && (i === 0 || account.unindexedCount(mailboxId) > 0); i++) await account.indexPending();
  let ids: number[] | null = null;
  for (const k of keys) {
    if (k.kind !== 'text' && k.kind !== 'body') continue;
    const found = account.searchText(k.kind === 'text' ? ftsPhrase(k.value) : `body : ${ftsPhrase(k.value)}`);
    if (ids === null) ids = found;
    else {
      const f = new Set(found);
      ids = ids.filter((id) => f.has(id));
    }
    if (!ids.length) break;
  }
  const uidOf = account.uidsOfIds(mailboxId, ids ?? []);
  const wanted = new Set(uidOf.values());
  const res: SearchResult = { seqs: [], uids: [], highestModseq: 0 };
  if (!wanted.size) return res;
  for (let i = 0; i < ctx.uids.length; i++) {
    const uid = ctx.uids[i]!;
    if (!wanted.has(uid)) continue;
    res.seqs.push(i + 1);
    res.uids.push(uid);
  }
  // highestModseq stays 0: it is reported only for searches with a MODSEQ key (rfc7162:3.1.5).
  return res;
}

/** Evaluates a search program (all keys must match) over the session's view. */
export async function evaluateSearch(ctx: SearchContext, keys: readonly SearchKey[]): Promise<SearchResult> {
  const { account, mailboxId } = ctx;
  const all: SearchKey = keys.length === 1 ? keys[0]! : { kind: 'and', keys: [...keys] };

  // Which data the program needs.
  let needText = false;
  let needHeaders = false;
  const walk = (k: SearchKey): void => {
    switch (k.kind) {
      case 'text':
      case 'body':
        needText = true;
        break;
      case 'header':
        needHeaders = true;
        break;
      case 'date':
        if (k.which === 'sent') needHeaders = true;
        break;
      case 'not':
        walk(k.key);
        break;
      case 'or':
        walk(k.a);
        walk(k.b);
        break;
      case 'and':
        k.keys.forEach(walk);
        break;
    }
  };
  walk(all);

  // Fast path: only TEXT/BODY keys of 3+ characters (the common client search): the index gives
  // the matching ids; no rows of the mailbox need to be read.
  const textOnly = (all.kind === 'and' ? all.keys : [all]).every((k) => (k.kind === 'text' || k.kind === 'body') && chars(k.value) >= TRIGRAM);
  if (textOnly) return textSearch(ctx, all.kind === 'and' ? all.keys : [all]);

  // The rows of the mailbox (lean: flags, keywords, dates, sizes, modseqs), by uid.
  const rows = new Map<number, Message>();
  for (const m of account.imapMessages(mailboxId, null)) rows.set(m.uid, m);

  // TEXT/BODY via the full-text index; header keys get candidates from its header column.
  const ftsSets = new Map<SearchKey, Set<number> | null>();
  if (needText || needHeaders) {
    // Results must include messages delivered a moment ago: finish pending indexing first.
    for (let i = 0; i < 3 && (i === 0 || account.unindexedCount(mailboxId) > 0); i++) await account.indexPending();
    const collect = (k: SearchKey): void => {
      if (k.kind === 'text' || k.kind === 'body' || k.kind === 'header') {
        const v = k.value;
        if (chars(v) < TRIGRAM) ftsSets.set(k, null);
        else {
          const q = k.kind === 'text' ? ftsPhrase(v) : `${k.kind} : ${ftsPhrase(v)}`;
          ftsSets.set(k, new Set(account.searchText(q)));
        }
      } else if (k.kind === 'not') collect(k.key);
      else if (k.kind === 'or') {
        collect(k.a);
        collect(k.b);
      } else if (k.kind === 'and') k.keys.forEach(collect);
    };
    collect(all);
  }

  // Headers of the messages header keys need: candidates only, unless a key cannot prefilter.
  const headers = new Map<number, Header>();
  if (needHeaders) {
    let everyMessage = false;
    const want = new Set<number>();
    const gather = (k: SearchKey): void => {
      if (k.kind === 'header') {
        const s = ftsSets.get(k);
        if (!s) everyMessage = true;
        else for (const id of s) want.add(id);
      } else if (k.kind === 'date' && k.which === 'sent') everyMessage = true;
      else if (k.kind === 'not') gather(k.key);
      else if (k.kind === 'or') {
        gather(k.a);
        gather(k.b);
      } else if (k.kind === 'and') k.keys.forEach(gather);
    };
    gather(all);
    const targets: Message[] = [];
    for (const uid of ctx.uids) {
      const m = rows.get(uid);
      if (m && (everyMessage || want.has(m.id))) targets.push(m);
    }
    for (let i = 0; i < targets.length; i += HEADER_READ_CONCURRENCY) {
      await Promise.all(
        targets.slice(i, i + HEADER_READ_CONCURRENCY).map(async (m) => {
          try {
            headers.set(m.id, parseHeader(await account.readMessage(m.id, 0, Math.min(m.size, MAX_INDEX_HEADER))));
          } catch {
            // expunged meanwhile: no header, no match
          }
        }),
      );
    }
  }

  // Strings too short for trigrams: scan the text of the messages in the view.
  const shortText = new Map<number, { header: string; body: string }>();
  const needShort = [...ftsSets.entries()].some(([k, s]) => s === null && k.kind !== 'header');
  if (needShort) {
    for (const uid of ctx.uids) {
      const m = rows.get(uid);
      if (!m) continue;
      try {
        const full = account.getMessage(m.id);
        const t = await messageText((a, b) => account.readMessage(m.id, a, b), m.size, (full?.parsed as Part | undefined) ?? null);
        shortText.set(m.id, { header: t.header.toLowerCase(), body: t.body.toLowerCase() });
      } catch {
        // gone
      }
    }
  }

  const saved = ctx.saved ? new Set(ctx.saved) : null;
  const rangeCache: RangeCache = new Map();
  const maxUid = ctx.uids.length ? ctx.uids[ctx.uids.length - 1]! : 0;
  const count = ctx.uids.length;
  const now = (ctx.now ?? (() => new Date()))().getTime();

  const headerMatch = (m: Message, field: string, value: string): boolean => {
    const h = headers.get(m.id);
    if (!h) return false;
    const vals = h.getAll(field);
    if (vals.length === 0) return false;
    // rfc9051:6.4.4 HEADER with an empty string matches every message that has the field.
    if (value === '') return true;
    const needle = value.toLowerCase();
    return vals.some((v) => v.toLowerCase().includes(needle) || decodeHeaderValue(v).toLowerCase().includes(needle));
  };

  const match = (k: SearchKey, m: Message, seq: number): boolean => {
    switch (k.kind) {
      case 'all':
      case 'savedatesupported':
        return true;
      case 'flag':
        return m.flags[k.flag] === k.set;
      case 'keyword':
        return m.keywords.includes(k.keyword.toLowerCase()) === k.set;
      case 'recent':
        return !ctx.rev2 && !!ctx.isRecent?.(m.uid);
      case 'new':
        return !ctx.rev2 && !!ctx.isRecent?.(m.uid) && !m.flags.seen;
      case 'old':
        return ctx.rev2 || !ctx.isRecent?.(m.uid);
      case 'header': {
        const s = ftsSets.get(k);
        if (s && !s.has(m.id)) return false;
        return headerMatch(m, k.field, k.value);
      }
      case 'text':
      case 'body': {
        const s = ftsSets.get(k);
        if (s) return s.has(m.id);
        const t = shortText.get(m.id);
        if (!t) return false;
        const needle = k.value.toLowerCase();
        return t.body.includes(needle) || (k.kind === 'text' && t.header.includes(needle));
      }
      case 'date': {
        if (k.which === 'sent') {
          const h = headers.get(m.id);
          const v = h?.get('date');
          const d = v !== undefined ? sentDay(v) : null;
          // No usable Date: header: fall back to the internal date (as Dovecot does).
          return cmpDay(d ?? internalDay(m.receivedAt), k.op, k.date);
        }
        return cmpDay(internalDay(m.receivedAt), k.op, k.date);
      }
      case 'size':
        return k.op === 'larger' ? m.size > k.size : m.size < k.size;
      case 'seq':
        return setHas(rangeCache, k.set, seq, count, saved, m.uid);
      case 'uid':
        return setHas(rangeCache, k.set, m.uid, maxUid, saved, m.uid);
      case 'not':
        return !match(k.key, m, seq);
      case 'or':
        return match(k.a, m, seq) || match(k.b, m, seq);
      case 'and':
        for (const x of k.keys) if (!match(x, m, seq)) return false;
        return true;
      case 'modseq':
        return m.modseq >= k.modseq;
      case 'older':
        return now - m.receivedAt.getTime() > k.seconds * 1000;
      case 'younger':
        return now - m.receivedAt.getTime() <= k.seconds * 1000;
    }
  };

  const res: SearchResult = { seqs: [], uids: [], highestModseq: 0 };
  for (let i = 0; i < ctx.uids.length; i++) {
    const uid = ctx.uids[i]!;
    const m = rows.get(uid);
    if (!m) continue; // expunged but not yet reported to this session: matches nothing
    if (match(all, m, i + 1)) {
      res.seqs.push(i + 1);
      res.uids.push(uid);
      if (m.modseq > res.highestModseq) res.highestModseq = m.modseq;
    }
  }
  return res;
}
