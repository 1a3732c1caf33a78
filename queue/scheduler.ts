/**
 * The queue scheduler (mox §3.2): delivers due messages with bounded global concurrency and at
 * most one delivery per recipient domain at a time; recipients of the same submission and domain
 * share one attempt (one SMTP transaction). Before an attempt its NextAttempt is pushed forward
 * (backoff), so a crash during delivery never causes a retry storm; a restart simply resumes.
 *
 * Outcomes per recipient:
 *   delivered → retired ("delivered");
 *   permanent → retired ("failed"), failure DSN to the sender, suppression-list rule applied;
 *   temporary → result appended; after the 5th failed attempt one "delayed" DSN; after the last
 *               attempt retired ("failed") with a failure DSN;
 *   recipient on the sender's suppression list → retired ("suppressed") without dialing anyone.
 * The transport is injected (`deliver`): direct delivery through smtp/client, or a test double.
 */
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import type { QueueStore, QueuedMsg, RetiredMsg, AttemptResult } from './store.js';
import { backoffMs, shouldSuppress, DELAYED_DSN_AFTER_ATTEMPTS } from './rules.js';

/** mox delivers at most this many messages at once. */
export const MAX_CONCURRENT_DELIVERIES = 10;

export interface RecipientOutcome {
  id: number;
  status: 'delivered' | 'temporary' | 'permanent';
  code?: number;
  enhanced?: string;
  message: string;
  host?: string;
}

export interface SchedulerDeps {
  queue: QueueStore;
  /** Deliver one batch: same submission, same recipient domain. One outcome per message id. */
  deliver(msgs: QueuedMsg[]): Promise<RecipientOutcome[]>;
  /** Send the sender a DSN for these messages (failed or delayed). */
  dsn?(msgs: ReadonlyArray<QueuedMsg | RetiredMsg>, action: 'failed' | 'delayed'): Promise<void>;
  log?: Logger;
  clock?: () => Date;
  random?: () => number;
  maxConcurrent?: number;
}

export class Scheduler {
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly busyDomains = new Set<string>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly d: SchedulerDeps) {
    this.log = d.log ?? nullLogger();
    this.clock = d.clock ?? (() => new Date());
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Stop scheduling; resolves when attempts in progress have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inflight]);
  }

  /** Look for due work now (call after queueing or changing messages). */
  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule();
  }

  /** Resolves when nothing is being delivered (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private schedule(): void {
    const max = this.d.maxConcurrent ?? MAX_CONCURRENT_DELIVERIES;
    // Batches: due messages of the same submission to the same domain, oldest first.
    const batches = new Map<string, QueuedMsg[]>();
    for (const m of this.d.queue.due()) {
      const key = `${m.baseId}\0${m.recipientDomain}`;
      const b = batches.get(key);
      if (b) b.push(m);
      else batches.set(key, [m]);
    }
    for (const batch of batches.values()) {
      if (this.active >= max) break;
      const domain = batch[0]!.recipientDomain;
      if (this.busyDomains.has(domain)) continue;
      this.busyDomains.add(domain);
      this.active++;
      const p = this.attempt(batch)
        .catch((err: unknown) => this.log.error({ err, domain }, 'queue: delivery attempt failed'))
        .finally(() => {
          this.busyDomains.delete(domain);
          this.active--;
          this.inflight.delete(p);
          if (!this.stopped) this.schedule();
        });
      this.inflight.add(p);
    }
    // Sleep until the next message becomes due (a kick wakes us earlier).
    const next = this.d.queue.nextDue();
    if (next && !this.stopped && this.active < max) {
      const wait = Math.max(0, next.getTime() - this.clock().getTime());
      clearTimeout(this.timer);
      if (wait > 0) this.timer = setTimeout(() => this.kick(), Math.min(wait, 2 ** 31 - 1)).unref();
    }
  }

  private async attempt(batch: QueuedMsg[]): Promise<void> {
    const q = this.d.queue;
    const started = this.clock().getTime();
    const claimed = q.beginAttempt(
      batch.map((m) => m.id),
      (attempts) => backoffMs(attempts, this.d.random),
    );
    // Suppressed recipients fail at once, without dialing anyone (checked at delivery time).
    const toSend: QueuedMsg[] = [];
    for (const m of claimed) {
      const sup = q.lookupSuppression(m.senderAccount, `${m.recipientLocalpart}@${m.recipientDomain}`);
      if (!sup) {
        toSend.push(m);
        continue;
      }
      const retired = await q.retire({ ids: [m.id] }, 'suppressed', { success: false, error: `recipient address is on the suppression list: ${sup.reason}`, start: started });
      await this.d.dsn?.(retired, 'failed');
    }
    if (!toSend.length) return;
    let outcomes: RecipientOutcome[];
    try {
      outcomes = await this.d.deliver(toSend);
    } catch (err) {
      outcomes = toSend.map((m) => ({ id: m.id, status: 'temporary' as const, message: `delivery error: ${(err as Error).message}` }));
    }
    const durationMs = this.clock().getTime() - started;
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const failed: RetiredMsg[] = [];
    const delayed: QueuedMsg[] = [];
    for (const m of toSend) {
      const o = byId.get(m.id) ?? { id: m.id, status: 'temporary' as const, message: 'no result from transport' };
      const result: AttemptResult = {
        start: started,
        durationMs,
        success: o.status === 'delivered',
        code: o.code,
        enhanced: o.enhanced,
        error: o.status === 'delivered' ? '' : o.message,
        host: o.host,
      };
      if (o.status === 'delivered') {
        await q.retire({ ids: [m.id] }, 'delivered', result);
      } else if (o.status === 'permanent' || m.attempts >= m.maxAttempts) {
        const address = `${m.recipientLocalpart}@${m.recipientDomain}`;
        const history = q.recentOutcomes(m.senderAccount, address);
        const retired = await q.retire({ ids: [m.id] }, 'failed', result);
        failed.push(...retired);
        if (o.status === 'permanent' && shouldSuppress(o.code, o.enhanced, history)) {
          q.addSuppression(m.senderAccount, address, { manual: false, reason: `delivery failure from queue with smtp code ${o.code ?? ''} ${o.enhanced ?? ''}`.trim() });
        }
      } else {
        const sendDelayed = m.attempts >= DELAYED_DSN_AFTER_ATTEMPTS && !m.delayedDsnSent;
        q.addResult(m.id, result, { delayedDsnSent: sendDelayed });
        if (sendDelayed) delayed.push(m);
      }
    }
    if (failed.length) await this.d.dsn?.(failed, 'failed');
    if (delayed.length) await this.d.dsn?.(delayed, 'delayed');
  }
}
