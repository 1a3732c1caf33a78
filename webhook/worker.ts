/**
 * The webhook delivery worker (mox §2.2 plus Standard Webhooks signing): turns the queue's event
 * log into hooks, POSTs due hooks with undici, records every attempt, retries on mox's schedule.
 *
 * - At most MAX_CONCURRENT requests at once, and one at a time per URL.
 * - Success is exactly HTTP 200; anything else (201 too), a timeout (60 s) or a connection error
 *   is a failed attempt, retried per schedule.ts (Retry-After honoured), retired after 12.
 * - Each attempt is signed afresh: webhook-timestamp is the attempt's time, webhook-id the hook's
 *   fixed id, so receivers can both reject replays and dedupe retries.
 * - Writes go through the store's group commit; a hook becomes eligible for sending only once the
 *   transaction that created it is durable, so a crash can never make us send a hook that the
 *   restarted server does not know about (it would be sent again under a new id).
 * - Timers use the injected clock for "when is it due"; tests advance the clock and kick().
 */
import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { RESPONSE_KEEP, type Hook, type HookResult, type HookTarget, type OutgoingTarget, type WebhookStore } from './store.js';
import { nextAttemptAt, parseRetryAfter } from './schedule.js';
import { signatureHeader } from './sign.js';

/** mox: at most 10 webhook requests at once. */
export const MAX_CONCURRENT = 10;
/** Per-attempt timeout, connect to end of response (mox: 60 s). */
export const ATTEMPT_TIMEOUT_MS = 60_000;
/** How often the event log is checked when nobody kicks the worker (real time). */
export const EVENT_POLL_MS = 200;
/** Idle keep-alive connections are closed after this long (mox: 5 s). */
export const KEEPALIVE_MS = 5_000;

export interface PostInput {
  url: string;
  authorization?: string;
  /** The JSON body. */
  payload: string;
  /** X-Mox-Webhook-ID. */
  hookId: number;
  /** Standard Webhooks webhook-id. */
  webhookId: string;
  attempt: number;
  /** Signing secrets (current first, then one being rotated out). */
  secrets: readonly string[];
  /** webhook-timestamp, seconds since the epoch. */
  timestamp: number;
  userAgent: string;
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  /** Aborts the request (server stopping). */
  signal?: AbortSignal;
}

export interface PostResult {
  /** HTTP status, 0 without a response. */
  code: number;
  /** First RESPONSE_KEEP bytes of the response body. */
  response: string;
  error: string;
  durationMs: number;
  retryAfter?: string;
}

/** The request headers of one attempt (exported for tests and the README). */
export function webhookHeaders(i: PostInput): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': i.userAgent,
    'x-mox-webhook-id': String(i.hookId),
    'x-mox-webhook-attempt': String(i.attempt),
    'webhook-id': i.webhookId,
    'webhook-timestamp': String(i.timestamp),
    'webhook-signature': signatureHeader(i.secrets, i.webhookId, i.timestamp, i.payload),
  };
  if (i.authorization) h['authorization'] = i.authorization;
  return h;
}

/** One POST. Never throws: errors are in the result. */
export async function postWebhook(i: PostInput): Promise<PostResult> {
  const t0 = performance.now();
  // One controller per request with a plain timer (AbortSignal.timeout/any cost more per request).
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, i.timeoutMs ?? ATTEMPT_TIMEOUT_MS);
  const onStop = () => ac.abort();
  i.signal?.addEventListener('abort', onStop, { once: true });
  if (i.signal?.aborted) ac.abort();
  const signal = ac.signal;
  try {
    const res = await request(i.url, {
      method: 'POST',
      headers: webhookHeaders(i),
      body: i.payload,
      signal,
      dispatcher: i.dispatcher,
      headersTimeout: i.timeoutMs ?? ATTEMPT_TIMEOUT_MS,
      bodyTimeout: i.timeoutMs ?? ATTEMPT_TIMEOUT_MS,
    });
    // Keep the start of the response; do not download more than that.
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= RESPONSE_KEEP) break;
    }
    if (n >= RESPONSE_KEEP) res.body.destroy();
    const body = Buffer.concat(chunks).subarray(0, RESPONSE_KEEP).toString('utf8');
    const ra = res.headers['retry-after'];
    return {
      code: res.statusCode,
      response: body,
      error: res.statusCode === 200 ? '' : `http status ${res.statusCode}, expected 200`,
      durationMs: performance.now() - t0,
      ...(ra !== undefined ? { retryAfter: Array.isArray(ra) ? ra[0] : ra } : {}),
    };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const msg = timedOut ? `timeout after ${(i.timeoutMs ?? ATTEMPT_TIMEOUT_MS) / 1000}s` : e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
    return { code: 0, response: '', error: msg, durationMs: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    i.signal?.removeEventListener('abort', onStop);
  }
}

export interface WebhookWorkerOptions {
  store: WebhookStore;
  /** The account's OutgoingWebhook as configured now. */
  outgoing: (account: string) => OutgoingTarget | undefined;
  userAgent: string;
  log?: Logger;
  clock?: () => Date;
  random?: () => number;
  maxConcurrent?: number;
  timeoutMs?: number;
  eventPollMs?: number;
  /** HTTP client; default an undici Agent with a short keep-alive. */
  dispatcher?: Dispatcher;
}

export class WebhookWorker {
  private readonly store: WebhookStore;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly dispatcher: Dispatcher;
  private readonly ownDispatcher: boolean;
  private readonly busyUrls = new Set<string>();
  /** Hooks in flight or whose result is not yet committed: not to be started again. */
  private readonly hold = new Set<number>();
  /**
   * Hooks written but not yet durable: never sent before they are (a crash could undo them, and
   * they would come back under a new webhook-id). Hook ids grow in commit order, so everything
   * below the smallest of these is durable.
   */
  private readonly notDurable = new Set<number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly stopSignal = new AbortController();
  private active = 0;
  private consuming = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private readonly secrets = new Map<string, string[]>();

  constructor(private readonly o: WebhookWorkerOptions) {
    this.store = o.store;
    this.log = o.log ?? nullLogger();
    this.clock = o.clock ?? (() => new Date());
    this.ownDispatcher = !o.dispatcher;
    this.dispatcher = o.dispatcher ?? new Agent({ keepAliveTimeout: KEEPALIVE_MS, keepAliveMaxTimeout: KEEPALIVE_MS, connections: 4 });
  }

  start(): void {
    this.stopped = false;
    this.poll = setInterval(() => this.kick(), this.o.eventPollMs ?? EVENT_POLL_MS);
    this.poll.unref();
    this.kick();
  }

  /** Stop: requests in flight are aborted (not counted as attempts; they are sent again after a restart). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    this.stopSignal.abort();
    await Promise.allSettled([...this.inflight]);
    if (this.ownDispatcher) await this.dispatcher.close().catch(() => {});
  }

  /** Look for work now: new events, due hooks (after queueing, changing hooks, or moving the clock). */
  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.schedule();
    } catch (err) {
      this.log.error({ err }, 'webhook: scheduling');
    }
  }

  /** Resolves when no request is in flight and no event is being consumed (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.inflight.size || this.consuming) await Promise.allSettled([...this.inflight, new Promise((r) => setImmediate(r))]);
  }

  /** Forget cached signing secrets (after a rotation). */
  secretsChanged(account?: string): void {
    if (account) this.secrets.delete(account);
    else this.secrets.clear();
  }

  /** Write a hook through the group commit; it is sent once durable. Resolves with its id when durable. */
  async add(write: () => number): Promise<number> {
    let id = 0;
    const p = this.store.commit(() => {
      id = write();
      this.notDurable.add(id);
      return id;
    });
    try {
      return await p;
    } finally {
      this.notDurable.delete(id);
      this.kick();
    }
  }

  /** Queue an incoming-message hook; resolves when it is durable. */
  queueIncoming(account: string, target: HookTarget, payload: string): Promise<number> {
    return this.add(() => this.store.addIncoming(account, target, payload));
  }

  private schedule(): void {
    if (this.stopped) return;
    if (!this.consuming && this.store.hasEvents()) this.consume();
    const max = this.o.maxConcurrent ?? MAX_CONCURRENT;
    if (this.active < max) {
      const belowId = this.notDurable.size ? Math.min(...this.notDurable) : Number.MAX_SAFE_INTEGER;
      for (const h of this.store.dueByUrl(this.busyUrls, max - this.active, this.hold, belowId)) this.begin(h);
    }
    // Wake up when the next hook becomes due; due ones waiting for a slot or their URL are
    // started when a request finishes.
    const now = this.clock().getTime();
    const next = this.store.nextDue(now);
    clearTimeout(this.timer);
    if (next) this.timer = setTimeout(() => this.kick(), Math.min(Math.max(0, next.getTime() - now), 2 ** 31 - 1)).unref();
  }

  private consume(): void {
    this.consuming = true;
    const created: number[] = [];
    this.store
      .commit(() => {
        const r = this.store.consumeEvents((a) => this.o.outgoing(a));
        for (const id of r.created) this.notDurable.add(id);
        created.push(...r.created);
        return r;
      })
      .then(
        (r) => {
          if (r.consumed) this.log.debug({ consumed: r.consumed, hooks: r.created.length }, 'webhook: events consumed');
        },
        (err: unknown) => this.log.error({ err }, 'webhook: consuming events'),
      )
      .finally(() => {
        for (const id of created) this.notDurable.delete(id);
        this.consuming = false;
        this.kick();
      });
  }

  private begin(h: Hook): void {
    this.active++;
    this.busyUrls.add(h.url);
    this.hold.add(h.id);
    const p = (async () => {
      let sent: { result: HookResult; next: number | null } | undefined;
      try {
        sent = await this.send(h);
      } finally {
        // The URL is free once the response is in: the next request to it need not wait for
        // this result's fsync. The hook itself stays held until its result is committed.
        this.active--;
        this.busyUrls.delete(h.url);
      }
      this.kick();
      if (!sent) return;
      const outcome = await this.store.commit(() => this.store.finishAttempt(h.id, sent.result, sent.next));
      this.log.debug({ hook: h.id, attempt: h.attempts + 1, code: sent.result.code, outcome }, 'webhook: attempt');
    })()
      .catch((err: unknown) => this.log.error({ err, hook: h.id }, 'webhook: attempt'))
      .finally(() => {
        // No kick: a committed result makes nothing newly due (a retry is later; the timer and
        // the event poll take care of it).
        this.hold.delete(h.id);
        this.inflight.delete(p);
      });
    this.inflight.add(p);
  }

  private secretsFor(account: string): string[] {
    let s = this.secrets.get(account);
    if (!s) {
      const x = this.store.secrets(account);
      s = x.previous ? [x.current, x.previous] : [x.current];
      this.secrets.set(account, s);
    }
    return s;
  }

  /** POST one attempt; undefined if aborted by stop() (then it is not an attempt). */
  private async send(h: Hook): Promise<{ result: HookResult; next: number | null } | undefined> {
    const start = this.clock().getTime();
    const attempt = h.attempts + 1;
    const r = await postWebhook({
      url: h.url,
      authorization: h.authorization,
      payload: h.payload,
      hookId: h.id,
      webhookId: h.webhookId,
      attempt,
      secrets: this.secretsFor(h.account),
      timestamp: Math.floor(start / 1000),
      userAgent: this.o.userAgent,
      dispatcher: this.dispatcher,
      timeoutMs: this.o.timeoutMs,
      signal: this.stopSignal.signal,
    });
    if (this.stopped && r.code === 0) return undefined;
    const success = r.code === 200;
    const result: HookResult = { start, durationMs: Math.round(r.durationMs), url: h.url, success, code: r.code, error: r.error, response: r.response };
    const now = this.clock().getTime();
    return { result, next: success ? null : nextAttemptAt(now, attempt, this.o.random, parseRetryAfter(r.retryAfter, now)) };
  }
}
