/**
 * Edits of domains.conf for the CLI and the admin/account web interfaces. Each edit reads the
 * YAML document (keeping comments and layout), changes it, validates the *resulting* whole
 * config with the same loader as start-up (refusing to write an invalid config), then replaces
 * the file atomically. Edits of one file are serialised within the process.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseDocument, isMap, type Document, YAMLMap } from 'yaml';
import type { StaticConfig } from './static-schema.js';
import type { DynamicConfig, DynamicConfigInput } from './dynamic-schema.js';
import { ConfigError, formatPath } from './errors.js';
import { parseDynamic } from './load.js';
import { parseAddress, normalizeDomain } from './address.js';
import { findDomain, lookupDestination } from './lookup.js';
import { writeFileAtomic } from './atomic.js';

/** The domains.conf to edit and the static config it is validated against. */
export interface DomainsFile {
  path: string;
  static: StaticConfig;
}

type AccountInput = DynamicConfigInput['Accounts'] extends infer R ? (R extends Record<string, infer A> ? A : never) : never;
type DomainInput = DynamicConfigInput['Domains'] extends infer R ? (R extends Record<string, infer D> ? D : never) : never;
type AliasInput = NonNullable<DomainInput['Aliases']>[string];
type SelectorInput = NonNullable<DomainInput['DKIM']>['Selectors'] extends infer R ? (R extends Record<string, infer S> ? S : never) : never;

/** Retries of an edit when the file changed underneath it. */
const MAX_EDIT_ATTEMPTS = 3;

const locks = new Map<string, Promise<unknown>>();

/** Run edits of one file one after another. */
function serialised<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const key = resolve(path);
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  void settled.then(() => {
    if (locks.get(key) === settled) locks.delete(key);
  });
  return next;
}

/** Whether an address is taken by an account address or alias (a domain catchall does not count). */
function inUse(cur: DynamicConfig, address: string): boolean {
  const r = lookupDestination(cur, address);
  return r !== undefined && !(r.kind === 'account' && r.catchall);
}

function refuse(f: DomainsFile, path: readonly PropertyKey[], message: string): never {
  throw new ConfigError([{ file: f.path, path: formatPath(path), message }]);
}

/**
 * The generic edit: `mutate` changes the document (it gets the current, valid config for
 * lookups). The result is validated and written; the new config is returned.
 */
export function editDomainsFile(
  f: DomainsFile,
  mutate: (doc: Document, current: DynamicConfig) => void,
): Promise<DynamicConfig> {
  return serialised(f.path, async () => {
    // Another process (or a person) may write the file while we work: if it changed between
    // our read and our write, start over from the new content.
    for (let attempt = 1; ; attempt++) {
      const text = await readFile(f.path, 'utf8');
      const current = parseDynamic(text, f.path, f.static);
      const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
      mutate(doc, current);
      const out = doc.toString({ lineWidth: 0 });
      const next = parseDynamic(out, f.path, f.static);
      if (out === text) return next;
      if ((await readFile(f.path, 'utf8')) !== text) {
        if (attempt < MAX_EDIT_ATTEMPTS) continue;
        throw new ConfigError([{ file: f.path, path: '', message: 'file keeps changing while editing it; try again' }]);
      }
      await writeFileAtomic(f.path, out);
      return next;
    }
  });
}

/** Make sure the mapping at `path` exists and is in block style, so added keys get their own lines. */
function blockMap(doc: Document, path: readonly (string | number)[]): YAMLMap {
  let node = path.length ? doc.getIn(path, true) : doc.contents;
  if (!isMap(node)) {
    node = new YAMLMap();
    if (path.length) doc.setIn(path, node);
    else doc.contents = node as YAMLMap;
  }
  const m = node as YAMLMap;
  m.flow = false;
  return m;
}

function setKey(doc: Document, path: readonly (string | number)[], value: unknown): void {
  blockMap(doc, path.slice(0, -1));
  doc.setIn(path, doc.createNode(value));
}

export interface AddDomainOptions {
  /** Account for the domain's first address; created when it does not exist yet (then `localpart` is its address). */
  account?: string;
  /** Localpart of the new account's address; default the account name. */
  localpart?: string;
  disabled?: boolean;
  description?: string;
  clientSettingsDomain?: string;
  /** Catchall separator; default "+", null for none. */
  catchallSeparator?: string | null;
  /** DKIM selectors (key files created by the caller) and the selectors to sign with. */
  dkim?: { selectors: Record<string, SelectorInput>; sign: string[] };
  /** Configure DMARC and TLS report addresses (dmarcreports@/tlsreports@ → mailboxes DMARC/TLSRPT) for `account`. */
  reportAddresses?: boolean;
}

/** Add a domain (and optionally its account), like `mox config domain add [-disabled] domain account [localpart]`. */
export function addDomain(f: DomainsFile, domain: string, opts: AddDomainOptions = {}): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const n = normalizeDomain(domain);
    if (!n) refuse(f, ['Domains', domain], `not a valid domain name: ${JSON.stringify(domain)}`);
    const existing = findDomain(cur, domain);
    if (existing) refuse(f, ['Domains', domain], `domain already exists as ${JSON.stringify(existing.key)}`);
    const key = domain.trim().replace(/\.$/, '').toLowerCase();
    const d: DomainInput = {};
    if (opts.disabled) d.Disabled = true;
    if (opts.description) d.Description = opts.description;
    if (opts.clientSettingsDomain) d.ClientSettingsDomain = opts.clientSettingsDomain;
    if (opts.catchallSeparator !== null) d.LocalpartCatchallSeparator = opts.catchallSeparator ?? '+';
    if (opts.dkim) d.DKIM = { Selectors: opts.dkim.selectors, Sign: opts.dkim.sign };
    if (opts.account && opts.reportAddresses) {
      d.DMARC = { Localpart: 'dmarcreports', Account: opts.account, Mailbox: 'DMARC' };
      d.TLSRPT = { Localpart: 'tlsreports', Account: opts.account, Mailbox: 'TLSRPT' };
    }
    setKey(doc, ['Domains', key], d);
    if (opts.account && !Object.hasOwn(cur.Accounts, opts.account)) {
      const acc: AccountInput = { Domain: key, Destinations: { [`${opts.localpart ?? opts.account}@${key}`]: {} } };
      setKey(doc, ['Accounts', opts.account], acc);
    } else if (opts.account && opts.localpart) {
      blockMap(doc, ['Accounts', opts.account, 'Destinations']);
      setKey(doc, ['Accounts', opts.account, 'Destinations', `${opts.localpart}@${key}`], {});
    }
  });
}

/** Remove a domain. Refused while accounts, addresses or report settings still use it. */
export function removeDomain(f: DomainsFile, domain: string): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const d = findDomain(cur, domain);
    if (!d) refuse(f, ['Domains', domain], 'no such domain');
    const users = Object.entries(cur.Accounts)
      .filter(([, a]) => findDomain(cur, a.Domain)?.key === d.key)
      .map(([n]) => n);
    if (users.length) refuse(f, ['Domains', d.key], `domain is the Domain of account(s) ${users.join(', ')}; change or remove them first`);
    const addresses = Object.entries(cur.Accounts).flatMap(([n, a]) =>
      Object.keys(a.Destinations)
        .filter((k) => normalizeDomain(k.startsWith('@') ? k.slice(1) : (parseAddress(k)?.domain ?? '')) === d.key)
        .map((k) => `${k} (account ${n})`),
    );
    if (addresses.length) refuse(f, ['Domains', d.key], `domain still has addresses: ${addresses.join(', ')}; remove them first`);
    doc.deleteIn(['Domains', d.key]);
  });
}

/** Add an account with its first address (which also sets the account's Domain). */
export function addAccount(
  f: DomainsFile,
  name: string,
  address: string,
  opts: { fullName?: string } = {},
): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    if (Object.hasOwn(cur.Accounts, name)) refuse(f, ['Accounts', name], 'account already exists');
    const a = parseAddress(address);
    if (!a) refuse(f, ['Accounts', name], `not a valid email address: ${JSON.stringify(address)}`);
    const d = findDomain(cur, a.domain);
    if (!d) refuse(f, ['Accounts', name], `domain ${JSON.stringify(a.domain)} of ${address} is not configured`);
    if (inUse(cur, address)) refuse(f, ['Accounts', name], `address ${address} is already in use`);
    const acc: AccountInput = { Domain: d.key, Destinations: { [address]: {} } };
    if (opts.fullName) acc.FullName = opts.fullName;
    setKey(doc, ['Accounts', name], acc);
  });
}

/** Remove an account from the config (its data directory is not touched). */
export function removeAccount(f: DomainsFile, name: string): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    if (!Object.hasOwn(cur.Accounts, name)) refuse(f, ['Accounts', name], 'no such account');
    doc.deleteIn(['Accounts', name]);
  });
}

/** Add an address (or "@domain" catchall) to an account. */
export function addAddress(
  f: DomainsFile,
  account: string,
  address: string,
  destination: AccountInput['Destinations'][string] = {},
): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    if (!Object.hasOwn(cur.Accounts, account)) refuse(f, ['Accounts', account], 'no such account');
    const r = address.startsWith('@') ? undefined : lookupDestination(cur, address);
    if (r && inUse(cur, address)) {
      refuse(f, ['Accounts', account, 'Destinations', address], `address already in use by ${r.kind === 'account' ? `account ${r.account}` : `alias ${r.aliasKey}@${r.domainKey}`}`);
    }
    blockMap(doc, ['Accounts', account, 'Destinations']);
    setKey(doc, ['Accounts', account, 'Destinations', address], destination);
  });
}

/** Find the account and destination key for an address as configured (any case / IDN spelling). */
function findDestinationKey(cur: DynamicConfig, address: string): { account: string; key: string } | undefined {
  if (address.startsWith('@')) {
    const d = normalizeDomain(address.slice(1));
    for (const [account, acc] of Object.entries(cur.Accounts)) {
      for (const key of Object.keys(acc.Destinations)) {
        if (key.startsWith('@') && normalizeDomain(key.slice(1)) === d) return { account, key };
      }
    }
    return undefined;
  }
  const a = parseAddress(address);
  const d = a && findDomain(cur, a.domain);
  if (!a || !d) return undefined;
  const fold = (lp: string) => (d.domain.LocalpartCaseSensitive ? lp : lp.toLowerCase());
  const want = fold(a.localpart);
  for (const [account, acc] of Object.entries(cur.Accounts)) {
    for (const key of Object.keys(acc.Destinations)) {
      const k = parseAddress(key);
      if (k && k.domain === a.domain && fold(k.localpart) === want) {
        return { account, key };
      }
    }
  }
  return undefined;
}

/** Remove an address (or "@domain" catchall) from whichever account has it. The last address of an account cannot be removed. */
export function removeAddress(f: DomainsFile, address: string): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const found = findDestinationKey(cur, address);
    if (!found) refuse(f, ['Accounts'], `no account has address ${JSON.stringify(address)}`);
    if (Object.keys(cur.Accounts[found.account]!.Destinations).length === 1) {
      refuse(f, ['Accounts', found.account, 'Destinations', found.key], 'cannot remove the last address of an account; remove the account instead');
    }
    doc.deleteIn(['Accounts', found.account, 'Destinations', found.key]);
  });
}

/** Fields to set on an account, in config-file form (durations as strings); undefined deletes a key. */
export type AccountFields = { [K in keyof AccountInput]?: AccountInput[K] | undefined };
export type DomainFields = { [K in keyof DomainInput]?: DomainInput[K] | undefined };

function setFields(doc: Document, base: string[], fields: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) doc.deleteIn([...base, k]);
    else setKey(doc, [...base, k], v);
  }
}

/** Set (or with undefined, delete) top-level keys of an account, e.g. {LoginDisabled: "…"} or {OutgoingWebhook: {…}}. */
export function setAccountFields(f: DomainsFile, account: string, fields: AccountFields): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    if (!Object.hasOwn(cur.Accounts, account)) refuse(f, ['Accounts', account], 'no such account');
    setFields(doc, ['Accounts', account], fields);
  });
}

/** Set (or with undefined, delete) top-level keys of a domain, e.g. {Disabled: true}. */
export function setDomainFields(f: DomainsFile, domain: string, fields: DomainFields): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const d = findDomain(cur, domain);
    if (!d) refuse(f, ['Domains', domain], 'no such domain');
    setFields(doc, ['Domains', d.key], fields);
  });
}

/** Add an alias localpart@domain with member addresses. */
export function addAlias(
  f: DomainsFile,
  address: string,
  members: string[],
  opts: Omit<AliasInput, 'Addresses'> = {},
): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const a = parseAddress(address);
    const d = a && findDomain(cur, a.domain);
    if (!a || !d) refuse(f, ['Domains'], `not an address in a configured domain: ${JSON.stringify(address)}`);
    if (inUse(cur, address)) refuse(f, ['Domains', d.key, 'Aliases', a.localpart], `address ${address} is already in use`);
    blockMap(doc, ['Domains', d.key, 'Aliases']);
    setKey(doc, ['Domains', d.key, 'Aliases', a.localpart], { Addresses: members, ...opts });
  });
}

/** Remove an alias. */
export function removeAlias(f: DomainsFile, address: string): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const r = lookupDestination(cur, address);
    if (r?.kind !== 'alias') refuse(f, ['Domains'], `no alias ${JSON.stringify(address)}`);
    doc.deleteIn(['Domains', r.domainKey, 'Aliases', r.aliasKey]);
    if (Object.keys(r.domain.Aliases ?? {}).length === 1) doc.deleteIn(['Domains', r.domainKey, 'Aliases']);
  });
}

/** Add a DKIM selector (its key file written by the caller) to a domain, optionally signing with it. */
export function addDkimSelector(f: DomainsFile, domain: string, selector: string, sel: SelectorInput, sign: boolean): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const d = findDomain(cur, domain);
    if (!d) refuse(f, ['Domains', domain], 'no such domain');
    if (Object.hasOwn(d.domain.DKIM?.Selectors ?? {}, selector)) refuse(f, ['Domains', d.key, 'DKIM', 'Selectors', selector], 'selector already exists');
    blockMap(doc, ['Domains', d.key, 'DKIM', 'Selectors']);
    setKey(doc, ['Domains', d.key, 'DKIM', 'Selectors', selector], sel);
    if (sign) setKey(doc, ['Domains', d.key, 'DKIM', 'Sign'], [...(d.domain.DKIM?.Sign ?? []), selector]);
  });
}

/** Remove a DKIM selector from a domain (and from its Sign list); the key file is left alone. */
export function removeDkimSelector(f: DomainsFile, domain: string, selector: string): Promise<DynamicConfig> {
  return editDomainsFile(f, (doc, cur) => {
    const d = findDomain(cur, domain);
    if (!d) refuse(f, ['Domains', domain], 'no such domain');
    if (!Object.hasOwn(d.domain.DKIM?.Selectors ?? {}, selector)) refuse(f, ['Domains', d.key, 'DKIM', 'Selectors', selector], 'no such selector');
    doc.deleteIn(['Domains', d.key, 'DKIM', 'Selectors', selector]);
    const sign = (d.domain.DKIM?.Sign ?? []).filter((s) => s !== selector);
    if (sign.length !== (d.domain.DKIM?.Sign ?? []).length) setKey(doc, ['Domains', d.key, 'DKIM', 'Sign'], sign);
  });
}
