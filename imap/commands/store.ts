// rfc9051:6.4.6 STORE / UID STORE (+FLAGS, -FLAGS, FLAGS, .SILENT) with rfc7162:3.1.3
// UNCHANGEDSINCE (MODIFIED response code). One store transaction for the whole set.
import { ImapError } from '../errors.js';
import { parseFlags, flagsString } from '../flags.js';
import { resolveSet } from '../resolve.js';
import { compactUids } from '../selected.js';
import type { SequenceSet } from '../seqset.js';
import type { Session } from '../session.js';
import { FLUSH_AT } from '../protocol/writer.js';

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
    // Untagged FETCH lines for up to 10,000s of messages: the flags text is the same for most of
    // them (cached by flags+keywords), and the buffer is flushed only when it is large.
    const flagText = new Map<string, string>();
    const modseqText = s.condstore ? ` MODSEQ (${res.modseq})` : '';
    for (const ch of res.changed) {
      const seq = sel.seqOf(ch.uid);
      if (!seq) continue;
      let line = `* ${seq} FETCH (`;
      if (c.uid) line += `UID ${ch.uid}`;
      if (!c.silent) {
        const recent = rev1 && sel.isRecent(ch.uid);
        const key = `${ch.flags.seen ? 1 : 0}${ch.flags.answered ? 1 : 0}${ch.flags.flagged ? 1 : 0}${ch.flags.deleted ? 1 : 0}${ch.flags.draft ? 1 : 0}${recent ? 1 : 0}${ch.keywords.join(' ')}`;
        let fl = flagText.get(key);
        if (fl === undefined) flagText.set(key, (fl = flagsString(ch.flags, ch.keywords, recent)));
        line += `${c.uid ? ' ' : ''}FLAGS ${fl}`;
      }
      if (modseqText) line += c.uid || !c.silent ? modseqText : modseqText.slice(1);
      s.w.line(line + ')');
      if (s.w.pending >= FLUSH_AT) await s.w.flush();
    }
  }
  if (res.failed.length) {
    const nums = c.uid ? res.failed : res.failed.map((u) => sel.seqOf(u)).filter((n) => n > 0);
    return `[MODIFIED ${compactUids(nums.sort((a, b) => a - b))}] conditional STORE failed for some messages`;
  }
}
