/**
 * Pure queue rules shared by the queue store, the scheduler, the CLI and the webapi:
 * suppression base addresses and when a failure suppresses an address (mox §3.9), hold-rule
 * matching (mox §3.4, with one consistent rule), and the backoff schedule (mox §3.2).
 */

/**
 * mox's base address: the localpart cut at the first "+", then at the first "-", all dots removed,
 * lower-cased; the domain lower-cased. "John.Doe-x+y@Ex.com" → "johndoe@ex.com". Deliberately
 * independent of any domain's configuration, so it works for remote addresses.
 */
export function baseAddress(address: string): string {
  const at = address.lastIndexOf('@');
  let lp = at >= 0 ? address.slice(0, at) : address;
  const domain = at >= 0 ? address.slice(at + 1).toLowerCase() : '';
  const plus = lp.indexOf('+');
  if (plus >= 0) lp = lp.slice(0, plus);
  const dash = lp.indexOf('-');
  if (dash >= 0) lp = lp.slice(0, dash);
  lp = lp.replace(/\./g, '').toLowerCase();
  return domain ? `${lp}@${domain}` : lp;
}

/** Reply codes that mean "this address does not exist or must not be sent to again". */
const IMMEDIATE_CODES = new Set([521, 550, 551, 553, 556]);
/** Enhanced code details (class stripped) with the same meaning (rfc3463: bad mailbox, system, syntax, moved, disabled, policy). */
const IMMEDIATE_ENHANCED = new Set(['1.1', '1.2', '1.3', '1.6', '2.1', '7.1']);

/**
 * Should a permanent failure add the recipient to the sender account's suppression list?
 * Immediately for the codes above; otherwise after three consecutive permanent failures, i.e.
 * when the two most recent earlier outcomes for the same address (retired messages) failed too.
 */
export function shouldSuppress(code: number | undefined, enhanced: string | undefined, previousOutcomes: readonly boolean[]): boolean {
  if (code === undefined || code < 500 || code > 599) return false;
  if (IMMEDIATE_CODES.has(code)) return true;
  const detail = enhanced?.replace(/^[245]\./, '');
  if (detail && IMMEDIATE_ENHANCED.has(detail)) return true;
  // previousOutcomes: success flags of earlier messages to this address, most recent first.
  return previousOutcomes.length >= 2 && !previousOutcomes[0] && !previousOutcomes[1];
}

export interface HoldRule {
  id: number;
  /** Empty string: any. */
  account: string;
  senderDomain: string;
  recipientDomain: string;
}

export interface HoldSubject {
  account: string;
  senderDomain: string;
  recipientDomain: string;
}

/**
 * A rule holds a message when every non-empty field equals the message's (an all-empty rule holds
 * everything). The same matching is used for new submissions and for existing messages when a
 * rule is added — mox uses OR for the first and AND for the second, which we don't copy.
 */
export function holdRuleMatches(r: Omit<HoldRule, 'id'>, m: HoldSubject): boolean {
  return (
    (!r.account || r.account === m.account) &&
    (!r.senderDomain || r.senderDomain === m.senderDomain.toLowerCase()) &&
    (!r.recipientDomain || r.recipientDomain === m.recipientDomain.toLowerCase())
  );
}

/** First retry after this; doubles per attempt (mox: 7.5m, 15m, 30m, 1h, 2h, 4h, 8h). */
export const BACKOFF_BASE_MS = 7.5 * 60_000;
/** Attempts before giving up (about 16 h in total with the doubling backoff). */
export const DEFAULT_MAX_ATTEMPTS = 8;
/** A "delivery delayed" DSN is sent once, after this many failed attempts. */
export const DELAYED_DSN_AFTER_ATTEMPTS = 5;
/** Random spread added to each backoff, so retries of many messages don't line up exactly. */
export const BACKOFF_JITTER_MS = 5_000;

/** Delay before the next attempt after `attempts` attempts were made (attempts ≥ 1). */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1);
  return base + Math.round((random() * 2 - 1) * BACKOFF_JITTER_MS);
}

/**
 * A relative time filter as mox: "<1h" (less than 1h ago for Submitted, within the next hour for
 * NextAttempt), ">2h", and "now" as "<0s"/">0s". Returns the comparison and the offset in ms.
 */
export function parseRelativeFilter(s: string, parseDuration: (d: string) => number): { op: '<' | '>'; ms: number } {
  const m = /^([<>])\s*(.+)$/.exec(s.trim());
  if (!m) throw new Error(`invalid time filter ${JSON.stringify(s)}: expected "<duration" or ">duration", e.g. "<1h"`);
  const v = m[2]!.trim();
  return { op: m[1] as '<' | '>', ms: v === 'now' ? 0 : parseDuration(v) };
}

/**
 * Does the sender want a DSN for this outcome? rfc3461:4.1 NOTIFY: absent means the default —
 * failures, and delays at our discretion (we send one, mox §3.2); NEVER means none; otherwise only
 * the listed conditions (SUCCESS for delivered/relayed, FAILURE, DELAY).
 */
export function wantsDsn(notify: readonly string[] | undefined, action: 'failed' | 'delayed' | 'delivered'): boolean {
  const n = (notify ?? []).map((x) => x.toUpperCase());
  if (n.length === 0) return action !== 'delivered';
  if (n.includes('NEVER')) return false;
  return n.includes(action === 'failed' ? 'FAILURE' : action === 'delayed' ? 'DELAY' : 'SUCCESS');
}
