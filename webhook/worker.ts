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
import { Agent, getGlobalDispatcher, type Dispatcher } from 'undici';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/logger.js';
import { RESPONSE_KEEP, EVENT_BATCH, type AttemptOutcome, type HookResult, type HookTarget, type OutgoingTarget, type SendHook, type WebhookStore } from './store.js';
import { nextAttemptAt, parseRetryAfter } from './schedule.js';
import { signatureHeader } from './sign.js';

/** mox: at most 10 webhook requests at once. */
export const MAX_CONCURRENT = 10;
/** Per-attempt timeout, connect to end of response (mox: 60 s). */
export const ATTEMPT_TIMEOUT_MS = 60_000;
/**
 * How often the event log is checked when nobody says events arrived (real time). The server
 * calls eventsArrived() after the queue records events; this poll is only a safety net.
 */
export const EVENT_POLL_MS = 2_000;
/** Due hooks claimed per URL with one query. */
export const CLAIM_BATCH = 32;
/**
 * Results waiting for a commit while the previous batch's fsync runs: at this many a commit is
 * started anyway. Bounds the answered requests a crash can make us send again (besides those open).
 */
export const RESULT_BATCH = 32;
/**
 * Results commits start at most this often (ms; group commit window): a commit's cost is mostly
 * per transaction (the WAL pages it writes, its fsync), so results share one. A result waits at
 * most this long before its commit starts; requests do not wait for it.
 */
export const RESULT_COMMIT_INTERVAL_MS = 5;
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

/** Origin and path of the URLs posted to, parsed once (a few per account). */
const targets = new Map<string, { origin: string; path: string }>();
function target(url: string): { origin: string; path: string } {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported url scheme ${u.protocol}`);
    t = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (targets.size >= 10_000) targets.clear();
    targets.set(url, t);
  }
  return t;
}

function errorText(err: unknown): string {
  const e = err as Error & { cause?: { message?: string } };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : (e.message ?? String(err));
}

/**
 * One POST. Never throws: errors are in the result. Uses undici's dispatch interface directly
 * (no response stream, no AbortSignal per request): about half the CPU of `request()` per call.
 * The timeout covers the whole attempt, waiting for a connection included.
 */
export function postWebhook(i: PostInput): Promise<PostResult> {
  const t0 = performance.now();
  const timeoutMs = i.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    let controller: { abort(reason: Error): void } | undefined;
    let abortReason: Error | undefined;
    let code = 0;
    let retryAfter: string | undefined;
    const chunks: Buffer[] = [];
    let kept = 0;
    const finish = (r: Omit<PostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      i.signal?.removeEventListener('abort', onStop);
      resolve({ ...r, durationMs: performance.now() - t0 });
    };
    const abort = (reason: Error) => {
      abortReason = reason;
      controller?.abort(reason);
      finish({ code: 0, response: '', error: reason.message });
    };
    const complete = () => {
      const response = Buffer.concat(chunks).subarray(0, RESPONSE_KEEP).toString('utf8');
      finish({ code, response, error: code === 200 ? '' : `http status ${code}, expected 200`, ...(retryAfter !== undefined ? { retryAfter } : {}) });
    };
    const timer = setTimeout(() => abort(new Error(`timeout after ${timeoutMs / 1000}s`)), timeoutMs);
    const onStop = () => abort(new Error('aborted: server stopping'));
    if (i.signal) {
      if (i.signal.aborted) return onStop();
      i.signal.addEventListener('abort', onStop, { once: true });
    }
    try {
      const { origin, path } = target(i.url);
      (i.dispatcher ?? getGlobalDispatcher()).dispatch(
        { origin, path, method: 'POST', headers: webhookHeaders(i), body: i.payload, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
        {
          onRequestStart(c) {
            controller = c;
            if (abortReason) c.abort(abortReason);
          },
          onResponseStart(_c, statusCode, headers) {
            code = statusCode;
            const ra = headers['retry-after'];
            retryAfter = ra === undefined ? undefined : Array.isArray(ra) ? ra[0] : ra;
          },
          onResponseData(c, chunk) {
            if (settled) return;
            chunks.push(chunk);
            kept += chunk.length;
            // Keep the start of the response; do not download more than that.
            if (kept >= RESPONSE_KEEP) {
              complete();
              c.abort(new Error('response long enough'));
            }
          },
          onResponseEnd() {
            complete();
          },
          onResponseError(_c, err) {
            finish({ code: 0, response: '', error: errorText(err) });
          },
        },
      );
    } catch (err) {
      finish({ code: 0, response: '', error: errorText(err) });
    }
  });
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
  /** Called after every attempt with its HTTP status (0: no response) and duration (metrics). */
  onAttempt?: (code: number, durationMs: number) => void;
}

/** What the worker knows about one URL. */
interface UrlState {
  url: string;
  /** A request to it is open (one at a time per URL). */
  busy: boolean;
  /** Claimed due hooks, earliest first, not yet started. */
  ready: SendHook[];
  /** The last claim found nothing: not queried again until something changes (new hooks, clock, admin). */
  drained: boolean;
  /** Its hooks in `hold`. */
  held: number;
}

interface PendingResult extends AttemptOutcome {
  state: UrlState;
  attempt: number;
}

/**
 * Scheduling: due hooks are claimed per URL, CLAIM_BATCH at a time, into memory; when a request
 * ends, the next request (to the same URL or another) starts at once from memory, without a
 * query. Claims are dropped when the store says claimed hooks changed (superseded, canceled,
 * rescheduled). Results are group-committed: they collect while the previous batch's fsync runs
 * and go in one transaction (at most RESULT_BATCH wait); a hook stays held (not claimable) until
 * its result is durable. A timer wakes the worker when the next retry is due.
 */
export class WebhookWorker {
  private readonly store: WebhookStore;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly dispatcher: Dispatcher;
  private readonly ownDispatcher: boolean;
  private readonly max: number;
  private readonly urls = new Map<string, UrlState>();
  /** Hooks in flight or whose result is not yet durable: not to be claimed again. */
  private readonly hold = new Set<number>();
  /** Claimed hooks not yet started, by id (to drop them when they change). */
  private readonly claimed = new Map<number, UrlState>();
  private readonly requests = new Set<Promise<void>>();
  private readonly commits = new Set<Promise<unknown>>();
  private readonly stopSignal = new AbortController();
  private active = 0;
  private consuming: Promise<void> | undefined;
  private pumping = false;
  private stopped = true;
  private results: PendingResult[] = [];
  /** A results commit is queued and has not yet taken `results`. */
  private resultsQueued = false;
  /** Results commits not yet durable. */
  private resultCommits = 0;
  private resultTimer: NodeJS.Timeout | undefined;
  private lastResultCommit = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | undefined;
  private readonly secrets = new Map<string, string[]>();
  /** Counters (benchmarks, tests): attempts made, and their results recorded durably. */
  readonly stats = { attempts: 0, recorded: 0, resultCommits: 0 };

  constructor(private readonly o: WebhookWorkerOptions) {
    this.store = o.store;
    this.log = o.log ?? nullLogger();
    this.clock = o.clock ?? (() => new Date());
    this.max = o.maxConcurrent ?? MAX_CONCURRENT;
    this.ownDispatcher = !o.dispatcher;
    // One keep-alive connection per request that can be open to an origin at once.
    this.dispatcher = o.dispatcher ?? new Agent({ keepAliveTimeout: KEEPALIVE_MS, keepAliveMaxTimeout: KEEPALIVE_MS, connections: this.max });
  }

  start(): void {
    this.stopped = false;
    this.store.onDurable = (urls) => this.hooksDurable(urls);
    this.store.onInvalidate = (id) => this.invalidate(id);
    this.poll = setInterval(() => this.eventsArrived(), this.o.eventPollMs ?? EVENT_POLL_MS);
    this.poll.unref();
    this.kick();
  }

  /**
   * Stop: requests in flight are aborted (not counted as attempts; they are sent again after a
   * restart); results already received are recorded.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poll);
    this.stopSignal.abort();
    await Promise.allSettled([...this.requests]);
    if (this.results.length && !this.resultsQueued) this.commitResults();
    while (this.commits.size || this.consuming) await Promise.allSettled([...this.commits, this.consuming]);
    if (this.store.onDurable) this.store.onDurable = undefined;
    if (this.store.onInvalidate) this.store.onInvalidate = undefined;
    if (this.ownDispatcher) await this.dispatcher.close().catch(() => {});
  }

  /**
   * Look again at everything: new events, due hooks of every URL (after the clock moved, hooks
   * were changed, or on the timer), and when to wake up next.
   */
  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    try {
      this.eventsArrived();
      const known = this.store.queuedUrls();
      for (const url of known) this.state(url).drained = false;
      for (const [url, u] of this.urls) if (!known.has(url) && !u.busy && !u.held && !u.ready.length) this.urls.delete(url);
      for (const u of this.urls.values()) u.drained = false;
      this.pump();
      const now = this.clock().getTime();
      const next = this.store.nextDue(now);
      if (next) this.wakeAt(next.getTime(), now);
    } catch (err) {
      this.log.error({ err }, 'webhook: scheduling');
    }
  }

  /** The queue recorded outgoing events: consume them (cheap when there are none). */
  eventsArrived(): void {
    if (this.stopped || this.consuming) return;
    try {
      if (this.store.hasEvents()) this.consume();
    } catch (err) {
      this.log.error({ err }, 'webhook: checking events');
    }
  }

  /** Resolves when no request is in flight, no event is being consumed and every result is durable (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.requests.size || this.consuming || this.commits.size || this.results.length) {
      await Promise.allSettled([...this.requests, ...this.commits, this.consuming, new Promise((r) => setImmediate(r))]);
    }
  }

  /** Forget cached signing secrets (after a rotation). */
  secretsChanged(account?: string): void {
    if (account) this.secrets.delete(account);
    else this.secrets.clear();
  }

  /** Write a hook through the group commit; it is sent once durable. Resolves with its id when durable. */
  add(write: () => number): Promise<number> {
    return this.store.commit(write);
  }

  /** Queue an incoming-message hook; resolves when it is durable. */
  queueIncoming(account: string, target: HookTarget, payload: string): Promise<number> {
    return this.add(() => this.store.addIncoming(account, target, payload));
  }

  private state(url: string): UrlState {
    let u = this.urls.get(url);
    if (!u) {
      u = { url, busy: false, ready: [], drained: false, held: 0 };
      this.urls.set(url, u);
    }
    return u;
  }

  /** Hooks written through the store's commit are durable: their URLs have work. */
  private hooksDurable(urls: ReadonlySet<string>): void {
    for (const url of urls) this.state(url).drained = false;
    this.pump();
  }

  /** Claimed hooks changed in the store: drop the claims concerned (all, without an id). */
  private invalidate(id?: number): void {
    if (id === undefined) {
      for (const u of this.urls.values()) this.dropClaims(u);
      return;
    }
    const u = this.claimed.get(id);
    if (u) this.dropClaims(u);
  }

  private dropClaims(u: UrlState): void {
    for (const h of u.ready) this.claimed.delete(h.id);
    u.ready = [];
    u.drained = false;
  }

  private wakeAt(at: number, now = this.clock().getTime()): void {
    if (this.stopped || at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.kick(), Math.min(Math.max(0, at - now), 2 ** 31 - 1)).unref();
  }

  /** Start requests while there are free slots, earliest due first, one at a time per URL. */
  private pump(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    try {
      while (this.active < this.max) {
        let best: UrlState | undefined;
        let bestHook: SendHook | undefined;
        for (const u of this.urls.values()) {
          if (u.busy || u.drained) continue;
          if (!u.ready.length) this.claim(u);
          const h = u.ready[0];
          if (h && (!bestHook || h.nextAttempt < bestHook.nextAttempt || (h.nextAttempt === bestHook.nextAttempt && h.id < bestHook.id))) {
            best = u;
            bestHook = h;
          }
        }
        if (!best || !bestHook) break;
        best.ready.shift();
        this.claimed.delete(bestHook.id);
        this.begin(best, bestHook);
      }
    } catch (err) {
      this.log.error({ err }, 'webhook: scheduling');
    } finally {
      this.pumping = false;
    }
  }

  private claim(u: UrlState): void {
    const hooks = this.store.claimDue(u.url, CLAIM_BATCH, this.hold, u.held);
    for (const h of hooks) this.claimed.set(h.id, u);
    u.ready = hooks;
    if (!hooks.length) u.drained = true;
  }

  private consume(): void {
    let more = false;
    const p = this.store
      .commit(() => this.store.consumeEvents((a) => this.o.outgoing(a)))
      .then(
        (r) => {
          more = r.consumed >= EVENT_BATCH;
          if (r.consumed) this.log.debug({ consumed: r.consumed, hooks: r.created.length }, 'webhook: events consumed');
        },
        (err: unknown) => this.log.error({ err }, 'webhook: consuming events'),
      )
      .finally(() => {
        this.consuming = undefined;
        if (more) this.eventsArrived();
      });
    this.consuming = p;
  }

  private begin(u: UrlState, h: SendHook): void {
    this.active++;
    u.busy = true;
    u.held++;
    this.hold.add(h.id);
    const p = this.send(h)
      .then(
        (sent) => {
          // The URL is free once the response is in: the next request to it need not wait for
          // this result's fsync. The hook itself stays held until its result is durable.
          this.active--;
          u.busy = false;
          if (sent) {
            this.stats.attempts++;
            this.results.push({ id: h.id, result: sent.result, next: sent.next, state: u, attempt: h.attempts + 1 });
            this.scheduleResults();
          } else {
            this.release(u, h.id);
          }
          this.pump();
        },
        (err: unknown) => {
          this.active--;
          u.busy = false;
          this.release(u, h.id);
          this.log.error({ err, hook: h.id }, 'webhook: attempt');
        },
      )
      .finally(() => this.requests.delete(p));
    this.requests.add(p);
  }

  private release(u: UrlState, id: number): void {
    this.hold.delete(id);
    u.held--;
  }

  /**
   * Start a results commit when the previous one is durable and RESULT_COMMIT_INTERVAL_MS has
   * passed since it started, or at once when RESULT_BATCH results wait.
   */
  private scheduleResults(): void {
    if (this.resultsQueued || !this.results.length) return;
    if (this.results.length >= RESULT_BATCH || this.stopped) return this.commitResults();
    if (this.resultCommits || this.resultTimer) return;
    const wait = this.lastResultCommit + RESULT_COMMIT_INTERVAL_MS - performance.now();
    if (wait <= 0) return this.commitResults();
    this.resultTimer = setTimeout(() => {
      this.resultTimer = undefined;
      if (!this.resultsQueued && this.results.length) this.commitResults();
    }, wait);
  }

  /** Record the collected results in one transaction; the hooks are released once it is durable. */
  private commitResults(): void {
    clearTimeout(this.resultTimer);
    this.resultTimer = undefined;
    this.lastResultCommit = performance.now();
    this.stats.resultCommits++;
    this.resultsQueued = true;
    this.resultCommits++;
    let batch: PendingResult[] = [];
    const p = this.store
      .commit(() => {
        this.resultsQueued = false;
        batch = this.results;
        this.results = [];
        return this.store.finishAttempts(batch);
      })
      .then(
        (outcomes) => {
          this.stats.recorded += batch.length;
          const now = this.clock().getTime();
          for (let i = 0; i < batch.length; i++) {
            const b = batch[i]!;
            this.log.debug({ hook: b.id, attempt: b.attempt, code: b.result.code, outcome: outcomes[i] }, 'webhook: attempt');
            if (outcomes[i] === 'retried' && b.next !== null) this.wakeAt(b.next, now);
          }
        },
        (err: unknown) => {
          this.resultsQueued = false;
          this.log.error({ err, hooks: batch.map((b) => b.id) }, 'webhook: recording attempts');
          // Not recorded: the hooks are still due and are sent again (same webhook-id).
          for (const b of batch) b.state.drained = false;
        },
      )
      .finally(() => {
        for (const b of batch) this.release(b.state, b.id);
        this.resultCommits--;
        this.commits.delete(p);
        this.scheduleResults();
        this.pump();
      });
    this.commits.add(p);
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
  private async send(h: SendHook): Promise<{ result: HookResult; next: number | null } | undefined> {
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
    this.o.onAttempt?.(r.code, r.durationMs);
    const success = r.code === 200;
    const result: HookResult = { start, durationMs: Math.round(r.durationMs), url: h.url, success, code: r.code, error: r.error, response: r.response };
    if (success) return { result, next: null };
    const now = this.clock().getTime();
    return { result, next: nextAttemptAt(now, attempt, this.o.random, parseRetryAfter(r.retryAfter, now)) };
  }
}
