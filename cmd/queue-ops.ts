/**
 * Queue admin operations as plain JSON in / JSON out, so the same code runs in the server (behind
 * the ctl socket) and in the CLI when no server is running. The web admin will call these too.
 */
import type { QueueStore, QueueFilter, ListSort, QueuedMsg, RetiredMsg } from '../queue/store.js';
import { parseRelativeFilter } from '../queue/rules.js';
import { parseDuration } from '../config/duration.js';
import { dsnsForSender } from '../queue/dsn.js';

/** What queue operations need beyond the queue: delivering DSNs to local senders. */
export interface QueueOpContext {
  hostname: string;
  /** Store a message in an account's Inbox, durably. */
  deliverToAccount(account: string, message: Buffer): Promise<void>;
}

/** Filter as it travels over ctl: strings from CLI flags. */
export interface FilterArgs {
  ids?: number[];
  account?: string;
  from?: string;
  to?: string;
  hold?: boolean;
  submitted?: string;
  nextattempt?: string;
  transport?: string;
}

export function toFilter(a: FilterArgs): QueueFilter {
  const f: QueueFilter = {};
  if (a.ids?.length) f.ids = a.ids.map(Number);
  if (a.account) f.account = a.account;
  if (a.from) f.from = a.from;
  if (a.to) f.to = a.to;
  if (a.hold !== undefined) f.hold = a.hold;
  if (a.submitted) f.submitted = parseRelativeFilter(a.submitted, parseDuration);
  if (a.nextattempt) f.nextAttempt = parseRelativeFilter(a.nextattempt, parseDuration);
  if (a.transport !== undefined) f.transport = a.transport === '' ? null : a.transport;
  return f;
}

/** Operations that change many messages must be given a filter: an empty one would mean "all". */
function requireFilter(a: FilterArgs, all: boolean | undefined, op: string): void {
  const empty = !a.ids?.length && !a.account && !a.from && !a.to && a.hold === undefined && !a.submitted && !a.nextattempt && a.transport === undefined;
  if (empty && !all) throw new Error(`${op} needs a filter (e.g. --ids, --to) or --all`);
}

function jsonMsg(m: QueuedMsg | RetiredMsg): Record<string, unknown> {
  return JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
}

export async function queueOp(q: QueueStore, op: string, a: Record<string, unknown>, ctx?: QueueOpContext): Promise<unknown> {
  const fa = (a.filter ?? {}) as FilterArgs;
  switch (op) {
    case 'list': {
      const sort: ListSort = { field: a.sort === 'queued' ? 'queued' : 'nextAttempt', asc: a.asc !== false };
      if (a.afterId !== undefined && a.afterValue !== undefined) sort.after = { id: Number(a.afterId), value: new Date(String(a.afterValue)) };
      return q.list(toFilter(fa), sort, Number(a.max ?? 100)).map(jsonMsg);
    }
    case 'count':
      return q.count(toFilter(fa));
    case 'hold':
    case 'unhold':
      requireFilter(fa, a.all as boolean, op);
      return q.hold(toFilter(fa), op === 'hold');
    case 'schedule': {
      requireFilter(fa, a.all as boolean, op);
      const ms = parseDuration(String(a.duration ?? '0s'));
      return q.schedule(toFilter(fa), a.now ? { fromNowMs: ms } : { addMs: ms });
    }
    case 'transport':
      requireFilter(fa, a.all as boolean, op);
      return q.setTransport(toFilter(fa), a.transport ? String(a.transport) : null);
    case 'requiretls': {
      requireFilter(fa, a.all as boolean, op);
      const v = String(a.value);
      if (!['yes', 'no', 'default'].includes(v)) throw new Error('requiretls takes yes, no or default');
      return q.setRequireTLS(toFilter(fa), v === 'default' ? null : v === 'yes');
    }
    case 'drop':
      requireFilter(fa, a.all as boolean, op);
      return (await q.retire(toFilter(fa), 'canceled', { success: false, error: 'delivery canceled by admin' })).map(jsonMsg);
    case 'fail': {
      // Like drop, but the sender gets a failure DSN (mox's "queue fail").
      requireFilter(fa, a.all as boolean, op);
      if (!ctx) throw new Error('fail needs the message store to deliver DSNs');
      const filter = toFilter(fa);
      const originals = new Map<number, Buffer>();
      for (const m of q.list(filter, { field: 'queued' }, 1_000_000)) {
        if (!originals.has(m.baseId)) originals.set(m.baseId, await q.messageBytes(m.id));
      }
      const retired = await q.retire(filter, 'failed', { success: false, error: 'delivery canceled by admin' });
      for (const d of dsnsForSender(retired, 'failed', { hostname: ctx.hostname, originals })) await ctx.deliverToAccount(d.account, d.message);
      return retired.map(jsonMsg);
    }
    case 'dump':
      return (await q.messageBytes(Number(a.id))).toString('latin1');
    case 'holdrules-list':
      return q.listHoldRules();
    case 'holdrules-add':
      return q.addHoldRule({ account: String(a.account ?? ''), senderDomain: String(a.senderDomain ?? ''), recipientDomain: String(a.recipientDomain ?? '') });
    case 'holdrules-remove':
      if (!q.removeHoldRule(Number(a.id))) throw new Error(`no hold rule ${String(a.id)}`);
      return null;
    case 'retired-list': {
      // Newest first; keyset pagination by the last row's lastActivity and id.
      const after = a.afterId !== undefined && a.afterValue !== undefined ? { id: Number(a.afterId), lastActivity: new Date(String(a.afterValue)) } : undefined;
      return q.listRetired({ account: (a.account as string | undefined) || undefined, to: a.to as string | undefined, success: a.success as boolean | undefined }, after, Number(a.max ?? 100)).map(jsonMsg);
    }
    case 'retired-print': {
      const r = q.getRetired(Number(a.id));
      if (!r) throw new Error(`no retired message ${String(a.id)}`);
      return jsonMsg(r);
    }
    case 'suppress-list':
      return q.listSuppressions(a.account as string | undefined);
    case 'suppress-add':
      return q.addSuppression(String(a.account), String(a.address), { manual: true, reason: String(a.reason ?? 'added by admin') });
    case 'suppress-remove':
      return q.removeSuppression(String(a.account), String(a.address));
    case 'suppress-lookup':
      return q.lookupSuppression(String(a.account), String(a.address)) ?? null;
    default:
      throw new Error(`unknown queue operation ${JSON.stringify(op)}`);
  }
}
