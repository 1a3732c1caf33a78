/**
 * Live check of a domain's published DNS records against what moxts asks to publish
 * (dns/records.ts expectedRecords), through the given resolver. Per record: ok, missing (NXDOMAIN
 * or no record of the kind), different (a record of the kind exists with another value) or error
 * (the lookup failed; nothing can be said).
 *
 * What "the kind" means: MX — any MX record (ok when one points at our host); TXT — the records
 * with the same version tag (`v=spf1`, `v=DKIM1` (optional there), `v=DMARC1`, `v=TLSRPTv1`, `v=STSv1`); a DKIM
 * record is ok when its key type and public key match (rfc6376:3.6.1: tag order and other tags do
 * not matter); other TXT records are compared with whitespace around `;` and runs of spaces
 * ignored. CNAME — the target, case-insensitively.
 */
import { isNotFound, type Resolver } from './resolver.js';
import type { ExpectedRecord } from './records.js';

export type CheckStatus = 'ok' | 'missing' | 'different' | 'error';

export interface RecordCheck extends ExpectedRecord {
  status: CheckStatus;
  /** The relevant records found (same kind), as text. */
  found: string[];
  /** For status "error": the resolver's error. */
  error?: string;
}

function stripDot(s: string): string {
  return s.replace(/\.$/, '').toLowerCase();
}

/** Tag list (rfc6376:3.2) of a DKIM/DMARC-style record, keys lowercased. */
function tags(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    m.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return m;
}

function normalizeTxt(s: string): string {
  return s.trim().replace(/\s*;\s*/g, ';').replace(/\s+/g, ' ').replace(/;$/, '').toLowerCase();
}

/** The version tag a TXT record starts with ("v=spf1", "v=dkim1", ...), lowercased. */
function versionTag(s: string): string {
  return /^\s*(v\s*=\s*[^;\s]+)/i.exec(s)?.[1]?.replace(/\s+/g, '').toLowerCase() ?? '';
}

function txtMatches(expected: string, found: string): boolean {
  if (versionTag(expected) === 'v=dkim1') {
    const e = tags(expected);
    const f = tags(found);
    return (f.get('k') ?? 'rsa') === (e.get('k') ?? 'rsa') && f.get('p') === e.get('p');
  }
  return normalizeTxt(expected) === normalizeTxt(found);
}

async function checkOne(resolver: Resolver, rec: ExpectedRecord): Promise<RecordCheck> {
  try {
    if (rec.type === 'MX') {
      const mx = await resolver.resolveMx(rec.name);
      const found = mx.map((m) => `${m.priority} ${m.exchange}.`.replace(/\.\.$/, '.'));
      const want = stripDot(rec.value.split(' ')[1] ?? '');
      if (!mx.length) return { ...rec, status: 'missing', found };
      return { ...rec, status: mx.some((m) => stripDot(m.exchange) === want) ? 'ok' : 'different', found };
    }
    if (rec.type === 'CNAME') {
      const found = (await resolver.resolveCname(rec.name)).map((t) => (t.endsWith('.') ? t : `${t}.`));
      if (!found.length) return { ...rec, status: 'missing', found };
      return { ...rec, status: found.some((t) => stripDot(t) === stripDot(rec.value)) ? 'ok' : 'different', found };
    }
    const tag = versionTag(rec.value);
    // rfc6376:3.6.1: v= is optional in a DKIM key record (first when present).
    const ofKind = (t: string) => versionTag(t) === tag || (tag === 'v=dkim1' && versionTag(t) === '' && /(?:^|;)\s*p\s*=/.test(t));
    const found = (await resolver.resolveTxt(rec.name)).map((chunks) => chunks.join('')).filter(ofKind);
    if (!found.length) return { ...rec, status: 'missing', found };
    return { ...rec, status: found.some((t) => txtMatches(rec.value, t)) ? 'ok' : 'different', found };
  } catch (e) {
    if (isNotFound(e)) return { ...rec, status: 'missing', found: [] };
    return { ...rec, status: 'error', found: [], error: (e as Error).message };
  }
}

/** Look up every expected record (in parallel) and compare. */
export function checkRecords(resolver: Resolver, expected: readonly ExpectedRecord[]): Promise<RecordCheck[]> {
  return Promise.all(expected.map((r) => checkOne(resolver, r)));
}
