// rfc9051:6.4.7 COPY and rfc6851 MOVE (and their UID forms), with rfc4315 COPYUID.
import { ImapError } from '../errors.js';
import { resolveSet } from '../resolve.js';
import { compactUids } from '../selected.js';
import type { SequenceSet } from '../seqset.js';
import type { Session } from '../session.js';

export async function copy(s: Session, _tag: string, c: { name: 'COPY' | 'MOVE'; uid: boolean; set: SequenceSet; mailbox: string }): Promise<string | void> {
  const sel = s.xselected();
  const acct = s.xaccount();
  if (c.name === 'MOVE' && sel.readOnly) throw new ImapError('NO', 'READ-ONLY', 'mailbox is read-only');
  const dst = acct.mailbox(s.decodeName(c.mailbox));
  // rfc9051:6.4.7 TRYCREATE when the target does not exist.
  if (!dst) throw new ImapError('NO', 'TRYCREATE', 'no such mailbox');
  const idx = resolveSet(sel, c.set, c.uid, s.savedResult);
  if (!idx.length) return;
  const uids = sel.uidSetOfIndexes(idx);
  if (c.name === 'COPY') {
    const res = await acct.copyMessages(sel.mailboxId, uids, dst.id);
    if (!res.srcUids.length) return;
    return `[COPYUID ${res.uidValidity} ${compactUids(res.srcUids)} ${compactUids(res.dstUids)}] COPY completed`;
  }
  if (dst.id === sel.mailboxId) throw new ImapError('NO', 'CANNOT', 'source and destination mailbox are the same');
  const res = acct.moveMessages(sel.mailboxId, uids, dst.id);
  if (!res.srcUids.length) return;
  // rfc6851:4.3 COPYUID in an untagged OK before the expunges.
  s.w.line(`* OK [COPYUID ${res.uidValidity} ${compactUids(res.srcUids)} ${compactUids(res.dstUids)}] moved`);
  s.reportChanges(true);
  for (const l of sel.expungeNow(res.srcUids, { qresync: s.qresync })) s.w.line(l);
  if (s.qresync && res.modseq !== null) return `[HIGHESTMODSEQ ${res.modseq}] MOVE completed`;
}
