/**
 * The DNS resolver interface every component takes as a dependency. Nothing in moxts calls the
 * system resolver directly: production wires `createResolver()` (optionally with explicit servers),
 * tests wire a resolver pointed at a dns2 server on 127.0.0.1.
 *
 * Errors follow node's dns module: code ENOTFOUND (NXDOMAIN) or ENODATA (no records of that type)
 * mean "none"; anything else is a temporary failure. mailauth relies on exactly this contract.
 */
import { promises as dnsp } from 'node:dns';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface Resolver {
  resolveMx(name: string): Promise<MxRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveCname(name: string): Promise<string[]>;
  reverse(ip: string): Promise<string[]>;
  /** mailauth's generic form: resolve(name, rrtype). */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

export interface ResolverOptions {
  /** DNS servers as "ip" or "ip:port"; default: the system's configured servers. */
  servers?: string[];
  /** Per-query timeout in ms (node's default is 5 s with retries). */
  timeoutMs?: number;
  /** Tries per server before giving up. */
  tries?: number;
}

/** A resolver backed by node's c-ares, with its own server list (never touches the global one). */
export function createResolver(opts: ResolverOptions = {}): Resolver {
  const r = new dnsp.Resolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
  if (opts.servers?.length) r.setServers(opts.servers);
  return {
    resolveMx: (n) => r.resolveMx(n),
    resolveTxt: (n) => r.resolveTxt(n),
    resolve4: (n) => r.resolve4(n),
    resolve6: (n) => r.resolve6(n),
    resolveCname: (n) => r.resolveCname(n),
    reverse: (ip) => r.reverse(ip),
    resolve: (n, rrtype) => r.resolve(n, rrtype as 'A'),
  };
}

/** True for the error codes that mean "the name or record does not exist" rather than a failure. */
export function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
