/**
 * The queue scheduler (mox §3.2): delivers due messages with bounded global concurrency and at
 * most one delivery per recipient domain at a time; recipients of the same submission and domain
 * share one attempt (one SMTP transaction). Before an attempt its NextAttempt is pushed forward
 * (backoff), so a crash during delivery never causes a retry storm; a restart simply resumes.
 *
 * Outcomes per recipient, recorded for the whole attempt in one transaction together with their
 * outgoing events (QueueStore.recordOutcomes):
 *   delivered → retired ("delivered");
 *   permanent → retired ("failed"), failure DSN to the sender, suppression-list rule applied;
 *   temporary → result appended ("delayed"); after the 5th failed attempt one "delayed" DSN;
 *               after the last attempt retired ("failed") with a failure DSN;
 *   recipient on the sender's suppression list → retired ("suppressed") without dialing anyone.
 * DSNs honour the recipient's NOTIFY (rfc3461:4.1); they are stored in the queue's DSN outbox in the
 * outcome's transaction and delivered to the sender after it (again at start if a crash came
 * between). The transport is injected (`deliver`).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { nullLogger } from '../log/logger.js';
import type { QueueStore, QueuedMsg, RetiredMsg, AttemptResult, OutcomeInput, ComposeDsns } from './store.js';
import { backoffMs, shouldSuppress, wantsDsn, DELAYED_DSN_AFTER_ATTEMPTS } from './rules.js';

/** mox delivers at most this many messages at once. */
export const MAX_CONCURRENT_DELIVERIES = 10;
/**
 * Recipients per SMTP transaction: rfc5321:4.5.3.1.8 servers must accept at least 100; more go in
 * a later transaction.
 */
export const MAX_RECIPIENTS_PER_TRANSACTION = 100;

export interface RecipientOutcome {
  id: number;
  status: 'delivered' | 'temporary' | 'permanent';
  code?: number;
  enhanced?: string;
  message: string;
  host?: string;
  /**
   * For a success: the DSN action owed to a sender who asked for NOTIFY=SUCCESS (rfc3461:5.2.2):
   * "delivered" for a local mailbox, "relayed" for a next hop without DSN support; absent when the
   * request was passed on to a next hop that supports DSN (it reports, not we).
   */
  successAction?: 'delivered' | 'relayed';
}

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

export interface SchedulerDeps {
  queue: QueueStore;
  /** Deliver one batch: same submission, same recipient domain. One outcome per message id. */
  deliver(msgs: QueuedMsg[]): Promise<RecipientOutcome[]>;
  /**
   * Compose the sender's DSNs for these messages (pure: it runs inside the transaction that records
   * the outcomes, which stores its result in the queue's DSN outbox). Only called for recipients
   * whose NOTIFY asks for it. `originals` holds the original message (prefix + file) per base id,
   * read before retiring.
   */
  composeDsn?(msgs: ReadonlyArray<QueuedMsg | RetiredMsg>, action: DsnAction, originals: ReadonlyMap<number, Buffer>): Array<{ account: string; message: Buffer }>;
  /** Deliver one DSN from the outbox to the sender's account; it is removed from the outbox after. */
  deliverDsn?(account: string, message: Buffer): Promise<void>;
  log?: Logger;
  clock?: () => Date;
  random?: () => number;
  maxConcurrent?: number;
  maxRecipients?: number;
  /** Attempts by result, retired messages, attempt duration and queue-to-delivery latency. */
  metrics?: Metrics;
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
    // DSNs a crash left in the outbox (stored with their outcome, not yet in the sender's Inbox).
    if (this.d.deliverDsn) {
      const p: Promise<void> = this.deliverDsns().finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
    this.kick();
  }

  /** Stop scheduling; resolves when attempts in progress have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.idle();
  }

  /** Look for due work now (call after queueing or changing messages, or after moving the clock). */
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

  /** Deliveries in progress. */
  get deliveriesActive(): number {
    return this.active;
  }

  private schedule(): void {
    const max = this.d.maxConcurrent ?? MAX_CONCURRENT_DELIVERIES;
    let batches: QueuedMsg[][];
    try {
      batches = this.d.queue.dueBatches(max - this.active, this.busyDomains, this.d.maxRecipients ?? MAX_RECIPIENTS_PER_TRANSACTION);
    } catch (err) {
      this.log.error({ err }, 'queue: looking for due messages');
      return;
    }
    // Start every picked attempt in one transaction (one fsync): count it and push NextAttempt
    // forward before delivering, so a crash never causes a retry storm (mox §3.2).
    let claimedAll: QueuedMsg[] = [];
    if (batches.length) {
      try {
        claimedAll = this.d.queue.beginAttempt(
          batches.flat().map((m) => m.id),
          (attempts) => backoffMs(attempts, this.d.random),
        );
      } catch (err) {
        this.log.error({ err }, 'queue: starting delivery attempts');
        return;
      }
    }
    const claimedById = new Map(claimedAll.map((m) => [m.id, m]));
    for (const picked of batches) {
      const batch = picked.map((m) => claimedById.get(m.id)).filter((m): m is QueuedMsg => !!m);
      if (!batch.length) continue; // held or removed meanwhile
      const domain = batch[0]!.recipientDomain;
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
    // Sleep until the next message becomes due (a kick or a finished attempt wakes us earlier).
    let next: Date | undefined;
    try {
      next = this.d.queue.nextDue();
    } catch {
      next = undefined;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (next && !this.stopped) {
      const wait = next.getTime() - this.clock().getTime();
      if (wait > 0) this.timer = setTimeout(() => this.kick(), Math.min(wait, 2 ** 31 - 1)).unref();
    }
  }

  private async attempt(batch: QueuedMsg[]): Promise<void> {
    const q = this.d.queue;
    const started = this.clock().getTime();
    const t0 = performance.now();
    const claimed = batch;
    const items: OutcomeInput[] = [];
    // Suppressed recipients fail at once, without dialing anyone (checked at delivery time, mox §3.9).
    const toSend: QueuedMsg[] = [];
    for (const m of claimed) {
      const sup = q.lookupSuppression(m.senderAccount, `${m.recipientLocalpart}@${m.recipientDomain}`);
      if (!sup) toSend.push(m);
      else {
        const error = `recipient address is on the suppression list${sup.reason ? `: ${sup.reason}` : ''}`;
        items.push({ id: m.id, outcome: 'suppressed', result: { start: started, durationMs: 0, success: false, error } });
        this.d.metrics?.queueAttempts.inc({ result: 'suppressed' });
      }
    }
    let outcomes: RecipientOutcome[] = [];
    if (toSend.length) {
      try {
        outcomes = await this.d.deliver(toSend);
      } catch (err) {
        this.log.error({ err }, 'queue: transport failed');
        outcomes = toSend.map((m) => ({ id: m.id, status: 'temporary' as const, message: `delivery error: ${(err as Error).message}` }));
      }
    }
    const durationMs = this.clock().getTime() - started;
    if (toSend.length) this.d.metrics?.queueAttemptDuration.observe((performance.now() - t0) / 1000);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const delayed: QueuedMsg[] = [];
    for (const m of toSend) {
      const o = byId.get(m.id) ?? { id: m.id, status: 'temporary' as const, message: 'no result from transport' };
      this.d.metrics?.queueAttempts.inc({ result: o.status });
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
        items.push({ id: m.id, outcome: 'delivered', result });
      } else if (o.status === 'permanent' || m.attempts >= m.maxAttempts) {
        const address = `${m.recipientLocalpart}@${m.recipientDomain}`;
        const suppress =
          o.status === 'permanent' && shouldSuppress(o.code, o.enhanced, q.recentOutcomes(m.senderAccount, address))
            ? `delivery failure from queue with smtp code ${o.code ?? ''} ${o.enhanced ?? ''}`.trim()
            : undefined;
        items.push({ id: m.id, outcome: 'failed', result, suppress });
      } else {
        // One "delivery delayed" DSN, after the 5th failed attempt (mox §3.2).
        const sendDelayed = m.attempts >= DELAYED_DSN_AFTER_ATTEMPTS && !m.delayedDsnSent && wantsDsn(m.dsn.notify, 'delayed');
        items.push({ id: m.id, outcome: 'delayed', result, delayedDsnSent: sendDelayed });
        if (sendDelayed) delayed.push({ ...m, results: [...m.results, result] });
      }
    }
    // The original message goes back with DSNs (its headers, or all of it for RET=FULL); read it
    // before the outcome retires the last row and removes the file.
    const originals = new Map<number, Buffer>();
    const notifyOf = new Map(claimed.map((m) => [m.id, m.dsn.notify]));
    const needsDsn = (it: OutcomeInput) =>
      it.outcome === 'delayed'
        ? !!it.delayedDsnSent
        : it.outcome === 'delivered'
          ? !!byId.get(it.id)?.successAction && wantsDsn(notifyOf.get(it.id), 'delivered')
          : wantsDsn(notifyOf.get(it.id), 'failed');
    if (this.d.composeDsn && items.some(needsDsn)) {
      try {
        originals.set(batch[0]!.baseId, await q.messageBytes(batch[0]!.id));
      } catch (err) {
        this.log.warn({ err }, 'queue: reading message for DSN');
      }
    }
    const composeDsns: ComposeDsns | undefined = this.d.composeDsn
      ? ({ retired, delayed: recorded }) => {
          const compose = this.d.composeDsn!;
          const out: Array<{ account: string; message: Buffer }> = [];
          const failed = retired.filter((r) => (r.outcome === 'failed' || r.outcome === 'suppressed') && wantsDsn(r.dsn.notify, 'failed'));
          if (failed.length) out.push(...compose(failed, 'failed', originals));
          const late = delayed.filter((m) => recorded.has(m.id));
          if (late.length) out.push(...compose(late, 'delayed', originals));
          // rfc3461:5.2.2 success DSNs only when asked for and not passed on to the next hop.
          for (const action of ['delivered', 'relayed'] as const) {
            const ok = retired.filter((r) => r.outcome === 'delivered' && byId.get(r.id)?.successAction === action && wantsDsn(r.dsn.notify, 'delivered'));
            if (ok.length) out.push(...compose(ok, action, originals));
          }
          return out;
        }
      : undefined;
    const { retired, dsnOutbox } = await q.recordOutcomes(items, composeDsns);
    for (const r of retired) {
      const o = byId.get(r.id);
      this.log.info({ id: r.id, rcpt: r.recipientAddress, outcome: r.outcome, code: o?.code, host: o?.host, attempts: r.attempts }, 'queue: delivery finished');
      this.d.metrics?.queueRetired.inc({ outcome: r.outcome });
      if (r.outcome === 'delivered') this.d.metrics?.queueDeliveryLatency.observe(Math.max(0, this.clock().getTime() - r.queued.getTime()) / 1000);
    }
    if (dsnOutbox.length) await this.deliverDsns(dsnOutbox);
  }

  /**
   * Deliver DSNs from the queue's outbox (these ids, or all of them at start: those a crash left
   * behind) and remove each once delivered. One that fails stays for the next start.
   */
  private async deliverDsns(ids?: readonly number[]): Promise<void> {
    const q = this.d.queue;
    for (const d of q.dsnOutbox(ids)) {
      try {
        await this.d.deliverDsn?.(d.account, d.message);
        q.dsnDone(d.id);
      } catch (err) {
        this.log.error({ err, account: d.account }, 'queue: delivering DSN to sender; kept for the next start');
      }
    }
  }
}
