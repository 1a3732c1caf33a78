/**
 * Sequence sets to positions in the selected mailbox's view (selected.ts): message sequence
 * numbers (rfc9051:2.3.1.2), UIDs (rfc9051:2.3.1.1, "n:*" includes the last message even when n
 * is higher), and "$", the saved search result (rfc5182:2.1).
 */
import { ImapError } from './errors.js';
import { resolveRanges, uidIndexes, type SequenceSet } from './seqset.js';
import type { SelectedMailbox } from './selected.js';

/** 0-based ascending indexes into sel.uids. */
export function resolveSet(sel: SelectedMailbox, set: SequenceSet, uid: boolean, saved: readonly number[]): number[] {
  if (set.kind === 'saved') {
    const out: number[] = [];
    for (const u of saved) {
      const i = sel.indexOf(u);
      if (i >= 0) out.push(i);
    }
    return out.sort((a, b) => a - b);
  }
  if (uid) return uidIndexes(set.ranges, sel.uids);
  const count = sel.count;
  const ranges = resolveRanges(set.ranges, count);
  for (const [, b] of ranges) {
    // rfc9051:6.4.5 a sequence number above the number of messages is an error.
    if (b > count) throw new ImapError('BAD', undefined, count ? `message sequence number out of range (${count} messages)` : 'mailbox is empty');
  }
  if (ranges.length === 1) {
    const [a, b] = ranges[0]!;
    const out = new Array<number>(b - a + 1);
    for (let i = a; i <= b; i++) out[i - a] = i - 1;
    return out;
  }
  const seen = new Uint8Array(count);
  for (const [a, b] of ranges) for (let i = a; i <= b; i++) seen[i - 1] = 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (seen[i]) out.push(i);
  return out;
}
