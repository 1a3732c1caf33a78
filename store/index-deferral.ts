/**
 * When an account's new messages go into the full-text index (store/README.md "Deferred
 * indexing"): after deliveries pause for the policy's idle time (a batch flushed in any account
 * more recently makes it wait again), unless the oldest unindexed delivery has waited maxDelayMs
 * or maxBacklog messages wait. Without a policy: 20 ms after the first new message. `run` does
 * the indexing; this module only decides when.
 */
import { performance } from 'node:perf_hooks';
import type { IndexPolicy } from './account-types.js';

export class IndexDeferral {
  private timer: NodeJS.Timeout | null = null;
  /** performance.now() of the oldest delivery not yet handed to `run`. */
  private since: number | null = null;
  private adds = 0;
  private closed = false;

  constructor(
    private readonly policy: () => IndexPolicy | undefined,
    private readonly run: () => void,
  ) {}

  /** `n` messages were added (committed) to the account. */
  added(n: number): void {
    if (this.closed) return;
    if (this.since === null) this.since = performance.now();
    this.adds += n;
    const pol = this.policy();
    if (pol && this.adds >= pol.maxBacklog && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.timer) return;
    this.arm(pol ? (this.adds >= pol.maxBacklog ? 0 : Math.min(pol.idleMs, pol.maxDelayMs)) : 20);
  }

  /** No more runs (the account is closing). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      const pol = this.policy();
      if (pol && this.adds < pol.maxBacklog) {
        const waited = performance.now() - (this.since ?? 0);
        const idleFor = pol.sinceLastDelivery();
        if (idleFor < pol.idleMs && waited < pol.maxDelayMs) {
          this.arm(Math.min(pol.idleMs - idleFor, pol.maxDelayMs - waited));
          return;
        }
      }
      this.since = null;
      this.adds = 0;
      this.run();
    }, ms);
    this.timer.unref?.();
  }
}
