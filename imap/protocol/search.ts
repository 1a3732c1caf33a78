/**
 * SEARCH key parsing (rfc9051:6.4.4 and 9 "search-key", rfc3501 rev1 keys, rfc7162:3.1.5 MODSEQ,
 * rfc5032 OLDER/YOUNGER, rfc8514 SAVED*) into imap/search/types.ts SearchKey values.
 */
import type { FlagName } from '../../store/types.js';
import type { SearchKey } from '../search/types.js';
import type { Parser } from './parser.js';

/** Nesting limit for parenthesised keys and NOT/OR (a deeply nested command is an attack). */
export const MAX_SEARCH_DEPTH = 100;

const FLAG_KEYS: Record<string, [FlagName, boolean]> = {
  ANSWERED: ['answered', true],
  UNANSWERED: ['answered', false],
  DELETED: ['deleted', true],
  UNDELETED: ['deleted', false],
  DRAFT: ['draft', true],
  UNDRAFT: ['draft', false],
  FLAGGED: ['flagged', true],
  UNFLAGGED: ['flagged', false],
  SEEN: ['seen', true],
  UNSEEN: ['seen', false],
};

export function parseSearchKey(p: Parser, depth = 0): SearchKey {
  if (depth > MAX_SEARCH_DEPTH) throw p.error('search too deeply nested');
  if (p.take('(')) {
    const keys: SearchKey[] = [parseSearchKey(p, depth + 1)];
    while (p.takeSp()) keys.push(parseSearchKey(p, depth + 1));
    p.expect(')');
    return { kind: 'and', keys };
  }
  const c = p.peek();
  if (c === 0x24 /* $ */ || c === 0x2a /* * */ || (c >= 0x31 && c <= 0x39)) return { kind: 'seq', set: p.sequenceSet() };
  const word = p.atom().toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { kind: 'flag', flag: flag[0], set: flag[1] };
  switch (word) {
    case 'ALL':
      return { kind: 'all' };
    case 'RECENT':
      return { kind: 'recent' };
    case 'NEW':
      return { kind: 'new' };
    case 'OLD':
      return { kind: 'old' };
    case 'KEYWORD':
    case 'UNKEYWORD':
      p.sp();
      return { kind: 'keyword', keyword: p.atom(), set: word === 'KEYWORD' };
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'SUBJECT':
    case 'TO':
      p.sp();
      return { kind: 'header', field: word.toLowerCase(), value: p.astring() };
    case 'HEADER': {
      p.sp();
      const field = p.astring();
      p.sp();
      return { kind: 'header', field, value: p.astring() };
    }
    case 'BODY':
      p.sp();
      return { kind: 'body', value: p.astring() };
    case 'TEXT':
      p.sp();
      return { kind: 'text', value: p.astring() };
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      p.sp();
      return { kind: 'date', which: 'internal', op: word.toLowerCase() as 'before', date: p.date() };
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      p.sp();
      return { kind: 'date', which: 'sent', op: word.slice(4).toLowerCase() as 'before', date: p.date() };
    case 'SAVEDBEFORE':
    case 'SAVEDON':
    case 'SAVEDSINCE':
      p.sp();
      return { kind: 'date', which: 'saved', op: word.slice(5).toLowerCase() as 'before', date: p.date() };
    case 'SAVEDATESUPPORTED':
      return { kind: 'savedatesupported' };
    case 'LARGER':
    case 'SMALLER':
      p.sp();
      return { kind: 'size', op: word.toLowerCase() as 'larger', size: p.number64() };
    case 'UID':
      p.sp();
      return { kind: 'uid', set: p.sequenceSet() };
    case 'NOT':
      p.sp();
      return { kind: 'not', key: parseSearchKey(p, depth + 1) };
    case 'OR': {
      p.sp();
      const a = parseSearchKey(p, depth + 1);
      p.sp();
      return { kind: 'or', a, b: parseSearchKey(p, depth + 1) };
    }
    case 'MODSEQ': {
      // rfc7162:3.1.5 "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
      p.sp();
      let entry: { name: string; type: 'priv' | 'shared' | 'all' } | undefined;
      if (p.isString()) {
        const name = p.string();
        p.sp();
        const t = p.atom().toLowerCase();
        if (t !== 'priv' && t !== 'shared' && t !== 'all') throw p.error('bad entry type');
        p.sp();
        entry = { name, type: t };
      }
      return { kind: 'modseq', modseq: p.number64(), ...(entry ? { entry } : {}) };
    }
    case 'OLDER':
    case 'YOUNGER':
      p.sp();
      return word === 'OLDER' ? { kind: 'older', seconds: p.nzNumber() } : { kind: 'younger', seconds: p.nzNumber() };
    default:
      throw p.error(`unknown search key ${word.slice(0, 40)}`);
  }
}
