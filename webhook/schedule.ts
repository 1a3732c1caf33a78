/**
 * When webhook attempts happen (mox §2.2): the first at once, then after 1m, 2m, 4m, 7.5m, 15m,
 * 30m, 1h, 2h, 4h, 8h, 16h, each with ±1% jitter: 12 attempts over about 32 hours. A receiver's
 * Retry-After (rfc9110:10.2.3) can only push an attempt later, never earlier, and is capped.
 */

const MIN = 60_000;
/** Waits after attempt 1, 2, …, 11 (mox's schedule). */
export const RETRY_INTERVALS_MS: readonly number[] = [1, 2, 4, 7.5, 15, 30, 60, 120, 240, 480, 960].map((m) => m * MIN);
/** Attempts in total; after the last failure the webhook is retired as failed. */
export const MAX_ATTEMPTS = RETRY_INTERVALS_MS.length + 1;
/** ±1% jitter, so hooks queued together do not retry in lockstep. */
export const JITTER = 0.01;
/** A Retry-After further away than this is capped: a receiver cannot park a webhook for days. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * MIN;

/**
 * Time of the next attempt after `attempts` failed attempts (1-based count), or null when none is
 * left. `random` in [0, 1): 0.5 means no jitter.
 */
export function nextAttemptAt(now: number, attempts: number, random: () => number = Math.random, retryAfterMs?: number): number | null {
  if (attempts >= MAX_ATTEMPTS) return null;
  const base = RETRY_INTERVALS_MS[Math.max(0, attempts - 1)]!;
  const wait = base * (1 + (random() * 2 - 1) * JITTER);
  const honoured = retryAfterMs !== undefined ? Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS) : 0;
  return now + Math.round(Math.max(wait, honoured));
}

/** Retry-After as delay-seconds or an HTTP-date (rfc9110:10.2.3), in ms from now; undefined if absent/invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}
