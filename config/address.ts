/**
 * Parsing and normalising of email addresses and domain names as they appear in the config:
 * domains are lower-cased and converted to ASCII (IDNA, via node:url domainToASCII); localparts
 * are kept as written (case folding depends on the domain's LocalpartCaseSensitive).
 */
import { domainToASCII } from 'node:url';

export interface ParsedAddress {
  /** Localpart as written (not case-folded). */
  localpart: string;
  /** Domain in lower-case ASCII (punycode for IDNs). */
  domain: string;
}

// RFC 5322 atext, plus any non-ASCII (RFC 6531 SMTPUTF8).
const ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Results of normalizeDomain by input, because every address lookup (each submission, webapi
 * request, SMTP RCPT) normalises the same few domains again, and domainToASCII costs several
 * microseconds. Cleared when full and only for short input, so it stays small whatever comes in.
 */
const normalized = new Map<string, string | undefined>();
const NORMALIZED_MAX = 10_000;

/** Normalise a domain name to lower-case ASCII; undefined when it is not a valid domain name. */
export function normalizeDomain(domain: string): string | undefined {
  if (typeof domain !== 'string') return undefined;
  // Longer input is never a valid name (at most 253 octets); not kept, so the memory stays small.
  if (domain.length > 300) return normalizeDomainUncached(domain);
  const hit = normalized.get(domain);
  if (hit !== undefined || normalized.has(domain)) return hit;
  const r = normalizeDomainUncached(domain);
  if (normalized.size >= NORMALIZED_MAX) normalized.clear();
  normalized.set(domain, r);
  return r;
}

function normalizeDomainUncached(domain: string): string | undefined {
  let d = domain.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d === '' || d !== domain.trim().replace(/\.$/, '') || /[\s@/\\:[\]]/.test(d)) return undefined;
  const ascii = domainToASCII(d).toLowerCase();
  if (ascii === '' || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.some((l) => !LABEL.test(l))) return undefined;
  // A name ending in an all-numeric label is an IP address, not a domain.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  return ascii;
}

/** Whether a localpart is syntactically valid (dot-atom or quoted string, at most 64 octets). */
export function isValidLocalpart(lp: string): boolean {
  if (typeof lp !== 'string' || lp === '') return false;
  if (Buffer.byteLength(lp) > 64) return false;
  if (lp.startsWith('"')) {
    return lp.length >= 2 && lp.endsWith('"') && !/[\r\n\0]/.test(lp);
  }
  return lp.split('.').every((atom) => ATOM.test(atom));
}

/** Parse "localpart@domain"; undefined when invalid. */
export function parseAddress(address: string): ParsedAddress | undefined {
  if (typeof address !== 'string') return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  const localpart = address.slice(0, at);
  const domain = normalizeDomain(address.slice(at + 1));
  if (!domain || !isValidLocalpart(localpart)) return undefined;
  return { localpart, domain };
}

/** "localpart@domain" with the domain normalised; undefined when invalid. */
export function normalizeAddress(address: string): string | undefined {
  const a = parseAddress(address);
  return a ? `${a.localpart}@${a.domain}` : undefined;
}
