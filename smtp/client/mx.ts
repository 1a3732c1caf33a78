/**
 * Where to deliver mail for a domain: MX lookup with CNAME following, implicit MX and null MX
 * (rfc5321:5.1, rfc7505), and the IP addresses of one MX host. Only the injected `Resolver` is used.
 *
 * Error classification follows dns/resolver.ts: ENOTFOUND (NXDOMAIN) is a definite "does not exist",
 * ENODATA is "no records of this type", anything else (SERVFAIL, timeouts, refused) is temporary.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import type { MxRecord, Resolver } from '../../dns/resolver.js';

export interface MxHost {
  host: string;
  preference: number;
}

export type MxResult =
  | { kind: 'mx'; hosts: MxHost[] }
  /** rfc7505: the domain accepts no mail. */
  | { kind: 'nullmx' }
  /** rfc5321:5.1: no MX records, but the (CNAME-resolved) name has addresses: it is its own MX. */
  | { kind: 'implicit'; hosts: MxHost[] }
  | { kind: 'error'; temporary: boolean; message: string };

export interface ResolveMxOptions {
  /** Random number in [0, 1) for ordering hosts of equal preference; default Math.random. */
  random?: () => number;
}

/** CNAME chains longer than this are treated as a (temporary) misconfiguration or loop. */
export const MAX_CNAME_HOPS = 10;

function errCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

function describe(err: unknown): string {
  const code = errCode(err);
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** Lowercase A-label form without trailing dot; undefined for names that cannot be converted. */
export function normalizeDomain(domain: string): string | undefined {
  let d = domain.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  const ascii = domainToASCII(d);
  return ascii ? ascii.toLowerCase() : undefined;
}

/** Sort by preference (lowest first, rfc5321:5.1) and shuffle hosts of equal preference. */
export function orderMxHosts(hosts: MxHost[], random: () => number = Math.random): MxHost[] {
  const byPref = new Map<number, MxHost[]>();
  for (const h of hosts) {
    const l = byPref.get(h.preference) ?? [];
    l.push(h);
    byPref.set(h.preference, l);
  }
  const out: MxHost[] = [];
  for (const pref of [...byPref.keys()].sort((a, b) => a - b)) {
    const group = byPref.get(pref)!;
    // rfc5321:5.1 "If there are multiple destinations with the same preference and there is no
    // clear reason to favor one ... the SMTP client SHOULD randomize them". Fisher–Yates.
    for (let i = group.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [group[i], group[j]] = [group[j]!, group[i]!];
    }
    out.push(...group);
  }
  return out;
}

/** Resolve the MX hosts to try for `domain`, in order. */
export async function resolveMx(domain: string, resolver: Resolver, opts: ResolveMxOptions = {}): Promise<MxResult> {
  const start = normalizeDomain(domain);
  if (!start) return { kind: 'error', temporary: false, message: `invalid domain ${JSON.stringify(domain)}` };

  // rfc5321:5.1 "If a CNAME record is found, the resulting domain is processed as if it were the
  // initial domain." Follow the chain ourselves so the implicit MX uses the canonical name.
  let name = start;
  const seen = new Set<string>([name]);
  for (let hops = 0; ; hops++) {
    let targets: string[];
    try {
      targets = await resolver.resolveCname(name);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENODATA') break; // the name exists and is not an alias
      if (code === 'ENOTFOUND') return { kind: 'error', temporary: false, message: `domain ${name} does not exist (NXDOMAIN)` };
      return { kind: 'error', temporary: true, message: `looking up CNAME for ${name}: ${describe(err)}` };
    }
    const target = targets[0] ? normalizeDomain(targets[0]) : undefined;
    if (!target) break;
    if (seen.has(target) || hops + 1 > MAX_CNAME_HOPS) {
      return { kind: 'error', temporary: true, message: `CNAME loop or chain too long at ${name}` };
    }
    seen.add(target);
    name = target;
  }

  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(name);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOTFOUND') return { kind: 'error', temporary: false, message: `domain ${name} does not exist (NXDOMAIN)` };
    if (code !== 'ENODATA') return { kind: 'error', temporary: true, message: `looking up MX for ${name}: ${describe(err)}` };
    records = [];
  }

  // rfc7505:3 a null MX is a single MX record with preference 0 and exchange "." (node reports "").
  const isNull = (ex: string) => ex === '' || ex === '.';
  if (records.length === 1 && isNull(records[0]!.exchange)) return { kind: 'nullmx' };
  // A "." among other MX records is invalid (rfc7505:3 "MUST NOT"); ignore just that record.
  const hosts = records
    .filter((r) => !isNull(r.exchange))
    .map((r) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), preference: r.priority }));
  if (hosts.length > 0) return { kind: 'mx', hosts: orderMxHosts(hosts, opts.random) };

  // rfc5321:5.1 "If an empty list of MXs is returned, the address is treated as if it was
  // associated with an implicit MX RR, with a preference of 0, pointing to that host."
  // Only when the name has addresses; otherwise there is nowhere to deliver.
  const r = await lookupAddresses(name, resolver, {});
  if (r.ips.length > 0) return { kind: 'implicit', hosts: [{ host: name, preference: 0 }] };
  if (r.temporary) return { kind: 'error', temporary: true, message: `no MX records for ${name}, looking up addresses: ${r.errors.join('; ')}` };
  return { kind: 'error', temporary: false, message: `no MX or address records for ${name}` };
}

export interface HostIPOptions {
  disableIPv4?: boolean;
  disableIPv6?: boolean;
}

/** A failed address lookup; `temporary` false means the host definitely has no usable address. */
export class HostLookupError extends Error {
  override readonly name = 'HostLookupError';
  constructor(message: string, readonly temporary: boolean) {
    super(message);
  }
}

async function lookupAddresses(host: string, resolver: Resolver, opts: HostIPOptions): Promise<{ ips: string[]; temporary: boolean; errors: string[] }> {
  const errors: string[] = [];
  let temporary = false;
  const one = async (fam: 'AAAA' | 'A'): Promise<string[]> => {
    try {
      return fam === 'A' ? await resolver.resolve4(host) : await resolver.resolve6(host);
    } catch (err) {
      const code = errCode(err);
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') temporary = true;
      errors.push(`${fam}: ${describe(err)}`);
      return [];
    }
  };
  const [v6, v4] = await Promise.all([opts.disableIPv6 ? [] : one('AAAA'), opts.disableIPv4 ? [] : one('A')]);
  // Interleave families, IPv6 first (rfc8305:4 address ordering), so one broken family does not
  // hide the other behind all its addresses.
  const ips: string[] = [];
  for (let i = 0; i < Math.max(v6.length, v4.length); i++) {
    if (v6[i]) ips.push(v6[i]!);
    if (v4[i]) ips.push(v4[i]!);
  }
  return { ips, temporary, errors };
}

/**
 * The IP addresses of an MX host, AAAA and A (interleaved, IPv6 first). Throws HostLookupError when
 * there are none: temporary when any lookup failed for another reason than "no such records".
 * An IP literal (only possible for configured hosts, MX targets must be names) is returned as is.
 */
export async function resolveHostIPs(host: string, resolver: Resolver, opts: HostIPOptions = {}): Promise<string[]> {
  const fam = isIP(host);
  if (fam) {
    if ((fam === 4 && opts.disableIPv4) || (fam === 6 && opts.disableIPv6)) throw new HostLookupError(`address family of ${host} is disabled`, false);
    return [host];
  }
  if (opts.disableIPv4 && opts.disableIPv6) throw new HostLookupError('both IPv4 and IPv6 are disabled', false);
  const r = await lookupAddresses(host, resolver, opts);
  if (r.ips.length > 0) return r.ips;
  throw new HostLookupError(`no IP addresses for ${host}${r.errors.length ? ` (${r.errors.join('; ')})` : ''}`, r.temporary);
}
