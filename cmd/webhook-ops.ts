/**
 * Webhook admin operations as plain JSON in / JSON out (like queue-ops.ts): run in the server
 * behind the ctl socket, or by the CLI directly on queue.db when no server runs. mox's
 * `queue webhook list|schedule|cancel|print`, `queue webhook retired list|print`, plus replay,
 * test (POST an example payload to the configured URL) and the signing secret (show, rotate,
 * peek: creation time and fingerprint only).
 */
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { parseRelativeFilter } from '../queue/rules.js';
import { parseDuration } from '../config/duration.js';
import type { HookFilter, HookSort, RetiredHookFilter, WebhookStore } from '../webhook/store.js';
import { outgoingTarget, incomingTarget } from '../webhook/service.js';
import { postWebhook } from '../webhook/worker.js';
import { exampleIncoming, exampleOutgoing } from '../webhook/examples.js';

export interface WebhookOpContext {
  config: () => DynamicConfig;
  userAgent: string;
  clock?: () => Date;
}

/** What the operations act on: the store, and the running worker (to wake it) if any. */
export interface WebhookOpTarget {
  store: WebhookStore;
  worker?: { kick(): void; secretsChanged(account?: string): void };
}

/** Filter as it travels over ctl (strings from CLI flags). */
export interface HookFilterArgs {
  ids?: number[];
  account?: string;
  submitted?: string;
  nextattempt?: string;
  lastactivity?: string;
  event?: string;
  success?: boolean;
}

const EVENTS = ['incoming', 'delivered', 'suppressed', 'delayed', 'failed', 'relayed', 'expanded', 'canceled', 'unrecognized', 'complained'];

function checkEvent(e: string | undefined): void {
  if (e !== undefined && !EVENTS.includes(e)) throw new Error(`unknown event ${JSON.stringify(e)}; one of ${EVENTS.join(', ')}`);
}

export function toHookFilter(a: HookFilterArgs): HookFilter {
  checkEvent(a.event);
  const f: HookFilter = {};
  if (a.ids?.length) f.ids = a.ids.map(Number);
  if (a.account) f.account = a.account;
  if (a.submitted) f.submitted = parseRelativeFilter(a.submitted, parseDuration);
  if (a.nextattempt) f.nextAttempt = parseRelativeFilter(a.nextattempt, parseDuration);
  if (a.event) f.event = a.event;
  return f;
}

export function toRetiredFilter(a: HookFilterArgs): RetiredHookFilter {
  checkEvent(a.event);
  const f: RetiredHookFilter = {};
  if (a.ids?.length) f.ids = a.ids.map(Number);
  if (a.account) f.account = a.account;
  if (a.submitted) f.submitted = parseRelativeFilter(a.submitted, parseDuration);
  if (a.lastactivity) f.lastActivity = parseRelativeFilter(a.lastactivity, parseDuration);
  if (a.event) f.event = a.event;
  if (a.success !== undefined) f.success = a.success;
  return f;
}

function requireFilter(a: HookFilterArgs, all: unknown, op: string): void {
  const empty = !a.ids?.length && !a.account && !a.submitted && !a.nextattempt && !a.event;
  if (empty && !all) throw new Error(`${op} needs a filter (e.g. --ids, --account) or --all`);
}

/** JSON form for the CLI: the Authorization of queued hooks is not shown, only whether there is one. */
function json(h: object): Record<string, unknown> {
  const o = JSON.parse(JSON.stringify(h)) as Record<string, unknown>;
  if ('authorization' in o) {
    o.hasAuthorization = o.authorization !== '';
    delete o.authorization;
  }
  return o;
}

export async function webhookOp(t: WebhookOpTarget, op: string, a: Record<string, unknown>, ctx: WebhookOpContext): Promise<unknown> {
  const s = t.store;
  const fa = (a.filter ?? {}) as HookFilterArgs;
  const now = () => (ctx.clock ? ctx.clock() : new Date());
  switch (op) {
    case 'list': {
      const sort: HookSort = { field: a.sort === 'submitted' ? 'submitted' : 'nextAttempt', asc: a.asc !== false };
      if (a.afterId !== undefined && a.afterValue !== undefined) sort.after = { id: Number(a.afterId), value: new Date(String(a.afterValue)) };
      return s.list(toHookFilter(fa), sort, Number(a.max ?? 100)).map(json);
    }
    case 'schedule': {
      requireFilter(fa, a.all, op);
      const ms = parseDuration(String(a.duration ?? '0s'));
      const f = toHookFilter(fa);
      const n = await s.commit(() => (a.now ? s.schedule(f, { at: new Date(now().getTime() + ms) }) : s.schedule(f, { addMs: ms })));
      t.worker?.kick();
      return n;
    }
    case 'cancel': {
      requireFilter(fa, a.all, op);
      const f = toHookFilter(fa);
      return s.commit(() => s.cancel(f));
    }
    case 'print': {
      const h = s.get(Number(a.id));
      if (!h) throw new Error(`no queued webhook ${String(a.id)}`);
      return json(h);
    }
    case 'retired-list': {
      const after = a.afterId !== undefined && a.afterValue !== undefined ? { id: Number(a.afterId), lastActivity: new Date(String(a.afterValue)) } : undefined;
      return s.listRetired(toRetiredFilter(fa), Number(a.max ?? 100), after).map(json);
    }
    case 'retired-print': {
      const h = s.getRetired(Number(a.id));
      if (!h) throw new Error(`no retired webhook ${String(a.id)}`);
      return json(h);
    }
    case 'replay': {
      const id = Number(a.id);
      const r = s.getRetired(id);
      if (!r) throw new Error(`no retired webhook ${String(a.id)}`);
      const cfg = ctx.config();
      const target = r.isIncoming ? incomingTarget(cfg, r.account) : outgoingTarget(cfg, r.account);
      const newId = await s.commit(() => s.replay(id, target));
      t.worker?.kick();
      return newId;
    }
    case 'test': {
      // POST an example payload to the account's configured URL, once, and report what happened.
      const account = String(a.account ?? '');
      const kind = String(a.kind ?? 'outgoing');
      const cfg = ctx.config();
      if (!cfg.Accounts[account]) throw new Error(`no such account ${JSON.stringify(account)}`);
      if (kind !== 'outgoing' && kind !== 'incoming') throw new Error('kind must be outgoing or incoming');
      const target = kind === 'incoming' ? incomingTarget(cfg, account) : outgoingTarget(cfg, account);
      const url = a.url ? String(a.url) : target?.url;
      if (!url) throw new Error(`account ${account} has no ${kind === 'incoming' ? 'IncomingWebhook' : 'OutgoingWebhook'} URL configured (or pass --url)`);
      const when = now();
      const payload = JSON.stringify(kind === 'incoming' ? exampleIncoming(when) : exampleOutgoing(when));
      const sec = await s.commit(() => s.secrets(account));
      const r = await postWebhook({
        url,
        authorization: target?.authorization,
        payload,
        hookId: 0,
        webhookId: `msg_test_${when.getTime()}`,
        attempt: 1,
        secrets: sec.previous ? [sec.current, sec.previous] : [sec.current],
        timestamp: Math.floor(when.getTime() / 1000),
        userAgent: ctx.userAgent,
      });
      return { url, payload, ...r };
    }
    case 'secret': {
      const account = String(a.account ?? '');
      if (!ctx.config().Accounts[account]) throw new Error(`no such account ${JSON.stringify(account)}`);
      // peek: only the creation time and a fingerprint, never the secret, and none is created.
      if (a.peek) return s.secretInfo(account) ?? null;
      if (a.rotate) {
        const overlap = parseDuration(String(a.overlap ?? '24h'));
        const r = await s.commit(() => s.rotateSecret(account, overlap));
        t.worker?.secretsChanged(account);
        return r;
      }
      return s.commit(() => s.secrets(account));
    }
    default:
      throw new Error(`unknown webhook operation ${JSON.stringify(op)}`);
  }
}
