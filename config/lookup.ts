/**
 * Lookups in a loaded domains.conf: which account/mailbox (or alias) an address delivers to,
 * the addresses of an account, finding a domain by any spelling.
 */
import type { Account, Alias, Destination, Domain, DynamicConfig } from './dynamic-schema.js';
import type { StaticConfig } from './static-schema.js';
import { normalizeDomain, parseAddress } from './address.js';

/** Catchall separators of a domain (LocalpartCatchallSeparator or LocalpartCatchallSeparators), possibly empty. */
export function catchallSeparators(domain: Domain): readonly string[] {
  if (domain.LocalpartCatchallSeparators?.length) return domain.LocalpartCatchallSeparators;
  if (domain.LocalpartCatchallSeparator) return [domain.LocalpartCatchallSeparator];
  return [];
}

/**
 * The canonical form of a localpart for matching: cut at the first catchall separator (if the
 * domain has any) and lower-cased unless the domain is LocalpartCaseSensitive.
 */
export function canonicalLocalpart(localpart: string, domain: Domain): string {
  let lp = localpart;
  let cut = -1;
  for (const sep of catchallSeparators(domain)) {
    const i = lp.indexOf(sep);
    if (i > 0 && (cut < 0 || i < cut)) cut = i;
  }
  if (cut > 0) lp = lp.slice(0, cut);
  return domain.LocalpartCaseSensitive ? lp : lp.toLowerCase();
}

interface DestRef {
  account: string;
  destinationKey: string;
  /** For DMARC/TLSRPT report addresses: the implicit destination. */
  report?: { kind: 'dmarc' | 'tlsrpt'; destination: Destination };
}
interface AliasRef {
  domainKey: string;
  aliasKey: string;
}
interface Index {
  /** normalised ASCII domain → key as written in the config */
  domains: Map<string, string>;
  /** canonical "lp@asciidomain" → destination */
  addresses: Map<string, DestRef>;
  /** ascii domain → "@domain" catchall destination */
  catchalls: Map<string, DestRef>;
  /** canonical "lp@asciidomain" → alias */
  aliases: Map<string, AliasRef>;
}

const indexes = new WeakMap<DynamicConfig, Index>();

function buildIndex(cfg: DynamicConfig): Index {
  const ix: Index = { domains: new Map(), addresses: new Map(), catchalls: new Map(), aliases: new Map() };
  for (const key of Object.keys(cfg.Domains)) {
    const n = normalizeDomain(key);
    if (n && !ix.domains.has(n)) ix.domains.set(n, key);
  }
  for (const [account, acc] of Object.entries(cfg.Accounts)) {
    for (const destinationKey of Object.keys(acc.Destinations)) {
      if (destinationKey.startsWith('@')) {
        const d = normalizeDomain(destinationKey.slice(1));
        if (d && !ix.catchalls.has(d)) ix.catchalls.set(d, { account, destinationKey });
        continue;
      }
      const a = parseAddress(destinationKey);
      const dk = a && ix.domains.get(a.domain);
      if (!a || dk === undefined) continue;
      const canon = `${canonicalLocalpart(a.localpart, cfg.Domains[dk]!)}@${a.domain}`;
      if (!ix.addresses.has(canon)) ix.addresses.set(canon, { account, destinationKey });
    }
  }
  for (const [domainKey, dom] of Object.entries(cfg.Domains)) {
    const d = normalizeDomain(domainKey);
    if (!d) continue;
    // Report addresses are implicit destinations of their account (as in mox).
    for (const [kind, r] of [
      ['dmarc', dom.DMARC],
      ['tlsrpt', dom.TLSRPT],
    ] as const) {
      if (!r || !Object.hasOwn(cfg.Accounts, r.Account)) continue;
      const rd = r.Domain === undefined ? d : normalizeDomain(r.Domain);
      const rdKey = rd === undefined ? undefined : ix.domains.get(rd);
      if (rdKey === undefined) continue;
      const canon = `${canonicalLocalpart(r.Localpart, cfg.Domains[rdKey]!)}@${rd}`;
      if (ix.addresses.has(canon)) continue;
      const destination: Destination = Object.freeze({ Mailbox: r.Mailbox });
      ix.addresses.set(canon, { account: r.Account, destinationKey: `${r.Localpart}@${rd}`, report: { kind, destination } });
    }
    for (const aliasKey of Object.keys(dom.Aliases ?? {})) {
      const canon = `${canonicalLocalpart(aliasKey, dom)}@${d}`;
      if (!ix.aliases.has(canon)) ix.aliases.set(canon, { domainKey, aliasKey });
    }
  }
  return ix;
}

function index(cfg: DynamicConfig): Index {
  let ix = indexes.get(cfg);
  if (!ix) {
    ix = buildIndex(cfg);
    // Configs from the loader are frozen, so the cache can never go stale.
    if (Object.isFrozen(cfg)) indexes.set(cfg, ix);
  }
  return ix;
}

/** Find a configured domain by any spelling (case, unicode or punycode, trailing dot). */
export function findDomain(cfg: DynamicConfig, name: string): { key: string; domain: Domain } | undefined {
  const n = normalizeDomain(name);
  const key = n === undefined ? undefined : index(cfg).domains.get(n);
  return key === undefined ? undefined : { key, domain: cfg.Domains[key]! };
}

interface LookupCommon {
  /** The address with catchall extension removed, localpart case-folded as configured, ASCII domain. */
  canonicalAddress: string;
  /** Domain key as written in domains.conf. */
  domainKey: string;
  domain: Domain;
  /** The domain is Disabled: incoming mail should get a temporary error (450 4.2.1). */
  disabled: boolean;
}

export interface AccountDestinationResult extends LookupCommon {
  kind: 'account';
  /** Account name. */
  account: string;
  accountConfig: Account;
  /** Key in the account's Destinations: the address as written, or "@domain" for a catchall. */
  destinationKey: string;
  destination: Destination;
  /** Default mailbox for the destination (rulesets may pick another). */
  mailbox: string;
  /** Matched through the "@domain" catchall destination. */
  catchall: boolean;
  /**
   * Set for a domain's DMARC or TLSRPT report address: an implicit destination (not in the
   * account's Destinations) delivering to the configured Mailbox; the reports are to be parsed.
   */
  report?: 'dmarc' | 'tlsrpt';
}

export interface AliasResult extends LookupCommon {
  kind: 'alias';
  /** Alias localpart as written under Domains.<domain>.Aliases. */
  aliasKey: string;
  alias: Alias;
  /** Member addresses, as configured. */
  addresses: readonly string[];
}

export type LookupResult = AccountDestinationResult | AliasResult;

/**
 * Resolve a recipient address: exact account address (after catchall-separator cut and case
 * folding) first, then an alias, then the domain's "@domain" catchall destination.
 * Returns undefined for an invalid address, an unconfigured domain or an unknown localpart.
 * A result for a Disabled domain is returned with `disabled: true`; the caller decides.
 */
export function lookupDestination(cfg: DynamicConfig, address: string): LookupResult | undefined {
  const a = parseAddress(address);
  if (!a) return undefined;
  const ix = index(cfg);
  const domainKey = ix.domains.get(a.domain);
  if (domainKey === undefined) return undefined;
  const domain = cfg.Domains[domainKey]!;
  const canonicalAddress = `${canonicalLocalpart(a.localpart, domain)}@${a.domain}`;
  const common = { canonicalAddress, domainKey, domain, disabled: domain.Disabled };
  const accountResult = (ref: DestRef, catchall: boolean): AccountDestinationResult => {
    const accountConfig = cfg.Accounts[ref.account]!;
    const destination = ref.report?.destination ?? accountConfig.Destinations[ref.destinationKey]!;
    const r: AccountDestinationResult = {
      kind: 'account',
      ...common,
      account: ref.account,
      accountConfig,
      destinationKey: ref.destinationKey,
      destination,
      mailbox: destination.Mailbox,
      catchall,
    };
    if (ref.report) r.report = ref.report.kind;
    return r;
  };
  const dest = ix.addresses.get(canonicalAddress);
  if (dest) return accountResult(dest, false);
  const al = ix.aliases.get(canonicalAddress);
  if (al) {
    const alias = cfg.Domains[al.domainKey]!.Aliases![al.aliasKey]!;
    return { kind: 'alias', ...common, aliasKey: al.aliasKey, alias, addresses: alias.Addresses };
  }
  const ca = ix.catchalls.get(a.domain);
  if (ca) return accountResult(ca, true);
  return undefined;
}

export interface PostmasterResult {
  kind: 'postmaster';
  /** "postmaster@<ascii domain>" */
  canonicalAddress: string;
  /** Postmaster.Account and Postmaster.Mailbox from mox.conf. */
  account: string;
  mailbox: string;
}

/**
 * lookupDestination plus mox's postmaster fallback: postmaster@ (any case) of a configured domain
 * without its own postmaster address, or of the server's hostname (global or of a listener),
 * goes to mox.conf Postmaster.Account / Mailbox.
 */
export function lookupRecipient(
  stat: StaticConfig,
  cfg: DynamicConfig,
  address: string,
): LookupResult | PostmasterResult | undefined {
  const r = lookupDestination(cfg, address);
  if (r && !(r.kind === 'account' && r.catchall)) return r;
  const a = parseAddress(address);
  if (a && a.localpart.toLowerCase() === 'postmaster') {
    const hostnames = [stat.Hostname, ...Object.values(stat.Listeners).map((l) => l.Hostname)]
      .filter((h): h is string => h !== undefined)
      .map((h) => normalizeDomain(h));
    if (findDomain(cfg, a.domain) || hostnames.includes(a.domain)) {
      return { kind: 'postmaster', canonicalAddress: `postmaster@${a.domain}`, account: stat.Postmaster.Account, mailbox: stat.Postmaster.Mailbox };
    }
  }
  return r;
}

/** The full addresses of an account (Destinations keys that are not "@domain" catchalls), as written. */
export function accountAddresses(account: Account): string[] {
  return Object.keys(account.Destinations).filter((k) => !k.startsWith('@'));
}

/** The "@domain" catchall destination keys of an account. */
export function accountCatchalls(account: Account): string[] {
  return Object.keys(account.Destinations).filter((k) => k.startsWith('@'));
}

/** Find the account that has this address as a destination (exact or via catchall), if any. */
export function accountForAddress(cfg: DynamicConfig, address: string): string | undefined {
  const r = lookupDestination(cfg, address);
  return r?.kind === 'account' ? r.account : undefined;
}
