/**
 * The Prometheus metrics of moxts (prom-client). One `Metrics` object is made per server and
 * passed to the services that count things; nothing registers metrics at import time, so tests
 * can run several servers in one process. Names follow `moxts_<area>_<thing>_total`.
 */
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

/** What the queue gauges read at scrape time (cheap counts on queue.db). */
export interface QueueCounts {
  /** Messages (recipients) in the queue, held ones included. */
  size(): number;
  held(): number;
  /** Webhooks waiting to be delivered (first attempts and retries). */
  webhooks?(): number;
}

/** Seconds from queueing to delivery: sub-second local deliveries up to the 4-day retry horizon. */
const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 4 * 24 * 3600];
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The result label of a webhook request: ok (HTTP 200), http-2xx..http-5xx (any other status), error (no response). */
export function webhookResult(code: number): string {
  if (code === 200) return 'ok';
  if (code >= 200 && code < 600) return `http-${Math.floor(code / 100)}xx`;
  return code === 0 ? 'error' : 'http-other';
}

/** A count kept on a hot path (Metrics.hotCount). */
export interface HotCount {
  n: number;
}

export class Metrics {
  readonly registry = new Registry();

  readonly smtpConnections = new Counter({
    name: 'moxts_smtp_connections_total',
    help: 'SMTP connections by service (smtp, submission, submissions) and result (accepted, ratelimited, toomany).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly smtpMessages = new Counter({
    name: 'moxts_smtp_messages_total',
    help: 'Messages received over SMTP by service and result (accepted, or the refusal reason).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
    collect: () => this.flushHot(),
  });
  readonly smtpRecipients = new Counter({
    name: 'moxts_smtp_recipients_total',
    help: 'RCPT TO commands by service and result (accepted, or the refusal reason).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
    collect: () => this.flushHot(),
  });
  readonly smtpDeliveryDuration = new Histogram({
    name: 'moxts_smtp_delivery_duration_seconds',
    help: 'Time from end of DATA to the final reply (verification, parsing, durable storage).',
    labelNames: ['service'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
    collect: () => this.flushHot(),
  });

  /** Hot-path counts not yet added to their counters (see hotCount). */
  private readonly hotCounts: Array<{ counter: Counter<'service' | 'result'>; labels: { service: string; result: string }; cell: HotCount }> = [];
  /** Hot-path delivery durations not yet observed, per service (see observeDelivery). */
  private readonly pendingDurations = new Map<string, number[]>();

  /**
   * A count for a hot path (per SMTP message or recipient): the caller keeps the cell and adds to
   * `n`; the sum goes into the counter when metrics are read (the counters' collect), so a count
   * costs an addition instead of prom-client's label hashing and validation per call.
   */
  hotCount(counter: 'smtpMessages' | 'smtpRecipients', service: string, result: string): HotCount {
    const cell = { n: 0 };
    this.hotCounts.push({ counter: this[counter], labels: { service, result }, cell });
    return cell;
  }

  /** smtpDeliveryDuration.observe, deferred to the next read of the metrics (at most 1,000 pending per service). */
  observeDelivery(service: string, seconds: number): void {
    let l = this.pendingDurations.get(service);
    if (!l) this.pendingDurations.set(service, (l = []));
    l.push(seconds);
    if (l.length >= 1000) this.flushDurations();
  }

  private flushHot(): void {
    for (const { counter, labels, cell } of this.hotCounts) {
      if (cell.n === 0) continue;
      counter.inc(labels, cell.n);
      cell.n = 0;
    }
    this.flushDurations();
  }

  private flushDurations(): void {
    for (const [service, l] of this.pendingDurations) {
      for (const v of l) this.smtpDeliveryDuration.observe({ service }, v);
      l.length = 0;
    }
  }
  readonly smtpSessions = new Gauge({
    name: 'moxts_smtp_sessions',
    help: 'Open SMTP sessions by service.',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });

  readonly imapConnections = new Counter({
    name: 'moxts_imap_connections_total',
    help: 'IMAP connections by service (imap, imaps) and result (accepted, refused).',
    labelNames: ['service', 'result'] as const,
    registers: [this.registry],
  });
  readonly imapSessions = new Gauge({
    name: 'moxts_imap_sessions',
    help: 'Open IMAP sessions by service (imap, imaps).',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly imapCommands = new Counter({
    name: 'moxts_imap_commands_total',
    help: 'IMAP commands by name and result (ok, no, bad).',
    labelNames: ['command', 'result'] as const,
    registers: [this.registry],
  });
  readonly imapCommandDuration = new Histogram({
    name: 'moxts_imap_command_duration_seconds',
    help: 'Time to execute an IMAP command, by name (IDLE and AUTHENTICATE include client time).',
    labelNames: ['command'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly webapiResults = new Counter({
    name: 'moxts_webapi_results_total',
    help: 'Webapi calls by method and result (ok, badauth, ratelimited, or the error code).',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
  });
  readonly webapiDuration = new Histogram({
    name: 'moxts_webapi_duration_seconds',
    help: 'Webapi call duration by method, from authentication to the response.',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private queueCounts: QueueCounts | undefined;
  readonly queueMessages: Gauge = new Gauge({
    name: 'moxts_queue_messages',
    help: 'Messages in the outgoing queue (one per recipient), held ones included; counted at scrape time.',
    registers: [this.registry],
    collect: (): void => this.readQueue(this.queueMessages, (q) => q.size()),
  });
  readonly queueHeld: Gauge = new Gauge({
    name: 'moxts_queue_held_messages',
    help: 'Messages in the outgoing queue that are on hold; counted at scrape time.',
    registers: [this.registry],
    collect: (): void => this.readQueue(this.queueHeld, (q) => q.held()),
  });
  readonly queueAttempts = new Counter({
    name: 'moxts_queue_attempts_total',
    help: 'Outgoing delivery attempts per recipient by result (delivered, temporary, permanent, suppressed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly queueRetired = new Counter({
    name: 'moxts_queue_retired_total',
    help: 'Messages leaving the queue after a delivery attempt, by outcome (delivered, failed, suppressed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly queueAttemptDuration = new Histogram({
    name: 'moxts_queue_attempt_duration_seconds',
    help: 'Duration of one delivery attempt (one SMTP transaction or local delivery, all its recipients).',
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly queueDeliveryLatency = new Histogram({
    name: 'moxts_queue_delivery_latency_seconds',
    help: 'Time from queueing to successful delivery, per recipient (retries included).',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly webhookQueue: Gauge = new Gauge({
    name: 'moxts_webhook_queue_messages',
    help: 'Webhooks waiting for delivery (first attempts and retries); counted at scrape time.',
    registers: [this.registry],
    collect: (): void => this.readQueue(this.webhookQueue, (q) => q.webhooks?.() ?? 0),
  });
  readonly webhookRequests = new Counter({
    name: 'moxts_webhook_requests_total',
    help: 'Webhook requests (attempts) by result: ok (HTTP 200), http-4xx and the like (other status), error (no response).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly webhookDuration = new Histogram({
    name: 'moxts_webhook_request_duration_seconds',
    help: 'Duration of a webhook request, connect to end of response.',
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'moxts_' });
  }

  /** Where the queue gauges get their counts (the server's QueueStore); unset, they show 0. */
  setQueueCounts(q: QueueCounts | undefined): void {
    this.queueCounts = q;
  }

  /** Count one webhook request (the worker's attempt callback). */
  webhookRequest(code: number, durationMs: number): void {
    this.webhookRequests.inc({ result: webhookResult(code) });
    this.webhookDuration.observe(durationMs / 1000);
  }

  private readQueue(g: Gauge, read: (q: QueueCounts) => number): void {
    if (!this.queueCounts) return;
    try {
      g.set(read(this.queueCounts));
    } catch {
      // queue.db closed (shutdown) or busy: keep the last value rather than failing the scrape.
    }
  }

  /** The exposition text for GET /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
