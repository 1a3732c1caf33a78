/**
 * Go-style durations as used in mox config files: "72h", "7.5m", "1h30m", "15s", "250ms", "0".
 * Units: ns, us (or µs/μs), ms, s, m, h. No days: like Go, write "720h" for 30 days.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/;

/**
 * Parse a Go duration string into milliseconds (may be fractional for sub-millisecond units).
 * Throws an Error with a short reason for anything Go's time.ParseDuration would refuse.
 */
export function parseDuration(s: string): number {
  if (typeof s !== 'string') throw new Error(`duration must be a string, got ${typeof s}`);
  const orig = s;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`invalid duration ${JSON.stringify(orig)}`);
  let total = 0;
  while (s !== '') {
    const m = PART.exec(s);
    if (!m) {
      if (/^[0-9.]+$/.test(s)) throw new Error(`missing unit in duration ${JSON.stringify(orig)} (use e.g. "15s", "7.5m", "72h")`);
      throw new Error(`invalid duration ${JSON.stringify(orig)} (use e.g. "15s", "7.5m", "1h30m", "72h")`);
    }
    const num = m[1]!;
    if (num === '' || num === '.') throw new Error(`invalid duration ${JSON.stringify(orig)}`);
    total += Number(num) * UNIT_MS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  if (!Number.isFinite(total)) throw new Error(`duration out of range ${JSON.stringify(orig)}`);
  return sign * total;
}

/** Format milliseconds compactly in Go notation without zero parts: 5400000 → "1h30m", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out = '';
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (rest) {
    if (rest >= 1000 || out !== '') out += `${+(rest / 1000).toFixed(6)}s`;
    else out += `${+rest.toFixed(6)}ms`;
  }
  return (neg ? '-' : '') + out;
}
