/**
 * Loading mox.conf (static) and domains.conf (dynamic): YAML → zod schema (defaults applied) →
 * semantic cross-checks → relative paths resolved → deep-frozen typed objects. Every refusal is
 * a ConfigError naming file, line and key path.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isIP } from 'node:net';
import type * as z from 'zod';
import { StaticConfigSchema, type StaticConfig } from './static-schema.js';
import { DynamicConfigSchema, type DynamicConfig, type Domain } from './dynamic-schema.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { parseSource, issueAt, type SourceDoc } from './source.js';
import { normalizeDomain, parseAddress, isValidLocalpart } from './address.js';
import { canonicalLocalpart, catchallSeparators } from './lookup.js';

/** Name of the dynamic config file, next to mox.conf. */
export const DYNAMIC_FILE_NAME = 'domains.conf';

/** Where each loaded (frozen) config came from, so later cross-checks can point into it. */
const sources = new WeakMap<object, SourceDoc>();

/** The source document of a loaded config object, if it came from the loader. */
export function sourceOf(cfg: object): SourceDoc | undefined {
  return sources.get(cfg);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED_NAMES: Record<string, string> = { object: 'mapping', array: 'list', record: 'mapping' };

type AnyDef = { type: string; [k: string]: unknown };
const defOf = (s: z.ZodType): AnyDef => (s as unknown as { def: AnyDef }).def;

function unwrapSchema(s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s);
    if (d.type === 'optional' || d.type === 'nullable' || d.type === 'default') s = d.innerType as z.ZodType;
    else if (d.type === 'pipe') s = d.in as z.ZodType;
    else return s;
  }
}

/** The keys allowed in the mapping at `path` of `schema`, if it is an object. */
function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s = unwrapSchema(schema);
  for (const seg of path) {
    const d = defOf(s);
    if (d.type === 'object') {
      const next = (d.shape as Record<string, z.ZodType>)[String(seg)];
      if (!next) return [];
      s = unwrapSchema(next);
    } else if (d.type === 'record') s = unwrapSchema(d.valueType as z.ZodType);
    else if (d.type === 'array') s = unwrapSchema(d.element as z.ZodType);
    else return [];
  }
  const d = defOf(s);
  return d.type === 'object' ? Object.keys(d.shape as object) : [];
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** "unknown key", with a suggestion when a known key is spelled alike. */
function unknownKeyMessage(schema: z.ZodType, parent: readonly PropertyKey[], key: string): string {
  const allowed = allowedKeysAt(schema, parent);
  const lower = key.toLowerCase();
  const match =
    allowed.find((k) => k.toLowerCase() === lower) ??
    allowed
      .map((k) => ({ k, d: editDistance(k.toLowerCase(), lower) }))
      .filter((x) => x.d <= (key.length >= 4 ? 2 : 1))
      .sort((a, b) => a.d - b.d)[0]?.k;
  return match ? `unknown key (did you mean ${match}?)` : 'unknown key';
}

function zodIssues(src: SourceDoc, issues: readonly z.core.$ZodIssue[], schema: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of issues) {
    const path = i.path;
    switch (i.code) {
      case 'unrecognized_keys':
        for (const k of i.keys) out.push(issueAt(src, src.file, [...path, k], unknownKeyMessage(schema, path, k)));
        break;
      case 'invalid_type': {
        const expected = EXPECTED_NAMES[i.expected] ?? i.expected;
        if (!('input' in i) || i.input === undefined) {
          out.push(issueAt(src, src.file, path, `missing required key (expected ${expected})`));
        } else {
          const v = i.input as Record<string, unknown> | null;
          const hint =
            v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && Object.hasOwn(v, ':')
              ? ' (write "::" in quotes: unquoted it is a YAML mapping)'
              : '';
          out.push(issueAt(src, src.file, path, `expected ${expected}, got ${describeValue(i.input)}${hint}`));
        }
        break;
      }
      case 'invalid_value': {
        const vals = i.values.map((v) => JSON.stringify(v)).join(', ');
        const got = 'input' in i ? `, got ${describeValue(i.input)}` : '';
        out.push(issueAt(src, src.file, path, `expected one of ${vals}${got}`));
        break;
      }
      case 'too_small':
      case 'too_big': {
        const what = i.origin === 'array' ? 'list length' : i.origin === 'string' ? 'length' : 'value';
        const op = i.code === 'too_small' ? (i.inclusive === false ? '>' : '>=') : i.inclusive === false ? '<' : '<=';
        const bound = i.code === 'too_small' ? i.minimum : i.maximum;
        const got = 'input' in i && i.origin !== 'array' && i.origin !== 'string' ? `, got ${describeValue(i.input)}` : '';
        out.push(issueAt(src, src.file, path, `${what} must be ${op} ${String(bound)}${got}`));
        break;
      }
      case 'invalid_union':
        out.push(issueAt(src, src.file, path, i.message));
        break;
      default:
        out.push(issueAt(src, src.file, path, i.message.replace(/^Invalid input: /, '')));
    }
  }
  return out;
}

function resolveIn(dir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dir, p);
}

export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Static config (mox.conf)

const IMPLICIT_TLS = ['Submissions', 'IMAPS', 'AccountHTTPS', 'AdminHTTPS', 'WebAPIHTTPS'] as const;
const SERVICES = [
  'SMTP',
  'Submission',
  'Submissions',
  'IMAP',
  'IMAPS',
  'AccountHTTP',
  'AccountHTTPS',
  'AdminHTTP',
  'AdminHTTPS',
  'WebAPIHTTP',
  'WebAPIHTTPS',
  'MetricsHTTP',
] as const;
type Service = (typeof SERVICES)[number];

function serviceKind(s: Service): string {
  if (s === 'MetricsHTTP' || s === 'AccountHTTP' || s === 'AdminHTTP' || s === 'WebAPIHTTP') return 'http';
  if (s.endsWith('HTTPS')) return 'https';
  return s;
}

function ipsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const fa = isIP(a);
  const fb = isIP(b);
  if (fa !== fb) return false;
  const any = fa === 4 ? '0.0.0.0' : '::';
  return a === any || b === any;
}

function checkStatic(cfg: z.output<typeof StaticConfigSchema>, src: SourceDoc): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: PropertyKey[], msg: string) => issues.push(issueAt(src, src.file, path, msg));

  if (!normalizeDomain(cfg.Hostname)) add(['Hostname'], `not a valid hostname: ${JSON.stringify(cfg.Hostname)}`);

  interface Bind {
    listener: string;
    service: Service;
    ip: string;
    port: number;
    path: string;
  }
  const binds: Bind[] = [];
  for (const [name, l] of Object.entries(cfg.Listeners)) {
    const base = ['Listeners', name];
    const seen = new Set<string>();
    l.IPs.forEach((ip, i) => {
      if (!isIP(ip)) add([...base, 'IPs', i], `not a valid IP address: ${JSON.stringify(ip)}`);
      else if (seen.has(ip)) add([...base, 'IPs', i], `duplicate IP address ${ip}`);
      seen.add(ip);
    });
    l.NATIPs?.forEach((ip, i) => {
      if (!isIP(ip)) add([...base, 'NATIPs', i], `not a valid IP address: ${JSON.stringify(ip)}`);
    });
    if (l.Hostname !== undefined && !normalizeDomain(l.Hostname)) {
      add([...base, 'Hostname'], `not a valid hostname: ${JSON.stringify(l.Hostname)}`);
    }
    for (const s of IMPLICIT_TLS) {
      if (l[s]?.Enabled && !l.TLS) add([...base, s], `${s} is enabled but the listener has no TLS config`);
    }
    if (l.Submission?.Enabled && !l.Submission.NoRequireSTARTTLS && !l.TLS) {
      add([...base, 'Submission'], 'Submission requires STARTTLS but the listener has no TLS config (set TLS, or NoRequireSTARTTLS for testing)');
    }
    if (l.IMAP?.Enabled && !l.IMAP.NoRequireSTARTTLS && !l.TLS) {
      add([...base, 'IMAP'], 'IMAP requires STARTTLS but the listener has no TLS config (set TLS, or NoRequireSTARTTLS for testing)');
    }
    if (l.SMTP?.Enabled && l.SMTP.RequireSTARTTLS && (l.SMTP.NoSTARTTLS || !l.TLS)) {
      add([...base, 'SMTP', 'RequireSTARTTLS'], 'RequireSTARTTLS needs STARTTLS: a TLS config and no NoSTARTTLS');
    }
    const paths = new Map<string, string>();
    for (const s of SERVICES) {
      const svc = l[s];
      if (!svc?.Enabled || svc.Port === 0) continue;
      if ('Path' in svc) {
        const k = `${serviceKind(s)}:${svc.Port}:${svc.Path}`;
        const other = paths.get(k);
        if (other) add([...base, s, 'Path'], `path ${svc.Path} on port ${svc.Port} is also used by ${other}`);
        else paths.set(k, s);
      }
      for (const ip of new Set(l.IPs)) binds.push({ listener: name, service: s, ip, port: svc.Port, path: `Listeners.${name}.${s}` });
    }
  }
  // A port on an IP belongs to one service, except that the HTTP (or HTTPS) services of one
  // listener share a web server per port (they are told apart by Path).
  const reported = new Set<string>();
  for (let i = 0; i < binds.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = binds[j]!;
      const b = binds[i]!;
      if (a.port !== b.port || !ipsOverlap(a.ip, b.ip)) continue;
      const ka = serviceKind(a.service);
      if (ka === serviceKind(b.service) && (ka === 'http' || ka === 'https') && a.listener === b.listener) continue;
      const key = `${b.path}|${a.path}`;
      if (reported.has(key)) continue;
      reported.add(key);
      add(['Listeners', b.listener, b.service, 'Port'], `port ${b.port} on ${b.ip} is also used by ${a.path} (on ${a.ip})`);
    }
  }
  return issues;
}

/** Parse and check mox.conf text. `file` is used in errors and to resolve relative paths. */
export function parseStatic(text: string, file: string): StaticConfig {
  const { src, value } = parseSource(text, file);
  const r = StaticConfigSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new ConfigError(zodIssues(src, r.error.issues, StaticConfigSchema));
  const cfg = r.data;
  const issues = checkStatic(cfg, src);
  if (issues.length) throw new ConfigError(issues);
  const dir = dirname(resolve(file));
  cfg.DataDir = resolveIn(dir, cfg.DataDir);
  if (cfg.AdminPasswordFile) cfg.AdminPasswordFile = resolveIn(dir, cfg.AdminPasswordFile);
  if (cfg.TLS?.CA) cfg.TLS.CA.CertFiles = cfg.TLS.CA.CertFiles.map((f) => resolveIn(dir, f));
  for (const l of Object.values(cfg.Listeners)) {
    for (const kc of l.TLS?.KeyCerts ?? []) {
      kc.CertFile = resolveIn(dir, kc.CertFile);
      kc.KeyFile = resolveIn(dir, kc.KeyFile);
    }
  }
  sources.set(cfg, src);
  return deepFreeze(cfg) as StaticConfig;
}

/** Read and parse mox.conf. */
export async function loadStatic(path: string): Promise<StaticConfig> {
  return parseStatic(await readConfigFile(path), path);
}

export function loadStaticSync(path: string): StaticConfig {
  return parseStatic(readConfigFileSync(path), path);
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: path, path: '', message: `cannot read config file: ${(e as Error).message}` }]);
  }
}

function readConfigFileSync(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: path, path: '', message: `cannot read config file: ${(e as Error).message}` }]);
  }
}

// ---------------------------------------------------------------------------------------------
// Dynamic config (domains.conf)

const ACCOUNT_NAME = /^[^/\\\0\s@]+$/;

function checkDynamic(cfg: z.output<typeof DynamicConfigSchema>, src: SourceDoc, stat: StaticConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: PropertyKey[], msg: string) => issues.push(issueAt(src, src.file, path, msg));
  const transports = stat.Transports ?? {};

  // Domains by normalised name.
  const domains = new Map<string, { key: string; dom: Domain }>();
  for (const [key, dom] of Object.entries(cfg.Domains)) {
    const base = ['Domains', key];
    const n = normalizeDomain(key);
    if (!n) {
      add(base, `not a valid domain name: ${JSON.stringify(key)}`);
      continue;
    }
    const prev = domains.get(n);
    if (prev) add(base, `same domain as ${JSON.stringify(prev.key)}`);
    else domains.set(n, { key, dom });
    if (dom.LocalpartCatchallSeparator !== undefined && dom.LocalpartCatchallSeparators !== undefined) {
      add([...base, 'LocalpartCatchallSeparators'], 'set either LocalpartCatchallSeparator or LocalpartCatchallSeparators, not both');
    }
    if (dom.ClientSettingsDomain !== undefined && !normalizeDomain(dom.ClientSettingsDomain)) {
      add([...base, 'ClientSettingsDomain'], `not a valid domain name: ${JSON.stringify(dom.ClientSettingsDomain)}`);
    }
    if (dom.DKIM) {
      for (const sel of Object.keys(dom.DKIM.Selectors)) {
        if (!/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?$/.test(sel)) {
          add([...base, 'DKIM', 'Selectors', sel], `not a valid DKIM selector name: ${JSON.stringify(sel)}`);
        }
      }
      dom.DKIM.Sign.forEach((sel, i) => {
        if (!(sel in dom.DKIM!.Selectors)) add([...base, 'DKIM', 'Sign', i], `unknown DKIM selector ${JSON.stringify(sel)} (not in Selectors)`);
      });
    }
  }
  const domainOf = (name: string) => {
    const n = normalizeDomain(name);
    return n === undefined ? undefined : domains.get(n);
  };

  const checkRoutes = (routes: readonly { FromDomain?: string[]; ToDomain?: string[]; Transport: string }[] | undefined, base: PropertyKey[]) => {
    routes?.forEach((r, i) => {
      if (!Object.hasOwn(transports, r.Transport)) {
        add([...base, i, 'Transport'], `unknown transport ${JSON.stringify(r.Transport)} (not in mox.conf Transports)`);
      }
      for (const k of ['FromDomain', 'ToDomain'] as const) {
        r[k]?.forEach((d, j) => {
          if (!normalizeDomain(d.startsWith('.') ? d.slice(1) : d)) add([...base, i, k, j], `not a valid domain: ${JSON.stringify(d)}`);
        });
      }
    });
  };
  checkRoutes(cfg.Routes, ['Routes']);

  // Accounts and their destinations.
  const addrOwner = new Map<string, string>(); // canonical address → "Accounts.x.Destinations.y"
  const accountAddrs = new Map<string, Set<string>>(); // account → canonical addresses
  for (const [name, acc] of Object.entries(cfg.Accounts)) {
    const base = ['Accounts', name];
    if (!ACCOUNT_NAME.test(name) || name === '.' || name === '..') {
      add(base, `invalid account name ${JSON.stringify(name)} (no slashes, backslashes, whitespace or @)`);
    }
    if (!domainOf(acc.Domain)) add([...base, 'Domain'], `unknown domain ${JSON.stringify(acc.Domain)} (not in Domains)`);
    const mine = new Set<string>();
    accountAddrs.set(name, mine);
    for (const key of Object.keys(acc.Destinations)) {
      const dpath = [...base, 'Destinations', key];
      let canon: string;
      if (key.startsWith('@')) {
        const d = domainOf(key.slice(1));
        if (!d) {
          add(dpath, `catchall for unknown domain ${JSON.stringify(key.slice(1))} (not in Domains)`);
          continue;
        }
        canon = `@${normalizeDomain(key.slice(1))}`;
      } else {
        const a = parseAddress(key);
        if (!a) {
          add(dpath, `not a valid email address (or "@domain" catchall): ${JSON.stringify(key)}`);
          continue;
        }
        const d = domainOf(a.domain);
        if (!d) {
          add(dpath, `address in unknown domain ${JSON.stringify(a.domain)} (not in Domains)`);
          continue;
        }
        const sep = catchallSeparators(d.dom).find((s) => a.localpart.includes(s));
        if (sep !== undefined) {
          add(dpath, `localpart contains the catchall separator ${JSON.stringify(sep)} of its domain`);
          continue;
        }
        canon = `${canonicalLocalpart(a.localpart, d.dom)}@${a.domain}`;
      }
      const prev = addrOwner.get(canon);
      if (prev) add(dpath, `address already configured at ${prev}`);
      else addrOwner.set(canon, `Accounts.${name}.Destinations.${key}`);
      mine.add(canon);
    }
    acc.FromIDLoginAddresses?.forEach((addr, i) => {
      const a = parseAddress(addr);
      const d = a && domainOf(a.domain);
      if (!a || !d || !mine.has(`${canonicalLocalpart(a.localpart, d.dom)}@${a.domain}`)) {
        add([...base, 'FromIDLoginAddresses', i], `${JSON.stringify(addr)} is not an address of this account`);
      }
    });
    checkRoutes(acc.Routes, [...base, 'Routes']);
  }

  // Per-domain references to accounts, aliases.
  for (const [key, dom] of Object.entries(cfg.Domains)) {
    const base = ['Domains', key];
    const n = normalizeDomain(key);
    checkRoutes(dom.Routes, [...base, 'Routes']);
    for (const rep of ['DMARC', 'TLSRPT'] as const) {
      const r = dom[rep];
      if (!r) continue;
      if (!Object.hasOwn(cfg.Accounts, r.Account)) add([...base, rep, 'Account'], `unknown account ${JSON.stringify(r.Account)}`);
      if (!isValidLocalpart(r.Localpart)) add([...base, rep, 'Localpart'], `not a valid localpart: ${JSON.stringify(r.Localpart)}`);
      const rd = r.Domain === undefined ? (n === undefined ? undefined : domains.get(n)) : domainOf(r.Domain);
      if (r.Domain !== undefined && !rd) add([...base, rep, 'Domain'], `unknown domain ${JSON.stringify(r.Domain)} (not in Domains)`);
      if (rd && isValidLocalpart(r.Localpart)) {
        const canon = `${canonicalLocalpart(r.Localpart, rd.dom)}@${normalizeDomain(rd.key)}`;
        const prev = addrOwner.get(canon);
        if (prev) add([...base, rep, 'Localpart'], `report address ${canon} is already configured at ${prev}`);
        else addrOwner.set(canon, `Domains.${key}.${rep}`);
      }
    }
    if (!n) continue;
    for (const [lp, alias] of Object.entries(dom.Aliases ?? {})) {
      const apath = [...base, 'Aliases', lp];
      if (!isValidLocalpart(lp)) {
        add(apath, `not a valid localpart: ${JSON.stringify(lp)}`);
        continue;
      }
      const sep = catchallSeparators(dom).find((s) => lp.includes(s));
      if (sep !== undefined) add(apath, `alias localpart contains the catchall separator ${JSON.stringify(sep)}`);
      const canon = `${canonicalLocalpart(lp, dom)}@${n}`;
      const prev = addrOwner.get(canon);
      if (prev) add(apath, `alias address ${canon} is already configured at ${prev}`);
      else addrOwner.set(canon, `Domains.${key}.Aliases.${lp}`);
      const members = new Set<string>();
      alias.Addresses.forEach((m, i) => {
        const a = parseAddress(m);
        if (!a) {
          add([...apath, 'Addresses', i], `not a valid email address: ${JSON.stringify(m)}`);
          return;
        }
        const d = domainOf(a.domain);
        const mcanon = d ? `${canonicalLocalpart(a.localpart, d.dom)}@${a.domain}` : undefined;
        const owner = mcanon === undefined ? undefined : addrOwner.get(mcanon);
        if (!owner?.startsWith('Accounts.')) {
          add([...apath, 'Addresses', i], `${JSON.stringify(m)} is not an address of a local account`);
        } else if (members.has(mcanon!)) {
          add([...apath, 'Addresses', i], `duplicate member ${JSON.stringify(m)}`);
        }
        if (mcanon) members.add(mcanon);
      });
    }
  }

  // The postmaster account is configured in mox.conf but must exist here.
  const pm = stat.Postmaster.Account;
  if (!Object.hasOwn(cfg.Accounts, pm)) {
    const ssrc = sources.get(stat);
    issues.push(issueAt(ssrc, ssrc?.file ?? 'mox.conf', ['Postmaster', 'Account'], `unknown account ${JSON.stringify(pm)} (not in ${src.file} Accounts)`));
  }
  return issues;
}

/** Parse and check domains.conf text against the loaded static config. */
export function parseDynamic(text: string, file: string, stat: StaticConfig): DynamicConfig {
  const { src, value } = parseSource(text, file);
  const r = DynamicConfigSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new ConfigError(zodIssues(src, r.error.issues, DynamicConfigSchema));
  const cfg = r.data;
  const issues = checkDynamic(cfg, src, stat);
  if (issues.length) throw new ConfigError(issues);
  const dir = dirname(resolve(file));
  for (const dom of Object.values(cfg.Domains)) {
    for (const sel of Object.values(dom.DKIM?.Selectors ?? {})) sel.PrivateKeyFile = resolveIn(dir, sel.PrivateKeyFile);
  }
  sources.set(cfg, src);
  return deepFreeze(cfg) as DynamicConfig;
}

/** Read and parse domains.conf. */
export async function loadDynamic(path: string, stat: StaticConfig): Promise<DynamicConfig> {
  return parseDynamic(await readConfigFile(path), path, stat);
}

export function loadDynamicSync(path: string, stat: StaticConfig): DynamicConfig {
  return parseDynamic(readConfigFileSync(path), path, stat);
}

/** Path of domains.conf for a mox.conf path: the same directory. */
export function dynamicPathFor(staticPath: string): string {
  return join(dirname(staticPath), DYNAMIC_FILE_NAME);
}

export interface LoadedConfig {
  static: StaticConfig;
  dynamic: DynamicConfig;
  staticPath: string;
  dynamicPath: string;
  /** Absolute directory of mox.conf; relative paths in the configs are relative to it. */
  configDir: string;
}

/** Load mox.conf and the domains.conf beside it. */
export async function loadConfig(staticPath: string): Promise<LoadedConfig> {
  const stat = await loadStatic(staticPath);
  const dynamicPath = dynamicPathFor(staticPath);
  const dynamic = await loadDynamic(dynamicPath, stat);
  return { static: stat, dynamic, staticPath, dynamicPath, configDir: dirname(resolve(staticPath)) };
}
