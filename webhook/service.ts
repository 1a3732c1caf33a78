/**
 * Webhooks as the server runs them: the store (its own queue.db connection), the worker, hourly
 * cleanup of retired hooks, and the hook the SMTP delivery path calls for each stored copy of an
 * incoming message. cmd/server.ts starts it with the current config and stops it on shutdown.
 */
import type { DynamicConfig } from '../config/dynamic-schema.js';
import type { Logger } from '../log/logger.js';
import { WebhookStore, type HookTarget, type OutgoingTarget } from './store.js';
import { WebhookWorker } from './worker.js';
import { incomingPayload, type IncomingFacts } from './incoming.js';
import type { CheckpointRequester } from '../queue/checkpoints.js';

/** Retired hooks past KeepUntil are removed this long after start, then hourly (mox). */
export const CLEANUP_FIRST_MS = 4_000;
export const CLEANUP_INTERVAL_MS = 3_600_000;

/** A stored copy of a message delivered over SMTP (smtp/server/delivery.ts IncomingDelivery). */
export interface DeliveredCopy extends IncomingFacts {
  account: string;
  /** A DSN matched to an outgoing message: only the outgoing webhook hears about it (mox §2.4). */
  dsnMatched?: boolean;
}

export interface WebhookService {
  store: WebhookStore;
  worker: WebhookWorker;
  /** The account's webhook targets as configured now. */
  outgoing(account: string): OutgoingTarget | undefined;
  incoming(account: string): HookTarget | undefined;
  /** Queue the incoming webhook for a stored copy, durably (call before acknowledging). */
  afterDeliver(d: DeliveredCopy): Promise<void>;
  stop(): Promise<void>;
}

export function outgoingTarget(cfg: DynamicConfig, account: string): OutgoingTarget | undefined {
  const w = cfg.Accounts[account]?.OutgoingWebhook;
  return w ? { url: w.URL, ...(w.Authorization ? { authorization: w.Authorization } : {}), ...(w.Events?.length ? { events: w.Events } : {}) } : undefined;
}

export function incomingTarget(cfg: DynamicConfig, account: string): HookTarget | undefined {
  const w = cfg.Accounts[account]?.IncomingWebhook;
  return w ? { url: w.URL, ...(w.Authorization ? { authorization: w.Authorization } : {}) } : undefined;
}

export function startWebhooks(o: {
  dataDir: string;
  config: () => DynamicConfig;
  log: Logger;
  clock?: () => Date;
  userAgent: string;
  random?: () => number;
  onAttempt?: (code: number, durationMs: number) => void;
  checkpointer?: CheckpointRequester;
}): WebhookService {
  const store = WebhookStore.open({
    dataDir: o.dataDir,
    clock: o.clock,
    checkpointer: o.checkpointer,
    keepRetiredFor: (a) => o.config().Accounts[a]?.KeepRetiredWebhookPeriod,
  });
  const outgoing = (a: string) => outgoingTarget(o.config(), a);
  const incoming = (a: string) => incomingTarget(o.config(), a);
  const worker = new WebhookWorker({ store, outgoing, userAgent: o.userAgent, log: o.log, clock: o.clock, random: o.random, onAttempt: o.onAttempt });
  worker.start();
  const cleanup = () => {
    store
      .commit(() => store.cleanupRetired())
      .then((n) => n && o.log.info({ removed: n }, 'removed expired retired webhooks'))
      .catch((err: unknown) => o.log.error({ err }, 'cleaning up retired webhooks'));
  };
  const first = setTimeout(cleanup, CLEANUP_FIRST_MS).unref();
  const hourly = setInterval(cleanup, CLEANUP_INTERVAL_MS).unref();
  return {
    store,
    worker,
    outgoing,
    incoming,
    async afterDeliver(d) {
      if (d.dsnMatched) return;
      const t = incoming(d.account);
      if (!t) return;
      const payload = await incomingPayload(d);
      await worker.queueIncoming(d.account, t, JSON.stringify(payload));
    },
    async stop() {
      clearTimeout(first);
      clearInterval(hourly);
      await worker.stop();
      await store.close();
    },
  };
}
