/**
 * SuppressionList/Add/Remove/Present: the account's suppression list in queue.db (queue/store.ts),
 * keyed by mox's base address. A duplicate add or removing an absent address is code `error`, as
 * in mox (storage errors passed through).
 */
import type { QueueStore, Suppression } from '../queue/store.js';
import { parseAddress } from '../config/address.js';
import { ApiError } from './errors.js';
import type { SuppressionT } from './types.js';

export function toSuppression(s: Suppression): SuppressionT {
  return {
    ID: s.id,
    Created: s.created.toISOString(),
    Account: s.account,
    BaseAddress: s.baseAddress,
    OriginalAddress: s.originalAddress,
    Manual: s.manual,
    Reason: s.reason,
  };
}

/** "localpart@domain" checked and with the domain normalised, or badAddress. */
export function xparseAddress(address: string | null | undefined): string {
  const a = parseAddress(address ?? '');
  if (!a) throw new ApiError('badAddress', `invalid email address ${JSON.stringify(address ?? '')}`);
  return `${a.localpart}@${a.domain}`;
}

export function suppressionList(queue: QueueStore, account: string): { Suppressions: SuppressionT[] } {
  return { Suppressions: queue.listSuppressions(account).map(toSuppression) };
}

export function suppressionAdd(queue: QueueStore, account: string, req: { EmailAddress?: string | null; Manual?: boolean | null; Reason?: string | null }): Record<string, never> {
  const addr = xparseAddress(req.EmailAddress);
  if (!queue.addSuppression(account, addr, { manual: !!req.Manual, reason: req.Reason ?? '' })) {
    throw new ApiError('error', `address ${addr} is already present in the suppression list`);
  }
  return {};
}

export function suppressionRemove(queue: QueueStore, account: string, req: { EmailAddress?: string | null }): Record<string, never> {
  const addr = xparseAddress(req.EmailAddress);
  if (!queue.removeSuppression(account, addr)) throw new ApiError('error', `address ${addr} is not present in the suppression list`);
  return {};
}

export function suppressionPresent(queue: QueueStore, account: string, req: { EmailAddress?: string | null }): { Present: boolean } {
  const addr = xparseAddress(req.EmailAddress);
  return { Present: queue.lookupSuppression(account, addr) !== undefined };
}
