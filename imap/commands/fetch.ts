// rfc9051:6.4.5 FETCH / UID FETCH with rfc7162 CHANGEDSINCE (3.1.4.1) and VANISHED (3.2.6).
// This module does the session's part: which messages, \Seen for non-peek body fetches, the
// CONDSTORE bookkeeping, VANISHED (EARLIER). Each message's items are rendered by imap/fetch/.
import { fetchSetsSeen, type FetchAtt } from '../fetch/types.js';
import { FetchRenderer, FetchError, loadForFetch } from '../fetch/render.js';
import { ImapError } from '../errors.js';
import { resolveSet } from '../resolve.js';
import { compactUids } from '../selected.js';
import { uidIndexes, type SequenceSet } from '../seqset.js';
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
  const msgs = loadForFetch(acct, sel.mailboxId, uids, atts);
  const renderer = new FetchRenderer(acct, { utf8: s.utf8, rev2: s.rev2, isRecent: (u) => sel.isRecent(u) });
  const utf8 = s.utf8;
  let k = 0;
  for (const m of msgs) {
    if (c.changedSince !== undefined && m.modseq <= c.changedSince) continue;
    while (k < idx.length && sel.uids[idx[k]!]! < m.uid) k++;
    if (k >= idx.length || sel.uids[idx[k]!] !== m.uid) continue;
    const seq = idx[k]! + 1;
    let items;
    try {
      items = await renderer.render(m, atts);
    } catch (err) {
      if (err instanceof FetchError) throw new ImapError('NO', err.code, err.message);
      throw err;
    }
    s.w.write(`* ${seq} FETCH `);
    s.w.value(items, utf8);
    s.w.write('\r\n');
    await s.w.maybeFlush();
  }
}

