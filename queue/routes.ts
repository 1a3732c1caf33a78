/**
 * Which transport delivers a queued message (mox §3.6): the admin's per-message override first;
 * then routes of the sending account, of the sender's domain, and the global routes, in that
 * order, the first matching route winning (FromDomain, ToDomain — a leading "." also matches
 * subdomains, an empty list matches all — and MinimumAttempts); else direct delivery to the MX
 * hosts. Recipients in domains we host are delivered locally (before routes; only an admin
 * override sends them elsewhere). Pure: config in, decision out.
 */
import type { StaticConfig, Transport } from '../config/static-schema.js';
import type { DynamicConfig, Route } from '../config/dynamic-schema.js';
import { normalizeDomain } from '../smtp/client/mx.js';

export type TransportChoice =
  /** Our own domain: into the account's mailbox. */
  | { kind: 'local' }
  | { kind: 'direct'; name: string; disableIPv4: boolean; disableIPv6: boolean }
  | { kind: 'smarthost'; name: string; mode: 'Submissions' | 'Submission' | 'SMTP'; t: NonNullable<Transport['SMTP']> }
  | { kind: 'fail'; name: string; code: number; message: string }
  /** A route or override names a transport that is not configured: the message fails (mox). */
  | { kind: 'unknown'; name: string };

export interface RouteSubject {
  senderAccount: string;
  senderDomain: string;
  recipientDomain: string;
  /** Failed attempts so far (not counting the one starting). */
  previousAttempts: number;
  /** Admin override (queue transport); null: routing decides. */
  transport: string | null;
}

function domainMatches(list: readonly string[] | undefined, domain: string): boolean {
  if (!list || list.length === 0) return true;
  const d = normalizeDomain(domain) ?? domain.toLowerCase();
  return list.some((e) => {
    const sub = e.startsWith('.');
    const want = normalizeDomain(sub ? e.slice(1) : e) ?? e.toLowerCase();
    return d === want || (sub && d.endsWith(`.${want}`));
  });
}

export function routeMatches(r: Route, m: RouteSubject): boolean {
  return domainMatches(r.FromDomain, m.senderDomain) && domainMatches(r.ToDomain, m.recipientDomain) && m.previousAttempts >= (r.MinimumAttempts ?? 0);
}

/** The domains.conf entry of a domain given in any spelling. */
function domainConfig(dyn: DynamicConfig, domain: string): DynamicConfig['Domains'][string] | undefined {
  const want = normalizeDomain(domain);
  for (const [k, v] of Object.entries(dyn.Domains)) if (normalizeDomain(k) === want) return v;
  return undefined;
}

/** Is mail for this domain ours (a configured domain or our host name)? */
export function isLocalDomain(stat: StaticConfig, dyn: DynamicConfig, domain: string): boolean {
  return normalizeDomain(stat.Hostname) === normalizeDomain(domain) || domainConfig(dyn, domain) !== undefined;
}

/** The configured name of the first matching route's transport, or undefined for the default. */
export function matchRoute(dyn: DynamicConfig, m: RouteSubject): string | undefined {
  const lists: Array<readonly Route[] | undefined> = [dyn.Accounts[m.senderAccount]?.Routes, domainConfig(dyn, m.senderDomain)?.Routes, dyn.Routes];
  for (const l of lists) for (const r of l ?? []) if (routeMatches(r, m)) return r.Transport;
  return undefined;
}

export function chooseTransport(stat: StaticConfig, dyn: DynamicConfig, m: RouteSubject): TransportChoice {
  // Our own domains are delivered locally, whatever the routes say (a catch-all smarthost route
  // must not send local mail around the world); only an explicit admin override takes precedence.
  if (m.transport === null && isLocalDomain(stat, dyn, m.recipientDomain)) return { kind: 'local' };
  const name = m.transport ?? matchRoute(dyn, m);
  if (name === undefined) return { kind: 'direct', name: '', disableIPv4: false, disableIPv6: false };
  const t = stat.Transports?.[name];
  if (!t) return { kind: 'unknown', name };
  if (t.Submissions) return { kind: 'smarthost', name, mode: 'Submissions', t: t.Submissions };
  if (t.Submission) return { kind: 'smarthost', name, mode: 'Submission', t: t.Submission };
  if (t.SMTP) return { kind: 'smarthost', name, mode: 'SMTP', t: t.SMTP };
  if (t.Fail) return { kind: 'fail', name, code: t.Fail.SMTPCode, message: t.Fail.SMTPMessage ?? `failed by transport ${name}` };
  return { kind: 'direct', name, disableIPv4: t.Direct?.DisableIPv4 ?? false, disableIPv6: t.Direct?.DisableIPv6 ?? false };
}

/** The first catchall separator of a domain (mox §3.7: fromids use the first), "+" when none is configured. */
export function catchallSeparator(dyn: DynamicConfig, domain: string): string {
  const d = domainConfig(dyn, domain);
  return d?.LocalpartCatchallSeparators?.[0] ?? d?.LocalpartCatchallSeparator ?? '+';
}

/**
 * MAIL FROM localpart for a message (mox §3.7): with a fromid, "<localpart before the
 * separator><sep><fromid>"; a localpart that already carries the fromid is kept.
 */
export function mailFromLocalpart(senderLocalpart: string, fromId: string | null, sep: string): string {
  if (!fromId) return senderLocalpart;
  if (senderLocalpart.endsWith(`${sep}${fromId}`)) return senderLocalpart;
  const i = senderLocalpart.indexOf(sep);
  return `${i >= 0 ? senderLocalpart.slice(0, i) : senderLocalpart}${sep}${fromId}`;
}
