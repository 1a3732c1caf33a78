/**
 * DMARC policy discovery and identifier alignment (rfc7489), done here instead of trusting
 * mailauth 4.13.3's DMARC verdict, which
 * - treats strict alignment (`adkim=s` / `aspf=s`) as relaxed: its getAlignment() is called with
 *   an object as the `strict` flag and compares organizational domains either way (fixed only in
 *   mailauth 5, which needs Node 22);
 * - doesn't trim tag values or accept upper-case ones (`adkim = s`, `p=REJECT`), both valid per
 *   the ABNF in rfc7489:6.4;
 * - doesn't expose whether the record came from the organizational domain (needed for `sp`).
 *
 * The organizational domain (rfc7489:3.2) comes from the public suffix list in the `tldts`
 * package that mailauth itself depends on, with mailauth's options, so DKIM `aligned` flags and
 * our verdict agree. We load it through mailauth's own module resolution instead of adding a
 * dependency.
 */
import { createRequire } from 'node:module';
import { domainToASCII } from 'node:url';
import tools from 'mailauth/lib/tools.js';
import { isNotFound, type Resolver } from '../dns/resolver.js';

const requireHere = createRequire(import.meta.url);
const requireFromMailauth = createRequire(requireHere.resolve('mailauth'));
const tldts = requireFromMailauth('tldts') as {
  getDomain(domain: string, opts?: Record<string, unknown>): string | null;
};

export type AlignmentMode = 'r' | 's';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** Lowercase ASCII (A-label) form without trailing dot; '' for an unusable name. */
export function normalizeDomain(domain: string): string {
  let d = domain.trim().replace(/\.$/, '').toLowerCase();
  if (!d) return '';
  if (/[^\x00-\x7f]/.test(d)) d = domainToASCII(d) || d;
  return d;
}

/**
 * The organizational domain (rfc7489:3.2): one label below the longest matching public suffix.
 * A name that is itself a public suffix (or unknown to the list with a single label) is its own
 * organizational domain.
 */
export function organizationalDomain(domain: string): string {
  const d = normalizeDomain(domain);
  if (!d) return d;
  return tldts.getDomain(d, tools.TLDTS_OPTS) ?? d;
}

/**
 * Identifier alignment (rfc7489:3.1): strict mode needs the exact same domain; relaxed mode needs
 * the same organizational domain. Used for DKIM d= (rfc7489:3.1.1) and the SPF-authenticated
 * domain (rfc7489:3.1.2).
 */
export function isAligned(fromDomain: string, authDomain: string, mode: AlignmentMode): boolean {
  const f = normalizeDomain(fromDomain);
  const a = normalizeDomain(authDomain);
  if (!f || !a) return false;
  if (f === a) return true;
  if (mode === 's') return false;
  return organizationalDomain(f) === organizationalDomain(a);
}

/** A parsed DMARC record (rfc7489:6.3), with defaults filled in. */
export interface DmarcRecord {
  /** Requested policy for the domain (rfc7489:6.3 p=). */
  p: DmarcPolicy;
  /** Policy for subdomains when the record was found at the organizational domain; default p. */
  sp: DmarcPolicy;
  /** DKIM alignment mode, default relaxed. */
  adkim: AlignmentMode;
  /** SPF alignment mode, default relaxed. */
  aspf: AlignmentMode;
  /** Percentage of failing messages the policy applies to, 0-100, default 100. */
  pct: number;
  rua: string[];
  ruf: string[];
  /** The record text. */
  raw: string;
}

const POLICIES = new Set(['none', 'quarantine', 'reject']);

/**
 * Parse a DMARC TXT record (rfc7489:6.3, 6.4). Returns null when it is not a DMARC record or not
 * usable. A missing/invalid p= with a valid rua= is treated as p=none (rfc7489:6.6.3 step 6).
 * Unknown tags are ignored (rfc7489:6.3); tag names and values are case-insensitive, whitespace
 * around them is allowed (rfc7489:6.4 ABNF).
 */
export function parseDmarcRecord(txt: string): DmarcRecord | null {
  const parts = txt.split(';').map((s) => s.trim());
  // v=DMARC1 must be the first tag (rfc7489:6.3 "v").
  if (!parts.length || !/^v\s*=\s*DMARC1$/i.test(parts[0]!)) return null;
  const tags = new Map<string, string>();
  for (const part of parts.slice(1)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim().toLowerCase();
    if (!tags.has(k)) tags.set(k, part.slice(eq + 1).trim());
  }
  const uris = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s));
  const rua = uris(tags.get('rua'));
  const ruf = uris(tags.get('ruf'));
  let p = tags.get('p')?.toLowerCase();
  let sp = tags.get('sp')?.toLowerCase();
  if (!p || !POLICIES.has(p) || (sp !== undefined && !POLICIES.has(sp))) {
    if (!rua.length) return null;
    p = 'none';
    sp = undefined;
  }
  const mode = (v: string | undefined): AlignmentMode => (v?.toLowerCase() === 's' ? 's' : 'r');
  const pctText = tags.get('pct');
  let pct = 100;
  if (pctText !== undefined && /^\d{1,3}$/.test(pctText) && Number(pctText) <= 100) pct = Number(pctText);
  return {
    p: p as DmarcPolicy,
    sp: (sp ?? p) as DmarcPolicy,
    adkim: mode(tags.get('adkim')),
    aspf: mode(tags.get('aspf')),
    pct,
    rua,
    ruf,
    raw: txt,
  };
}

export type DmarcLookup =
  | { status: 'found'; record: DmarcRecord; domain: string; isOrgRecord: boolean }
  | { status: 'none'; domain: string }
  | { status: 'temperror'; domain: string; error: string };

async function lookupAt(domain: string, resolver: Resolver): Promise<DmarcRecord | null> {
  let txts: string[][];
  try {
    txts = await resolver.resolveTxt(`_dmarc.${domain}`);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  // Records not starting with v=DMARC1 are discarded; more than one remaining means no policy
  // (rfc7489:6.6.3 steps 2-4).
  const candidates = txts.map((t) => t.join('')).filter((t) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(t.trim()));
  if (candidates.length !== 1) return null;
  return parseDmarcRecord(candidates[0]!.trim());
}

/**
 * Policy discovery (rfc7489:6.6.3): the record at `_dmarc.<From domain>`, else at
 * `_dmarc.<organizational domain>` (then isOrgRecord, so sp= applies to this subdomain).
 */
export async function lookupDmarc(fromDomain: string, resolver: Resolver): Promise<DmarcLookup> {
  const domain = normalizeDomain(fromDomain);
  try {
    const rec = await lookupAt(domain, resolver);
    if (rec) return { status: 'found', record: rec, domain, isOrgRecord: false };
    const org = organizationalDomain(domain);
    if (org && org !== domain) {
      const orgRec = await lookupAt(org, resolver);
      if (orgRec) return { status: 'found', record: orgRec, domain: org, isOrgRecord: true };
    }
    return { status: 'none', domain };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { status: 'temperror', domain, error: e.code ?? e.message ?? String(err) };
  }
}

export interface DmarcEvaluation {
  result: 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
  /** The policy requested for this From domain: p, or sp for a subdomain covered by the org record. */
  policy: DmarcPolicy;
  /** rfc7489:6.3 pct, 100 when absent. */
  pct: number;
  alignment: { spf: boolean; dkim: boolean };
  strict: { adkim: boolean; aspf: boolean };
  /** The aligned DKIM d= that made DKIM align, if any. */
  alignedDkimDomain?: string;
  /** Where the record was found. */
  recordDomain?: string;
  record?: DmarcRecord;
}

export interface DmarcInput {
  fromDomain: string;
  /** d= of DKIM signatures that verified (result pass). */
  dkimDomains: string[];
  /**
   * The SPF-authenticated identity when SPF passed: the MAIL FROM domain, or the HELO domain for
   * a null reverse-path (rfc7489:4.1 note on HELO, rfc7208:2.4); undefined when SPF didn't pass.
   */
  spfDomain?: string;
}

/** Alignment and result for a looked-up record (rfc7489:6.6.2 steps 3-4, 6.6.3). */
export function evaluateDmarc(input: DmarcInput, lookup: DmarcLookup): DmarcEvaluation {
  const from = normalizeDomain(input.fromDomain);
  if (lookup.status !== 'found') {
    // Without a record there is no DMARC policy; report relaxed alignment for information.
    const dkimAligned = input.dkimDomains.find((d) => isAligned(from, d, 'r'));
    return {
      result: lookup.status === 'temperror' ? 'temperror' : 'none',
      policy: 'none',
      pct: 100,
      alignment: { spf: !!input.spfDomain && isAligned(from, input.spfDomain, 'r'), dkim: !!dkimAligned },
      strict: { adkim: false, aspf: false },
      ...(dkimAligned ? { alignedDkimDomain: normalizeDomain(dkimAligned) } : {}),
    };
  }
  const rec = lookup.record;
  const dkimAligned = input.dkimDomains.find((d) => isAligned(from, d, rec.adkim));
  const spfAligned = !!input.spfDomain && isAligned(from, input.spfDomain, rec.aspf);
  // rfc7489:6.3 sp: applies to subdomains of the organizational domain, i.e. when the record was
  // found at the organizational domain rather than at the From domain itself.
  const policy = lookup.isOrgRecord ? rec.sp : rec.p;
  return {
    // rfc7489:4.2: pass when at least one authenticated identifier is aligned.
    result: dkimAligned || spfAligned ? 'pass' : 'fail',
    policy,
    pct: rec.pct,
    alignment: { spf: spfAligned, dkim: !!dkimAligned },
    strict: { adkim: rec.adkim === 's', aspf: rec.aspf === 's' },
    ...(dkimAligned ? { alignedDkimDomain: normalizeDomain(dkimAligned) } : {}),
    recordDomain: lookup.domain,
    record: rec,
  };
}
