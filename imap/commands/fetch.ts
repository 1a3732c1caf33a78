// rfc9051:6.4.5 FETCH / UID FETCH with rfc7162 CHANGEDSINCE (3.1.4.1) and VANISHED (3.2.6).
// This module does the session's part: which messages, \Seen for non-peek body fetches, the
// CONDSTORE bookkeeping, VANISHED (EARLIER). Rendering of each message's attributes is
// renderMessage below.
import { fetchNeedsParsed, fetchSetsSeen, type FetchAtt, type Section } from '../fetch/types.js';
import { resolveSet } from '../resolve.js';
import { compactUids } from '../selected.js';
import { uidIndexes, type SequenceSet } from '../seqset.js';
import { flagsString } from '../flags.js';
import { formatBodyStructure, formatEnvelope } from '../../message/bodystructure.js';
import { sectionRange } from '../../message/decode.js';
import type { Part } from '../../message/part.js';
import type { Account } from '../../store/account.js';
import type { Message } from '../../store/types.js';
import type { Session } from '../session.js';

export async function fetch(
  s: Session,
  _tag: string,
  c: { uid: boolean; set: SequenceSet; atts: FetchAtt[]; changedSince?: number; vanished: boolean },
): Promise<string | void> {
  const sel = s.xselected();
  const acct = s.xaccount();
  const atts = [...c.atts];
  // rfc9051:6.4.8 UID FETCH responses always include UID.
  if (c.uid && !atts.some((a) => a.kind === 'UID')) atts.unshift({ kind: 'UID' });
  if (c.changedSince !== undefined || atts.some((a) => a.kind === 'MODSEQ')) s.condstore = true;
  if (c.changedSince !== undefined && !atts.some((a) => a.kind === 'MODSEQ')) atts.push({ kind: 'MODSEQ' });
  const idx = resolveSet(sel, c.set, c.uid, s.savedResult);
  if (c.vanished && c.set.kind === 'ranges') {
    // rfc7162:3.2.6 expunged messages in the UID set since CHANGEDSINCE.
    const ch = acct.changesSince(sel.mailboxId, c.changedSince!);
    const vanished = [...new Set(ch.vanished)].filter((u) => sel.indexOf(u) < 0).sort((a, b) => a - b);
    const inSet = vanished.filter((u) => uidIndexes(c.set.kind === 'ranges' ? c.set.ranges : [], [u]).length > 0);
    if (inSet.length) s.w.line(`* VANISHED (EARLIER) ${compactUids(inSet)}`);
  }
  if (!idx.length) return;
  const uids = sel.uidSetOfIndexes(idx);
  if (!sel.readOnly && fetchSetsSeen(atts)) {
    // rfc9051:6.4.5 BODY[...] (not PEEK) sets \Seen; the FETCH response then includes FLAGS.
    const res = acct.setFlags(sel.mailboxId, uids, { mode: 'add', flags: ['seen'] });
    if (res.modseq !== null) {
      sel.ownFlagChange(res.modseq);
      if (!atts.some((a) => a.kind === 'FLAGS')) atts.push({ kind: 'FLAGS' });
    }
  }
  const msgs = acct.listMessages(sel.mailboxId, { uids, full: fetchNeedsParsed(atts) });
  const rev1 = !s.rev2;
  let k = 0;
  for (const m of msgs) {
    if (c.changedSince !== undefined && m.modseq <= c.changedSince) continue;
    while (k < idx.length && sel.uids[idx[k]!]! < m.uid) k++;
    if (k >= idx.length || sel.uids[idx[k]!] !== m.uid) continue;
    const seq = idx[k]! + 1;
    s.w.write(`* ${seq} FETCH (`);
    await renderMessage(s, acct, m, atts, rev1 && sel.isRecent(m.uid));
    s.w.write(')\r\n');
    await s.w.maybeFlush();
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** rfc9051:9 date-time, in UTC. */
export function imapDateTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}

function sectionName(sec: Section): string {
  let n = sec.part.join('.');
  if (sec.text) n += (n ? '.' : '') + sec.text;
  if (sec.fields) n += ` (${sec.fields.join(' ')})`;
  return n;
}

/** Writes one message's attributes (without the surrounding parentheses). */
async function renderMessage(s: Session, acct: Account, m: Message, atts: readonly FetchAtt[], recent: boolean): Promise<void> {
  const w = s.w;
  let first = true;
  const sep = () => {
    if (!first) w.write(' ');
    first = false;
  };
  const parsed = m.parsed as Part | undefined;
  const literal = (b: Buffer) => {
    w.write(`{${b.length}}\r\n`);
    w.write(b);
  };
  for (const a of atts) {
    sep();
    switch (a.kind) {
      case 'UID':
        w.write(`UID ${m.uid}`);
        break;
      case 'FLAGS':
        w.write(`FLAGS ${flagsString(m.flags, m.keywords, recent)}`);
        break;
      case 'INTERNALDATE':
        w.write(`INTERNALDATE ${imapDateTime(m.receivedAt)}`);
        break;
      case 'RFC822.SIZE':
        w.write(`RFC822.SIZE ${m.size}`);
        break;
      case 'MODSEQ':
        w.write(`MODSEQ (${m.modseq})`);
        break;
      case 'SAVEDATE':
        w.write(`SAVEDATE ${imapDateTime(m.receivedAt)}`);
        break;
      case 'ENVELOPE':
        w.write(`ENVELOPE ${parsed ? formatEnvelope(parsed) : 'NIL'}`);
        break;
      case 'BODY':
      case 'BODYSTRUCTURE':
        w.write(`${a.kind} ${parsed ? formatBodyStructure(parsed, a.kind === 'BODYSTRUCTURE') : 'NIL'}`);
        break;
      case 'RFC822':
        w.write('RFC822 ');
        literal(await acct.readMessage(m.id));
        break;
      case 'RFC822.HEADER':
      case 'RFC822.TEXT': {
        const r = parsed ? sectionRange(parsed, a.kind === 'RFC822.HEADER' ? 'HEADER' : 'TEXT') : null;
        w.write(`${a.kind} `);
        if (r) literal(await acct.readMessage(m.id, r.start, r.end));
        else w.write('NIL');
        break;
      }
      case 'BODY[]': {
        const name = sectionName(a.section);
        const r = parsed ? sectionRange(parsed, name.replace(/ \(.*$/, '')) : { start: 0, end: m.size };
        let data = r ? await acct.readMessage(m.id, r.start, r.end) : null;
        let origin = '';
        if (data && a.partial) {
          data = data.subarray(Math.min(a.partial.offset, data.length), Math.min(a.partial.offset + a.partial.count, data.length));
          origin = `<${a.partial.offset}>`;
        }
        w.write(`BODY[${name}]${origin} `);
        if (data) literal(data);
        else w.write('NIL');
        break;
      }
      default:
        w.write(`${a.kind === 'BINARY[]' ? `BINARY[${a.part.join('.')}]` : a.kind === 'BINARY.SIZE' ? `BINARY.SIZE[${a.part.join('.')}]` : a.kind} NIL`);
    }
  }
}
