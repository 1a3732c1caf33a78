// rfc9051:6.4.3 EXPUNGE and rfc4315:2.1 UID EXPUNGE: messages with \Deleted (in the set) are
// removed; the EXPUNGE (or rfc7162 VANISHED) responses come before the tagged OK.
import { ImapError } from '../errors.js';
import { resolveSet } from '../resolve.js';
import type { SequenceSet } from '../seqset.js';
import type { Session } from '../session.js';

export async function expunge(s: Session, _tag: string, c: { name: 'EXPUNGE' } | { name: 'UID EXPUNGE'; set: SequenceSet }): Promise<string | void> {
  const sel = s.xselected();
  if (sel.readOnly) throw new ImapError('NO', 'READ-ONLY', 'mailbox is read-only');
  const acct = s.xaccount();
  let uids;
  if (c.name === 'UID EXPUNGE') {
    const idx = resolveSet(sel, c.set, true, s.savedResult);
    if (!idx.length) return;
    uids = sel.uidSetOfIndexes(idx);
  }
  const res = acct.expunge(sel.mailboxId, uids ? { uids } : {});
  // Earlier changes first (they may include flag changes of these messages), then ours.
  s.reportChanges(true);
  for (const l of sel.expungeNow(res.uids, { qresync: s.qresync })) s.w.line(l);
  if (res.modseq !== null && s.condstore) return `[HIGHESTMODSEQ ${res.modseq}] EXPUNGE completed`;
}
