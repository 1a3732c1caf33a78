// rfc9051:6.3.2 SELECT / 6.3.3 EXAMINE, with rfc7162:3.1.8 CONDSTORE and 3.2.5 QRESYNC parameters.
import { ImapError } from '../errors.js';
import { SelectedMailbox, compactUids } from '../selected.js';
import { SYSTEM_FLAGS, flagsString } from '../flags.js';
import { resolveRanges, type SequenceSet } from '../seqset.js';
import type { QresyncParams } from '../protocol/command.js';
import type { Session } from '../session.js';

export async function select(
  s: Session,
  _tag: string,
  c: { name: 'SELECT' | 'EXAMINE'; mailbox: string; condstore: boolean; qresync?: QresyncParams },
): Promise<string | void> {
  const acct = s.xaccount();
  if (c.qresync && !s.qresync) throw new ImapError('BAD', undefined, 'QRESYNC parameter without ENABLE QRESYNC');
  // rfc7162:3.2.11 / rfc9051:7.1 CLOSED when a selected mailbox is closed implicitly.
  if (s.selected) {
    s.selected = undefined;
    s.state = 'auth';
    s.w.line('* OK [CLOSED] previous mailbox closed');
  }
  const name = s.decodeName(c.mailbox);
  const mb = acct.mailbox(name);
  if (!mb) throw new ImapError('NO', 'NONEXISTENT', 'no such mailbox');
  if (c.condstore) s.condstore = true;
  const readOnly = c.name === 'EXAMINE';
  const uids = acct.uids(mb.id);
  const sel = new SelectedMailbox(mb.id, mb.name, readOnly, mb.uidValidity, uids, mb.uidNext);
  const kws = mb.keywords.length ? ' ' + mb.keywords.join(' ') : '';
  s.w.line(`* FLAGS (${SYSTEM_FLAGS}${kws})`);
  s.w.line(`* OK [PERMANENTFLAGS (${readOnly ? '' : `${SYSTEM_FLAGS}${kws} \\*`})] flags permitted`);
  s.w.line(`* ${uids.length} EXISTS`);
  if (!s.rev2) {
    s.w.line('* 0 RECENT');
    // rfc3501:6.3.1 the first unseen message.
    if (mb.unseen > 0) {
      const u = acct.firstUnseenUid(mb.id);
      const seq = u === undefined ? 0 : sel.seqOf(u);
      if (seq) s.w.line(`* OK [UNSEEN ${seq}] first unseen message`);
    }
  }
  s.w.line(`* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid`);
  s.w.line(`* OK [UIDNEXT ${mb.uidNext}] predicted next UID`);
  if (s.condstore) s.w.line(`* OK [HIGHESTMODSEQ ${mb.highestModseq}] highest modseq`);
  if (s.rev2) s.w.line(`* LIST () "/" ${quoteName(s, mb.name)}`);
  if (c.qresync && c.qresync.uidValidity === mb.uidValidity) {
    // rfc7162:3.2.5.2 what changed since the client's modseq: VANISHED (EARLIER), then FETCH.
    const ch = acct.changesSince(mb.id, c.qresync.modseq);
    let vanished = ch.vanished;
    if (c.qresync.knownUids) vanished = vanished.filter((u) => inSet(c.qresync!.knownUids!, u, sel.lastUid));
    vanished = [...new Set(vanished)].filter((u) => sel.indexOf(u) < 0).sort((a, b) => a - b);
    if (vanished.length) s.w.line(`* VANISHED (EARLIER) ${compactUids(vanished)}`);
    for (const m of ch.changed) {
      const seq = sel.seqOf(m.uid);
      if (!seq) continue;
      s.w.line(`* ${seq} FETCH (UID ${m.uid} FLAGS ${flagsString(m.flags, m.keywords)} MODSEQ (${m.modseq}))`);
    }
  }
  s.selected = sel;
  s.savedResult = [];
  s.state = 'selected';
  return `[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${c.name} completed`;
}

function inSet(set: SequenceSet, n: number, max: number): boolean {
  if (set.kind !== 'ranges') return true;
  for (const [a, b] of resolveRanges(set.ranges, max)) if (n >= a && n <= b) return true;
  return false;
}

/** A mailbox name as a quoted string or literal, encoded for the session. */
export function quoteName(s: Session, name: string): string {
  const n = s.encodeName(name);
  for (let i = 0; i < n.length; i++) {
    const ch = n.charCodeAt(i);
    if (ch < 0x20 || ch === 0x7f) return `{${Buffer.byteLength(n)}}\r\n${n}`;
  }
  return '"' + n.replace(/[\\"]/g, (x) => '\\' + x) + '"';
}
