/**
 * Fixed-window rate limiting per IP class, as mox: class 1 is the IPv4 /32 or IPv6 /64, class 2
 * /26 or /48, class 3 /21 or /32. Each limit has one maximum per class, so a whole network is
 * limited more loosely than one address but still limited. Used for SMTP/IMAP connection rates,
 * incoming message/byte volume, and (issue "Submission") failed logins shared by all protocols.
 *
 * In memory only: limits protect the running process; a restart resets them, as in mox.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Prefix lengths per class for IPv4 and IPv6 (mox's ratelimit classes). */
export const IPV4_CLASS_BITS = [32, 26, 21] as const;
export const IPV6_CLASS_BITS = [64, 48, 32] as const;

/** Recently computed ipClasses (it runs several times per SMTP message for the same peer). */
const classCache = new Map<string, readonly [string, string, string]>();
const CLASS_CACHE_MAX = 4096;

/** Masked network of `ip` for each class, as strings usable as map keys. */
export function ipClasses(ip: string): [string, string, string] {
  const hit = classCache.get(ip);
  if (hit) return [hit[0], hit[1], hit[2]];
  const c = computeIpClasses(ip);
  if (classCache.size >= CLASS_CACHE_MAX) classCache.clear();
  classCache.set(ip, [c[0], c[1], c[2]]);
  return c;
}

function computeIpClasses(ip: string): [string, string, string] {
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7);
  if (isIPv4(ip)) {
    const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return IPV4_CLASS_BITS.map((bits) => {
      const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
      return `4:${((n & mask) >>> 0).toString(16)}/${bits}`;
    }) as [string, string, string];
  }
  if (isIPv6(ip)) {
    const words = expandIPv6(ip);
    return IPV6_CLASS_BITS.map((bits) => {
      const keep = bits / 16; // all our IPv6 class sizes are multiples of 16
      return `6:${words.slice(0, keep).join(':')}/${bits}`;
    }) as [string, string, string];
  }
  // Not an IP (e.g. a unix socket peer): one shared bucket.
  return ['x:' + ip, 'x:' + ip, 'x:' + ip];
}

function expandIPv6(ip: string): string[] {
  let s = ip.split('%')[0]!;
  // An embedded IPv4 tail becomes two words.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((w) => parseInt(w || '0', 16).toString(16));
}

export interface WindowLimit {
  /** Window length in ms. */
  windowMs: number;
  /** Maximum per class 1, 2, 3. */
  max: readonly [number, number, number];
}

/**
 * A fixed-window counter per IP class and per window. `add(ip, n)` counts n (messages, bytes,
 * attempts) if every limit has room for it and returns true; otherwise counts nothing and returns
 * false.
 */
export class RateLimiter {
  private readonly windows: Array<{ limit: WindowLimit; start: number; counts: Map<string, number> }>;

  constructor(
    limits: readonly WindowLimit[],
    private readonly clock: () => number = Date.now,
  ) {
    this.windows = limits.map((limit) => ({ limit, start: 0, counts: new Map() }));
  }

  private roll(): void {
    const now = this.clock();
    for (const w of this.windows) {
      const start = now - (now % w.limit.windowMs);
      if (start !== w.start) {
        w.start = start;
        w.counts.clear(); // also bounds memory: only the current window's keys are kept
      }
    }
  }

  /** Would adding n exceed any limit? Counts nothing. */
  canAdd(ip: string, n = 1): boolean {
    this.roll();
    return this.fits(ipClasses(ip), n);
  }

  private fits(classes: readonly string[], n: number): boolean {
    for (const w of this.windows) for (let i = 0; i < 3; i++) if ((w.counts.get(classes[i]!) ?? 0) + n > w.limit.max[i]!) return false;
    return true;
  }

  add(ip: string, n = 1): boolean {
    this.roll();
    const classes = ipClasses(ip);
    if (!this.fits(classes, n)) return false;
    for (const w of this.windows) for (const c of classes) w.counts.set(c, (w.counts.get(c) ?? 0) + n);
    return true;
  }

  /**
   * Forget an IP's counts in every window (a successful login resets its failures), and take
   * them back out of its /26 and /21 (or /48, /32) totals too, as mox does: otherwise typos of
   * users who then log in fine would slowly fill the limits of a shared network.
   */
  reset(ip: string): void {
    this.roll();
    const [c1, c2, c3] = ipClasses(ip);
    for (const w of this.windows) {
      const n = w.counts.get(c1) ?? 0;
      if (!n) continue;
      w.counts.delete(c1);
      for (const c of [c2, c3]) {
        const v = (w.counts.get(c) ?? 0) - n;
        if (v > 0) w.counts.set(c, v);
        else w.counts.delete(c);
      }
    }
  }
}

/** Concurrent-connection counting per IP class, with one maximum per class. */
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: readonly [number, number, number]) {}

  /** Take a slot; returns a release function, or undefined when over the limit. */
  acquire(ip: string): (() => void) | undefined {
    const classes = ipClasses(ip);
    if (classes.some((c, i) => (this.counts.get(c) ?? 0) >= this.max[i]!)) return undefined;
    for (const c of classes) this.counts.set(c, (this.counts.get(c) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const c of classes) {
        const n = (this.counts.get(c) ?? 1) - 1;
        if (n <= 0) this.counts.delete(c);
        else this.counts.set(c, n);
      }
    };
  }

  get size(): number {
    return this.counts.size;
  }
}
