/**
 * The selected mailbox as one session sees it (rfc9051:2.3.1.2): an ascending list of UIDs whose
 * positions are the session's message sequence numbers, and the changes other sessions made that
 * this one has not been told about yet. Changes arrive from the store's change bus at any time;
 * the session reports them only at allowed moments (`report`): EXISTS/FETCH/EXPUNGE after a
 * command and during IDLE, but never an EXPUNGE (or VANISHED) while answering FETCH, STORE or
 * SEARCH (rfc9051:7.5.1, rfc3501:7.4.1), since that would shift the numbers the client uses.
 * An expunged message that was not reported yet stays in the list (a "ghost": its row is gone,
 * so a FETCH of it returns nothing).
 */
import type { Change } from '../store/changes.js';
import type { Flags } from '../store/types.js';
import type { UidSet } from '../store/account-types.js';
import { flagsString } from './flags.js';

export interface ReportOptions {
  /** May EXPUNGE/VANISHED be sent now? */
  expunges: boolean;
  /** QRESYNC enabled: VANISHED instead of EXPUNGE (rfc7162:3.2.10). */
  qresync: boolean;
  /** CONDSTORE active: MODSEQ in FETCH responses for flag changes (rfc7162:3.1.4). */
  condstore: boolean;
  /** rev1 session: \Recent and RECENT responses. */
  rev1: boolean;
}

export class SelectedMailbox {
  /** Changes not yet reported, in commit order. */
  private pending: Change[] = [];
  /** Modseqs of this session's own flag changes, already answered by its command. */
  private ownModseqs = new Set<number>();
  /** UIDs at or above this arrived after SELECT: \Recent for this (rev1) session. */
  readonly recentFrom: number;
  /** Count of recent messages last reported. */
  private reportedRecent = 0;
  /** Set when another session deleted the mailbox. */
  gone = false;

  constructor(
    readonly mailboxId: number,
    public name: string,
    readonly readOnly: boolean,
    readonly uidValidity: number,
    /** Ascending UIDs; index + 1 is the sequence number. */
    public uids: number[],
    uidNext: number,
  ) {
    this.recentFrom = uidNext;
  }

  get count(): number {
    return this.uids.length;
  }

  get lastUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1]! : 0;
  }

  /** Index of uid in the list, or -1. */
  indexOf(uid: number): number {
    const u = this.uids;
    let lo = 0;
    let hi = u.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = u[mid]!;
      if (v === uid) return mid;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  seqOf(uid: number): number {
    const i = this.indexOf(uid);
    return i < 0 ? 0 : i + 1;
  }

  isRecent(uid: number): boolean {
    return uid >= this.recentFrom;
  }

  /** From the change bus (any time). */
  onChange(c: Change): void {
    if (c.kind === 'mailbox-remove' && c.mailboxId === this.mailboxId) {
      this.gone = true;
      return;
    }
    if (c.kind === 'mailbox-rename' && c.mailboxId === this.mailboxId) {
      this.name = c.name;
      return;
    }
    if ((c.kind === 'add' || c.kind === 'remove' || c.kind === 'flags') && c.mailboxId === this.mailboxId) {
      if (c.kind === 'flags' && this.ownModseqs.delete(c.modseq)) return;
      this.pending.push(c);
    }
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /**
   * This session changed flags itself (and answered with FETCH responses already): drop the
   * change if it arrived, else ignore it when it arrives.
   */
  ownFlagChange(modseq: number): void {
    const i = this.pending.findIndex((c) => c.kind === 'flags' && c.modseq === modseq);
    if (i >= 0) this.pending.splice(i, 1);
    else this.ownModseqs.add(modseq);
  }

  /**
   * Remove uids from the view now (this session's own EXPUNGE/MOVE, answered by its command).
   * Returns the response lines. Uids not in the view are skipped (already reported).
   */
  expungeNow(uids: readonly number[], o: Pick<ReportOptions, 'qresync'>): string[] {
    const remove = new Set<number>();
    for (const u of uids) if (this.indexOf(u) >= 0) remove.add(u);
    if (!remove.size) return [];
    const lines: string[] = [];
    if (o.qresync) {
      lines.push(`* VANISHED ${compactUids([...remove].sort((a, b) => a - b))}`);
      this.uids = this.uids.filter((u) => !remove.has(u));
      return lines;
    }
    // rfc9051:7.5.1 each EXPUNGE renumbers the following messages: ascending order, adjusted.
    const keep: number[] = [];
    let removed = 0;
    for (let i = 0; i < this.uids.length; i++) {
      const u = this.uids[i]!;
      if (remove.has(u)) {
        lines.push(`* ${i + 1 - removed} EXPUNGE`);
        removed++;
      } else keep.push(u);
    }
    this.uids = keep;
    return lines;
  }

  /** Response lines for the pending changes that may be reported now, applied to the view. */
  report(o: ReportOptions): string[] {
    if (!this.pending.length) return [];
    const lines: string[] = [];
    let added = false;
    const held: Change[] = [];
    let expunged: number[] = [];
    const flushExpunged = () => {
      if (expunged.length) lines.push(...this.expungeNow(expunged, o));
      expunged = [];
    };
    for (const c of this.pending) {
      if (c.kind === 'add') {
        for (const u of c.uids) {
          if (u > this.lastUid) {
            this.uids.push(u);
            added = true;
          }
        }
      } else if (c.kind === 'remove') {
        if (!o.expunges) held.push(c);
        else expunged.push(...c.uids);
      } else if (c.kind === 'flags') {
        flushExpunged();
        for (let i = 0; i < c.uids.length; i++) {
          const seq = this.seqOf(c.uids[i]!);
          if (!seq) continue;
          const fl = flagsString(c.flags[i] as Flags, c.keywords[i]!, o.rev1 && this.isRecent(c.uids[i]!));
          lines.push(`* ${seq} FETCH (UID ${c.uids[i]} FLAGS ${fl}${o.condstore ? ` MODSEQ (${c.modseq})` : ''})`);
        }
      }
    }
    flushExpunged();
    this.pending = held;
    if (added) {
      lines.push(`* ${this.uids.length} EXISTS`);
      if (o.rev1) {
        const recent = this.recentCount();
        if (recent !== this.reportedRecent || added) lines.push(`* ${recent} RECENT`);
        this.reportedRecent = recent;
      }
    }
    return lines;
  }

  recentCount(): number {
    let n = 0;
    for (let i = this.uids.length - 1; i >= 0 && this.uids[i]! >= this.recentFrom; i--) n++;
    return n;
  }

  /** The view's uids at the given 0-based indexes as a compact UidSet for the store. */
  uidSetOfIndexes(idx: readonly number[]): UidSet {
    const out: Array<readonly [number, number]> = [];
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
      out.push([this.uids[idx[i]!]!, this.uids[idx[j]!]!]);
      i = j + 1;
    }
    return out;
  }
}

/** Ascending uids as "1:3,7". */
export function compactUids(nums: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Uids (any order) as a compact UidSet. */
export function uidSetOf(uids: readonly number[]): UidSet {
  const s = [...uids].sort((a, b) => a - b);
  const out: Array<readonly [number, number]> = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1]! <= s[j]! + 1) j++;
    out.push([s[i]!, s[j]!]);
    i = j + 1;
  }
  return out;
}
