// rfc9051:6.4.6 STORE / UID STORE (+FLAGS, -FLAGS, FLAGS, .SILENT) with rfc7162:3.1.3
// UNCHANGEDSINCE (MODIFIED response code). One store transaction for the whole set.
import { ImapError } from '../errors.js';
import { parseFlags, flagsString } from '../flags.js';
import { resolveSet } from '../resolve.js';
import { compactUids } from '../selected.js';
import type { SequenceSet } from '../seqset.js';
import type { Session } from '../session.js';

export async function store(
  s: Session,
  _tag: string,
  c: { uid: boolean; set: SequenceSet; mode: 'add' | 'remove' | 'replace'; silent: boolean; flags: string[]; unchangedSince?: number },
): Promise<string | void> {
  const sel = s.xselected();
  if (sel.readOnly) throw new ImapError('NO', 'READ-ONLY', 'mailbox is read-only');
  const { flags, keywords } = parseFlags(c.flags);
  if (c.unchangedSince !== undefined) s.condstore = true;
  const idx = resolveSet(sel, c.set, c.uid, s.savedResult);
  if (!idx.length) return;
  const res = s.xaccount().setFlags(sel.mailboxId, sel.uidSetOfIndexes(idx), {
    mode: c.mode,
    flags,
    keywords,
    ...(c.unchangedSince !== undefined ? { unchangedSince: c.unchangedSince } : {}),
  });
  if (res.modseq !== null) sel.ownFlagChange(res.modseq);
  const rev1 = !s.rev2;
  // rfc7162:3.1.3 with UNCHANGEDSINCE the server reports the new MODSEQ even for .SILENT.
  if (!c.silent || c.unchangedSince !== undefined) {
    for (const ch of res.changed) {
      const seq = sel.seqOf(ch.uid);
      if (!seq) continue;
      const parts = [c.uid ? `UID ${ch.uid}` : ''];
      if (!c.silent) parts.push(`FLAGS ${flagsString(ch.flags, ch.keywords, rev1 && sel.isRecent(ch.uid))}`);
      if (s.condstore) parts.push(`MODSEQ (${ch.modseq})`);
      s.w.line(`* ${seq} FETCH (${parts.filter(Boolean).join(' ')})`);
      await s.w.maybeFlush();
    }
  }
  if (res.failed.length) {
    const nums = c.uid ? res.failed : res.failed.map((u) => sel.seqOf(u)).filter((n) => n > 0);
    return `[MODIFIED ${compactUids(nums.sort((a, b) => a - b))}] conditional STORE failed for some messages`;
  }
}
