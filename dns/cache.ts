/**
 * A small TTL + LRU cache in front of a Resolver. mailauth does no DNS caching of its own, and one
 * incoming message easily asks for the same SPF/DKIM/DMARC names several times (and the next
 * message from the same sender asks again).
 *
 * node's resolver does not report TTLs for most calls, so answers are kept for a fixed short time
 * (POSITIVE_TTL_MS), and "does not exist" answers (ENOTFOUND, ENODATA; rfc2308 negative caching)
 * for a shorter time (NEGATIVE_TTL_MS). A cached negative answer is rethrown as an error with the
 * same `code`, so callers (and mailauth) see exactly what the inner resolver said. Temporary
 * failures (ETIMEOUT, ESERVFAIL, …) are never cached. Concurrent lookups of the same question share
 * one inner lookup.
 */
import type { MxRecord, Resolver } from './resolver.js';

/** Positive answers are reused this long: short, since we don't know the record's real TTL. */
export const POSITIVE_TTL_MS = 60_000;
/** Negative answers (ENOTFOUND/ENODATA) are reused briefly, so a freshly published record shows up soon. */
export const NEGATIVE_TTL_MS = 30_000;
/** Default entry limit: plenty for a small server's working set, a few MB at most. */
export const DEFAULT_MAX_ENTRIES = 5000;

/** Anything with `now()` in milliseconds since the epoch; the global `Date` qualifies. */
export interface Clock {
  now(): number;
}

export interface CacheOptions {
  maxEntries?: number;
  clock?: Clock;
  positiveTtlMs?: number;
  negativeTtlMs?: number;
}

interface Entry {
  expires: number;
  value?: unknown;
  error?: { code: string; message: string; hostname?: string; syscall?: string };
}

export interface CachingResolver extends Resolver {
  /** Number of cached entries (for tests and metrics). */
  size(): number;
  /** Forget everything (e.g. after the operator changed DNS and wants it seen now). */
  clear(): void;
  stats: { hits: number; misses: number };
  /**
   * When the cached answer to resolve(name, rrtype) expires (the cache's clock, ms), or undefined
   * if it is not cached now: for results derived from cached answers (auth/verify.ts SPF
   * verdicts), which may then be reused exactly as long as every answer they came from.
   */
  cacheExpiry(name: string, rrtype: string): number | undefined;
  /** The cache's clock. */
  now(): number;
}

const SHARED_KINDS = new Set(['MX', 'TXT', 'A', 'AAAA', 'CNAME']);
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA']);

function rethrow(e: NonNullable<Entry['error']>): never {
  const err = new Error(e.message) as Error & { code: string; hostname?: string; syscall?: string };
  err.code = e.code;
  if (e.hostname !== undefined) err.hostname = e.hostname;
  if (e.syscall !== undefined) err.syscall = e.syscall;
  throw err;
}

/**
 * Deep copy of an answer (arrays of strings, of string arrays (TXT) or of plain records (MX,
 * SOA)), so callers can't modify cached answers. Plain recursion: several times cheaper than
 * structuredClone for these small values, and it runs for every lookup of every message.
 */
function copy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(copy) as T;
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = copy(x);
    return o as T;
  }
  return v;
}

export function cachingResolver(inner: Resolver, opts: CacheOptions = {}): CachingResolver {
  const maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
  const clock = opts.clock ?? Date;
  const posTtl = opts.positiveTtlMs ?? POSITIVE_TTL_MS;
  const negTtl = opts.negativeTtlMs ?? NEGATIVE_TTL_MS;
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<unknown>>();
  const stats = { hits: 0, misses: 0 };

  const store = (key: string, e: Entry) => {
    entries.delete(key);
    entries.set(key, e);
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
  };

  const keyOf = (kind: string, name: string) => `${kind} ${name.toLowerCase().replace(/\.$/, '')}`;
  const kindOf = (rrtype: string) => {
    const t = rrtype.toUpperCase();
    return SHARED_KINDS.has(t) ? t : `R-${t}`;
  };

  async function cached<T>(kind: string, name: string, lookup: () => Promise<T>): Promise<T> {
    const key = keyOf(kind, name);
    const e = entries.get(key);
    if (e && e.expires > clock.now()) {
      stats.hits++;
      entries.delete(key);
      entries.set(key, e);
      if (e.error) rethrow(e.error);
      return copy(e.value as T);
    }
    if (e) entries.delete(key);
    const pending = inflight.get(key);
    if (pending) {
      stats.hits++;
      return copy((await pending) as T);
    }
    stats.misses++;
    const p = lookup().then(
      (value) => {
        store(key, { expires: clock.now() + posTtl, value });
        return value;
      },
      (err: unknown) => {
        const x = err as { code?: string; message?: string; hostname?: string; syscall?: string };
        if (x?.code && NEGATIVE_CODES.has(x.code)) {
          store(key, {
            expires: clock.now() + negTtl,
            error: { code: x.code, message: x.message ?? x.code, hostname: x.hostname, syscall: x.syscall },
          });
        }
        throw err;
      },
    );
    inflight.set(key, p);
    try {
      return copy(await p);
    } finally {
      inflight.delete(key);
    }
  }

  return {
    resolveMx: (n) => cached<MxRecord[]>('MX', n, () => inner.resolveMx(n)),
    resolveTxt: (n) => cached<string[][]>('TXT', n, () => inner.resolveTxt(n)),
    resolve4: (n) => cached<string[]>('A', n, () => inner.resolve4(n)),
    resolve6: (n) => cached<string[]>('AAAA', n, () => inner.resolve6(n)),
    resolveCname: (n) => cached<string[]>('CNAME', n, () => inner.resolveCname(n)),
    reverse: (ip) => cached<string[]>('PTR-IP', ip, () => inner.reverse(ip)),
    // resolve(name, 'TXT') answers exactly like resolveTxt(name), so they share entries.
    resolve: (n, rrtype) => cached<unknown>(kindOf(rrtype), n, () => inner.resolve(n, rrtype)),
    cacheExpiry: (n, rrtype) => {
      const e = entries.get(keyOf(kindOf(rrtype), n));
      return e && e.expires > clock.now() ? e.expires : undefined;
    },
    now: () => clock.now(),
    size: () => entries.size,
    clear: () => entries.clear(),
    stats,
  };
}
