/**
 * DSNs from the queue to the sender (rfc3464 via dsn/compose.ts): which recipients of which
 * submission, with what status. Delivered straight into the sending account's Inbox by the
 * caller (mox does the same: the sender is a local account).
 */
import { composeDsn, type DsnRecipient } from '../dsn/compose.js';
import type { RetiredMsg, QueuedMsg } from './store.js';

/** Status for a recipient from its last attempt (rfc3463): the remote's enhanced code when known. */
function statusOf(m: Pick<QueuedMsg, 'results'>, action: QueueDsnAction): { status: string; diagnostic?: string; last?: Date } {
  const r = m.results.at(-1);
  const fallback = action === 'failed' ? '5.0.0' : action === 'delayed' ? '4.0.0' : '2.0.0';
  if (action === 'delivered' || action === 'relayed') return { status: r?.enhanced?.startsWith('2.') ? r.enhanced : fallback, last: r ? new Date(r.start) : undefined };
  const diagnostic = r?.code ? `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.error}` : undefined;
  return { status: r?.enhanced ?? fallback, diagnostic, last: r ? new Date(r.start) : undefined };
}

/** rfc3464:2.3.3 actions the queue reports: failures, delays, and successes asked for with NOTIFY=SUCCESS. */
export type QueueDsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

export interface SenderDsn {
  account: string;
  message: Buffer;
}

/**
 * One DSN per submission (base id) for the given finished or delayed messages. `originals` maps a
 * base id to the original message's bytes (its headers are returned, rfc3462 text/rfc822-headers).
 */
export function dsnsForSender(
  msgs: ReadonlyArray<RetiredMsg | QueuedMsg>,
  action: QueueDsnAction,
  opts: { hostname: string; originals: Map<number, Buffer>; willRetryUntil?: Date; now?: Date },
): SenderDsn[] {
  const byBase = new Map<number, Array<RetiredMsg | QueuedMsg>>();
  for (const m of msgs) {
    if (!m.senderLocalpart && !m.senderDomain) continue; // null reverse path: never bounce a bounce
    byBase.set(m.baseId, [...(byBase.get(m.baseId) ?? []), m]);
  }
  const out: SenderDsn[] = [];
  for (const [baseId, group] of byBase) {
    const first = group[0]!;
    const recipients: DsnRecipient[] = group.map((m) => {
      const s = statusOf(m, action);
      return {
        finalRecipient: `${m.recipientLocalpart}@${m.recipientDomain}`,
        originalRecipient: m.dsn.orcpt,
        action,
        status: s.status,
        diagnosticCode: s.diagnostic,
        lastAttemptDate: s.last,
        willRetryUntil: action === 'delayed' ? opts.willRetryUntil : undefined,
      };
    });
    out.push({
      account: first.senderAccount,
      message: composeDsn({
        hostname: opts.hostname,
        to: `${first.senderLocalpart}@${first.senderDomain}`,
        date: opts.now,
        originalMessageID: first.messageId || undefined,
        originalEnvelopeID: first.dsn.envid,
        arrivalDate: first.queued,
        recipients,
        original: opts.originals.get(baseId),
        ret: first.dsn.ret ?? 'HDRS',
      }),
    });
  }
  return out;
}
