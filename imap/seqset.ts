// IMAP sequence sets (rfc9051:9 "sequence-set", "seq-range", "seq-number"; rfc5182 "$" SEARCHRES)
// and their resolution against a mailbox view. Used by FETCH/STORE/COPY/MOVE/SEARCH (sequence
// numbers or UIDs alike).

/** A seq-number: a positive number, or '*' (the largest number in use, rfc9051:9). */
export type SeqNumber = number | '*';

/** "a:b" (inclusive, either order, rfc9051:9 seq-range) or a single number (first === last). */
export interface SeqRange {
  first: SeqNumber;
  last: SeqNumber;
}

/** A parsed sequence set: ranges, or '$' (the saved search result, rfc5182). */
export type SequenceSet = { kind: 'ranges'; ranges: SeqRange[] } | { kind: 'saved' };

/** Inclusive numeric ranges with '*' replaced by `max`, low ≤ high. With max 0, '*' is 0. */
export function resolveRanges(ranges: readonly SeqRange[], max: number): Array<[number, number]> {
  return ranges.map((r) => {
    const a = r.first === '*' ? max : r.first;
    const b = r.last === '*' ? max : r.last;
    return a <= b ? [a, b] : [b, a];
  });
}

/**
 * Whether `n` is in the set (ranges form only), with '*' meaning `max`. rfc9051:6.4.8: for UID
 * sets, "n:*" also matches the largest UID when it is below n, callers pass max accordingly.
 */
export function inRanges(ranges: ReadonlyArray<readonly [number, number]>, n: number): boolean {
  for (const [a, b] of ranges) if (n >= a && n <= b) return true;
  return false;
}

/**
 * Sequence numbers (1-based) selected by a sequence-number set over a view of `count` messages.
 * Numbers above `count` are ignored (the command decides whether that is an error).
 */
export function seqNumbers(ranges: readonly SeqRange[], count: number): number[] {
  const set = new Set<number>();
  for (const [a, b] of resolveRanges(ranges, count)) {
    for (let i = Math.max(1, a); i <= Math.min(b, count); i++) set.add(i);
  }
  return [...set].sort((x, y) => x - y);
}

/**
 * Indexes (0-based) into an ascending `uids` array selected by a UID set. '*' is the largest uid
 * (rfc9051:6.4.8: "UID range of 559:* always includes the UID of the last message in the mailbox,
 * even if 559 is higher than any assigned UID value").
 */
export function uidIndexes(ranges: readonly SeqRange[], uids: readonly number[]): number[] {
  const max = uids.length ? uids[uids.length - 1]! : 0;
  const rs = resolveRanges(ranges, max);
  const out: number[] = [];
  if (rs.length === 1) {
    // Common case (1:*, a:b): binary search for the start.
    const [a, b] = rs[0]!;
    let lo = 0;
    let hi = uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (uids[mid]! < a) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < uids.length && uids[i]! <= b; i++) out.push(i);
    return out;
  }
  for (let i = 0; i < uids.length; i++) if (inRanges(rs, uids[i]!)) out.push(i);
  return out;
}

/** Formats ascending numbers as a compact sequence set ("1:3,7,9:10"), e.g. for ESEARCH ALL. */
export function formatNumberSet(nums: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
