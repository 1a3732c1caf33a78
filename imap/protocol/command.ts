/**
 * IMAP commands as typed values, and `parseCommand` from an assembled command (reader.ts) to one
 * (rfc9051:6 and 9, rfc3501:6, plus the extension syntax we implement: rfc5161 ENABLE, rfc4959
 * SASL-IR, rfc7162 CONDSTORE/QRESYNC, rfc5258 LIST-EXTENDED, rfc5819 LIST-STATUS, rfc6154
 * SPECIAL-USE, rfc4731 ESEARCH, rfc5182 SEARCHRES, rfc6851 MOVE, rfc4315 UIDPLUS, rfc3502
 * MULTIAPPEND, rfc3516 BINARY, rfc2971 ID, rfc9208 QUOTA, rfc2342 NAMESPACE).
 *
 * Errors are ImapError BAD; `tag` is set on the error result when the tag could be read, so the
 * session answers "<tag> BAD" (connection kept) or "* BAD" when it could not.
 */
import { ImapError } from '../errors.js';
import { Parser } from './parser.js';
import type { SequenceSet } from '../seqset.js';
import { expandFetchMacro, type FetchAtt, type Section } from '../fetch/types.js';
import type { SearchKey, SearchProgram } from '../search/types.js';
import { parseSearchKey } from './search.js';

export type StatusAtt = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'RECENT' | 'HIGHESTMODSEQ' | 'APPENDLIMIT';
const STATUS_ATTS = new Set<string>(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT']);

export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids?: SequenceSet;
  seqMatch?: { seqs: SequenceSet; uids: SequenceSet };
}

export interface AppendMessage {
  flags: string[];
  date?: Date;
  data: Buffer;
  /** Sent as literal8 (rfc3516:4.4, may contain NUL). */
  binary: boolean;
}

export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export type Command =
  | { name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE' }
  | { name: 'EXPUNGE' }
  | { name: 'UID EXPUNGE'; set: SequenceSet }
  | { name: 'ENABLE'; caps: string[] }
  | { name: 'LOGIN'; username: string; password: string }
  | { name: 'AUTHENTICATE'; mechanism: string; initial: string | null }
  | { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync?: QresyncParams }
  | { name: 'CREATE'; mailbox: string; specialUse: string[] }
  | { name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }
  | { name: 'RENAME'; from: string; to: string }
  | {
      name: 'LIST';
      reference: string;
      patterns: string[];
      /** rfc5258 selection options, upper-case. */
      select: string[];
      /** rfc5258 return options, upper-case (STATUS separately). */
      ret: string[];
      status?: StatusAtt[];
      /** Extended syntax used (affects response form, rfc5258:3). */
      extended: boolean;
    }
  | { name: 'LSUB'; reference: string; pattern: string }
  | { name: 'STATUS'; mailbox: string; atts: StatusAtt[] }
  | { name: 'APPEND'; mailbox: string; messages: AppendMessage[] }
  | { name: 'SEARCH'; uid: boolean; ret?: SearchReturn[]; program: SearchProgram }
  | { name: 'FETCH'; uid: boolean; set: SequenceSet; atts: FetchAtt[]; changedSince?: number; vanished: boolean }
  | {
      name: 'STORE';
      uid: boolean;
      set: SequenceSet;
      mode: 'add' | 'remove' | 'replace';
      silent: boolean;
      flags: string[];
      unchangedSince?: number;
    }
  | { name: 'COPY' | 'MOVE'; uid: boolean; set: SequenceSet; mailbox: string }
  | { name: 'ID'; params: Array<[string, string | null]> | null }
  | { name: 'GETQUOTA'; root: string }
  | { name: 'GETQUOTAROOT'; mailbox: string }
  | { name: 'SETQUOTA'; root: string };

export type CommandName = Command['name'];

export type ParseResult =
  | { ok: true; tag: string; command: Command }
  /** tag undefined: untagged "* BAD". name: the command word if it was read. */
  | { ok: false; tag: string | undefined; name?: string; error: ImapError };

/** Parses an assembled command (with CRLF and inline literals). Never throws. */
export function parseCommand(data: Buffer, opts: { utf8?: boolean } = {}): ParseResult {
  const p = new Parser(data);
  let tag: string | undefined;
  let name: string | undefined;
  try {
    tag = p.tag();
    p.sp();
    name = p.atom().toUpperCase();
    const command = parseArgs(p, name, opts);
    p.expectEnd();
    return { ok: true, tag, command };
  } catch (err) {
    const error = err instanceof ImapError ? err : new ImapError('BAD', undefined, 'syntax error');
    return { ok: false, tag, name, error };
  }
}

function mailbox(p: Parser): string {
  return p.astring();
}

function parseArgs(p: Parser, name: string, opts: { utf8?: boolean }): Command {
  switch (name) {
    case 'CAPABILITY':
    case 'NOOP':
    case 'LOGOUT':
    case 'STARTTLS':
    case 'CHECK':
    case 'CLOSE':
    case 'UNSELECT':
    case 'IDLE':
    case 'NAMESPACE':
    case 'EXPUNGE':
      return { name };
    case 'ENABLE': {
      const caps: string[] = [];
      do {
        p.sp();
        caps.push(p.atom().toUpperCase());
      } while (!p.atEnd());
      return { name, caps };
    }
    case 'LOGIN': {
      p.sp();
      const username = p.astring();
      p.sp();
      const password = p.astring();
      return { name, username, password };
    }
    case 'AUTHENTICATE': {
      p.sp();
      const mechanism = p.atom().toUpperCase();
      let initial: string | null = null;
      if (p.takeSp()) {
        // rfc4959: base64 or "=" for an empty initial response.
        const start = p.pos;
        while (!p.atEnd()) p.pos++;
        initial = p.buf.toString('latin1', start, p.pos);
        if (!/^(?:[A-Za-z0-9+/]+=*|=)$/.test(initial)) throw p.error('bad initial response');
      }
      return { name, mechanism, initial };
    }
    case 'SELECT':
    case 'EXAMINE': {
      p.sp();
      const mb = mailbox(p);
      let condstore = false;
      let qresync: QresyncParams | undefined;
      if (p.takeSp()) {
        p.expect('(');
        for (;;) {
          if (p.takeWord('CONDSTORE')) condstore = true;
          else if (p.takeWord('QRESYNC')) {
            // rfc7162:3.2.5 "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
            p.sp();
            p.expect('(');
            const uidValidity = p.nzNumber();
            p.sp();
            const modseq = p.number64();
            const q: QresyncParams = { uidValidity, modseq };
            if (p.takeSp()) {
              if (!p.peekChar('(')) {
                q.knownUids = p.sequenceSet(false);
                if (p.takeSp()) q.seqMatch = seqMatch(p);
              } else q.seqMatch = seqMatch(p);
            }
            p.expect(')');
            qresync = q;
          } else throw p.error('unknown select parameter');
          if (p.take(')')) break;
          p.sp();
        }
      }
      return { name, mailbox: mb, condstore, ...(qresync ? { qresync } : {}) };
    }
    case 'CREATE': {
      p.sp();
      const mb = mailbox(p);
      const specialUse: string[] = [];
      if (p.takeSp()) {
        // rfc6154:3 create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"
        p.expect('(');
        for (;;) {
          if (!p.takeWord('USE')) throw p.error('unknown create parameter');
          p.sp();
          specialUse.push(...p.flagList());
          if (p.take(')')) break;
          p.sp();
        }
      }
      return { name, mailbox: mb, specialUse };
    }
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      p.sp();
      return { name, mailbox: mailbox(p) };
    case 'RENAME': {
      p.sp();
      const from = mailbox(p);
      p.sp();
      return { name, from, to: mailbox(p) };
    }
    case 'LIST':
      return parseList(p);
    case 'LSUB': {
      p.sp();
      const reference = mailbox(p);
      p.sp();
      return { name, reference, pattern: p.listMailbox() };
    }
    case 'STATUS': {
      p.sp();
      const mb = mailbox(p);
      p.sp();
      return { name, mailbox: mb, atts: statusAtts(p) };
    }
    case 'APPEND':
      return parseAppend(p);
    case 'SEARCH':
      return parseSearch(p, false, opts);
    case 'FETCH':
      return parseFetch(p, false);
    case 'STORE':
      return parseStore(p, false);
    case 'COPY':
    case 'MOVE': {
      p.sp();
      const set = p.sequenceSet();
      p.sp();
      return { name, uid: false, set, mailbox: mailbox(p) };
    }
    case 'UID': {
      p.sp();
      const sub = p.atom().toUpperCase();
      switch (sub) {
        case 'SEARCH':
          return parseSearch(p, true, opts);
        case 'FETCH':
          return parseFetch(p, true);
        case 'STORE':
          return parseStore(p, true);
        case 'COPY':
        case 'MOVE': {
          p.sp();
          const set = p.sequenceSet();
          p.sp();
          return { name: sub, uid: true, set, mailbox: mailbox(p) };
        }
        case 'EXPUNGE':
          p.sp();
          return { name: 'UID EXPUNGE', set: p.sequenceSet() };
        default:
          throw p.error(`unknown UID command ${sub}`);
      }
    }
    case 'ID': {
      // rfc2971:3.3 id = "ID" SP id-params-list; id-params-list = "(" *(string SP nstring) ")" / nil
      p.sp();
      if (p.takeWord('NIL')) return { name, params: null };
      p.expect('(');
      const params: Array<[string, string | null]> = [];
      if (!p.take(')')) {
        for (;;) {
          const k = p.string();
          p.sp();
          params.push([k, p.nstring()]);
          if (p.take(')')) break;
          p.sp();
        }
      }
      return { name, params };
    }
    case 'GETQUOTA':
      p.sp();
      return { name, root: p.astring() };
    case 'GETQUOTAROOT':
      p.sp();
      return { name, mailbox: mailbox(p) };
    case 'SETQUOTA': {
      p.sp();
      const root = p.astring();
      p.sp();
      // rfc9208:4.2 "(" [setquota-resource *(SP setquota-resource)] ")"
      p.expect('(');
      while (!p.take(')')) {
        p.atom();
        p.sp();
        p.number64();
        p.takeSp();
      }
      return { name, root };
    }
    default:
      throw new ImapError('BAD', undefined, `unknown command ${name.slice(0, 40)}`);
  }
}

function seqMatch(p: Parser): { seqs: SequenceSet; uids: SequenceSet } {
  p.expect('(');
  const seqs = p.sequenceSet(false);
  p.sp();
  const uids = p.sequenceSet(false);
  p.expect(')');
  return { seqs, uids };
}

function statusAtts(p: Parser): StatusAtt[] {
  p.expect('(');
  const out: StatusAtt[] = [];
  for (;;) {
    const a = p.atom().toUpperCase();
    if (!STATUS_ATTS.has(a)) throw p.error(`unknown status attribute ${a.slice(0, 40)}`);
    out.push(a as StatusAtt);
    if (p.take(')')) return out;
    p.sp();
  }
}

function parseList(p: Parser): Command {
  p.sp();
  const select: string[] = [];
  let extended = false;
  // rfc5258:3 list-select-opts
  if (p.peekChar('(')) {
    extended = true;
    p.pos++;
    if (!p.take(')')) {
      for (;;) {
        select.push(p.atom().toUpperCase());
        if (p.take(')')) break;
        p.sp();
      }
    }
    p.sp();
  }
  const reference = p.astring();
  p.sp();
  const patterns: string[] = [];
  if (p.peekChar('(')) {
    extended = true;
    p.pos++;
    for (;;) {
      patterns.push(p.listMailbox());
      if (p.take(')')) break;
      p.sp();
    }
  } else patterns.push(p.listMailbox());
  const ret: string[] = [];
  let status: StatusAtt[] | undefined;
  if (p.takeSp()) {
    extended = true;
    p.expect('RETURN');
    p.sp();
    p.expect('(');
    if (!p.take(')')) {
      for (;;) {
        const o = p.atom().toUpperCase();
        if (o === 'STATUS') {
          // rfc5819:2
          p.sp();
          status = statusAtts(p);
        } else ret.push(o);
        if (p.take(')')) break;
        p.sp();
      }
    }
  }
  return { name: 'LIST', reference, patterns, select, ret, ...(status ? { status } : {}), extended };
}

function parseAppend(p: Parser): Command {
  p.sp();
  const mb = mailbox(p);
  const messages: AppendMessage[] = [];
  // rfc3502:6 MULTIAPPEND: 1*append-message
  while (p.takeSp()) {
    let flags: string[] = [];
    let date: Date | undefined;
    if (p.peekChar('(')) {
      flags = p.flagList();
      p.sp();
    }
    if (p.peekChar('"')) {
      date = p.dateTime();
      p.sp();
    }
    const binary = p.peekChar('~');
    if (!p.peekChar('{') && !binary) throw p.error('expected literal with message');
    const data = p.stringBytes();
    messages.push({ flags, ...(date ? { date } : {}), data, binary });
  }
  if (!messages.length) throw p.error('expected message');
  return { name: 'APPEND', mailbox: mb, messages };
}

function parseStore(p: Parser, uid: boolean): Command {
  p.sp();
  const set = p.sequenceSet();
  p.sp();
  let unchangedSince: number | undefined;
  if (p.peekChar('(')) {
    // rfc7162:3.1.3 store-modifier
    p.pos++;
    for (;;) {
      if (!p.takeWord('UNCHANGEDSINCE')) throw p.error('unknown store modifier');
      p.sp();
      unchangedSince = p.number64();
      if (p.take(')')) break;
      p.sp();
    }
    p.sp();
  }
  let mode: 'add' | 'remove' | 'replace' = 'replace';
  if (p.take('+')) mode = 'add';
  else if (p.take('-')) mode = 'remove';
  p.expect('FLAGS');
  const silent = p.take('.SILENT');
  p.sp();
  let flags: string[];
  if (p.peekChar('(')) flags = p.flagList();
  else {
    flags = [p.flag()];
    while (p.takeSp()) flags.push(p.flag());
  }
  return { name: 'STORE', uid, set, mode, silent, flags, ...(unchangedSince !== undefined ? { unchangedSince } : {}) };
}

function parseSearch(p: Parser, uid: boolean, opts: { utf8?: boolean }): Command {
  void opts;
  p.sp();
  let ret: SearchReturn[] | undefined;
  // rfc4731:3 search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
  if (p.takeWord('RETURN')) {
    p.sp();
    p.expect('(');
    ret = [];
    if (!p.take(')')) {
      for (;;) {
        const o = p.atom().toUpperCase();
        if (o !== 'MIN' && o !== 'MAX' && o !== 'ALL' && o !== 'COUNT' && o !== 'SAVE') throw p.error(`unknown search return option ${o.slice(0, 40)}`);
        ret.push(o);
        if (p.take(')')) break;
        p.sp();
      }
    }
    p.sp();
  }
  let charset: string | undefined;
  if (p.takeWord('CHARSET')) {
    p.sp();
    charset = p.astring();
    p.sp();
  }
  const keys: SearchKey[] = [parseSearchKey(p)];
  while (p.takeSp()) keys.push(parseSearchKey(p));
  return { name: 'SEARCH', uid, ...(ret ? { ret } : {}), program: { ...(charset ? { charset } : {}), keys } };
}

function parseFetch(p: Parser, uid: boolean): Command {
  p.sp();
  const set = p.sequenceSet();
  p.sp();
  let atts: FetchAtt[];
  if (p.takeWord('ALL')) atts = expandFetchMacro('ALL');
  else if (p.takeWord('FAST')) atts = expandFetchMacro('FAST');
  else if (p.takeWord('FULL')) atts = expandFetchMacro('FULL');
  else if (p.take('(')) {
    atts = [];
    for (;;) {
      atts.push(fetchAtt(p));
      if (p.take(')')) break;
      p.sp();
    }
  } else atts = [fetchAtt(p)];
  let changedSince: number | undefined;
  let vanished = false;
  if (p.takeSp()) {
    // rfc7162:3.1.4.1 / 3.2.6 fetch-modifier
    p.expect('(');
    for (;;) {
      if (p.takeWord('CHANGEDSINCE')) {
        p.sp();
        changedSince = p.number64();
      } else if (p.takeWord('VANISHED')) vanished = true;
      else throw p.error('unknown fetch modifier');
      if (p.take(')')) break;
      p.sp();
    }
  }
  // rfc7162:3.2.6 VANISHED needs CHANGEDSINCE and UID FETCH.
  if (vanished && (!uid || changedSince === undefined)) throw p.error('VANISHED needs UID FETCH with CHANGEDSINCE');
  return { name: 'FETCH', uid, set, atts, ...(changedSince !== undefined ? { changedSince } : {}), vanished };
}

function partPath(p: Parser): number[] {
  const part: number[] = [];
  while (p.peek() >= 0x31 && p.peek() <= 0x39) {
    part.push(p.nzNumber());
    if (!p.take('.')) break;
  }
  return part;
}

function partial(p: Parser): { offset: number; count: number } | undefined {
  if (!p.take('<')) return undefined;
  const offset = p.number();
  p.expect('.');
  const count = p.nzNumber();
  p.expect('>');
  return { offset, count };
}

function section(p: Parser): Section {
  p.expect('[');
  const start = p.pos;
  const part = partPath(p);
  // partPath consumed a trailing "." before a text spec; with no number it consumed nothing.
  const s: Section = { part };
  if (!p.take(']')) {
    if (part.length && p.buf[p.pos - 1] !== 0x2e) throw p.error('bad section');
    if (p.takeWord('HEADER.FIELDS.NOT') || p.takeWord('HEADER.FIELDS')) {
      const word = p.buf.toString('latin1', start, p.pos).toUpperCase();
      s.text = word.endsWith('.NOT') ? 'HEADER.FIELDS.NOT' : 'HEADER.FIELDS';
      p.sp();
      p.expect('(');
      const fields: string[] = [];
      for (;;) {
        fields.push(p.astring());
        if (p.take(')')) break;
        p.sp();
      }
      s.fields = fields;
    } else if (p.takeWord('HEADER')) s.text = 'HEADER';
    else if (p.takeWord('TEXT')) s.text = 'TEXT';
    else if (p.takeWord('MIME')) {
      if (!part.length) throw p.error('MIME needs a part number');
      s.text = 'MIME';
    } else throw p.error('bad section');
    p.expect(']');
  }
  return s;
}

function fetchAtt(p: Parser): FetchAtt {
  const save = p.pos;
  // Longest names first.
  if (p.take('BODY.PEEK[') || p.take('BODY[')) {
    const peek = p.buf.toString('latin1', save, save + 5).toUpperCase() === 'BODY.';
    p.pos--;
    const sec = section(p);
    const part = partial(p);
    return { kind: 'BODY[]', section: sec, peek, ...(part ? { partial: part } : {}) };
  }
  if (p.take('BINARY.PEEK[') || p.take('BINARY[')) {
    const peek = p.buf.toString('latin1', save, save + 7).toUpperCase() === 'BINARY.';
    const part = partPath(p);
    p.expect(']');
    const pr = partial(p);
    return { kind: 'BINARY[]', part, peek, ...(pr ? { partial: pr } : {}) };
  }
  if (p.take('BINARY.SIZE[')) {
    const part = partPath(p);
    p.expect(']');
    return { kind: 'BINARY.SIZE', part };
  }
  const word = p.atom().toUpperCase();
  switch (word) {
    case 'UID':
    case 'FLAGS':
    case 'INTERNALDATE':
    case 'RFC822.SIZE':
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
    case 'ENVELOPE':
    case 'BODY':
    case 'BODYSTRUCTURE':
    case 'MODSEQ':
    case 'SAVEDATE':
      return { kind: word };
    case 'PREVIEW': {
      let lazy = false;
      if (p.peekChar(' ') && p.buf.toString('latin1', p.pos, p.pos + 7).toUpperCase() === ' (LAZY)') {
        p.pos += 7;
        lazy = true;
      }
      return { kind: 'PREVIEW', ...(lazy ? { lazy } : {}) };
    }
    default:
      p.pos = save;
      throw p.error(`unknown fetch attribute ${word.slice(0, 40)}`);
  }
}
