// rfc9051:6.4.4 SEARCH / UID SEARCH with rfc4731 ESEARCH return options (MIN MAX COUNT ALL),
// rfc5182 SAVE, rfc7162:3.1.5 "(MODSEQ n)". IMAP4rev2 sessions always get ESEARCH (rfc9051:7.3.4).
// Which messages match is decided by imap/search/eval.ts.
import { ImapError } from '../errors.js';
import { evaluateSearch } from '../search/eval.js';
import type { SearchKey, SearchProgram } from '../search/types.js';
import type { SearchReturn } from '../protocol/command.js';
import { compactUids } from '../selected.js';
import type { Session } from '../session.js';

function usesModseq(keys: readonly SearchKey[]): boolean {
  return keys.some((k) => {
    switch (k.kind) {
      case 'modseq':
        return true;
      case 'not':
        return usesModseq([k.key]);
      case 'or':
        return usesModseq([k.a, k.b]);
      case 'and':
        return usesModseq(k.keys);
      default:
        return false;
    }
  });
}

export async function search(s: Session, tag: string, c: { uid: boolean; ret?: SearchReturn[]; program: SearchProgram }): Promise<string | void> {
  const sel = s.xselected();
  const cs = c.program.charset?.toUpperCase();
  // rfc9051:6.4.4 UTF-8 and US-ASCII are the charsets we take (mox does the same).
  if (cs && cs !== 'UTF-8' && cs !== 'US-ASCII') throw new ImapError('NO', 'BADCHARSET (UTF-8 US-ASCII)', 'charset not supported');
  const modseq = usesModseq(c.program.keys);
  if (modseq) s.condstore = true;
  let res;
  try {
    res = await evaluateSearch(
      {
        account: s.xaccount(),
        mailboxId: sel.mailboxId,
        uids: sel.uids,
        rev2: s.rev2,
        isRecent: (u) => sel.isRecent(u),
        saved: s.savedResult,
        now: () => s.now,
      },
      c.program.keys,
    );
  } catch (err) {
    // rfc5182:2.1 a failed SEARCH with SAVE leaves an empty saved result.
    if (c.ret?.includes('SAVE')) s.savedResult = [];
    throw err;
  }
  const nums = c.uid ? res.uids : res.seqs;
  let ret = c.ret;
  if (ret && ret.length === 0) ret = ['ALL'];
  if (!ret && s.rev2) ret = ['ALL'];
  if (!ret) {
    s.w.line(`* SEARCH${nums.length ? ' ' + nums.join(' ') : ''}${modseq && nums.length ? ` (MODSEQ ${res.highestModseq})` : ''}`);
    return;
  }
  if (ret.includes('SAVE')) {
    // rfc5182:2.4 with only MIN and/or MAX besides SAVE, only those are saved.
    const others = ret.filter((r) => r !== 'SAVE');
    if (others.length && others.every((r) => r === 'MIN' || r === 'MAX') && res.uids.length) {
      const saved: number[] = [];
      if (others.includes('MIN')) saved.push(res.uids[0]!);
      if (others.includes('MAX') && res.uids.length > 1) saved.push(res.uids[res.uids.length - 1]!);
      s.savedResult = saved;
    } else s.savedResult = [...res.uids];
    if (!others.length) return;
  }
  let out = `* ESEARCH (TAG "${tag.replace(/[\\"]/g, (x) => '\\' + x)}")${c.uid ? ' UID' : ''}`;
  if (nums.length) {
    if (ret.includes('MIN')) out += ` MIN ${nums[0]}`;
    if (ret.includes('MAX')) out += ` MAX ${nums[nums.length - 1]}`;
  }
  if (ret.includes('COUNT')) out += ` COUNT ${nums.length}`;
  if (nums.length && ret.includes('ALL')) out += ` ALL ${compactUids(nums)}`;
  if (modseq && nums.length) out += ` MODSEQ ${res.highestModseq}`;
  s.w.line(out);
}
