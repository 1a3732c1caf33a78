/**
 * localserve's DNS (mox §5): a fixed in-memory resolver so that mail from the hosted domains
 * (localhost) sent from loopback passes SPF, DKIM and DMARC, and so that nothing asks the real
 * DNS (a laptop offline must not wait for resolver timeouts). Per hosted domain it answers:
 * SPF allowing loopback (rfc7208:5.6), the DKIM selectors' public keys (rfc6376:3.6.2.1),
 * DMARC p=reject (rfc7489:6.1); localhost has A/AAAA and loopback its PTR. Every other name
 * does not exist.
 */
import { readFileSync } from 'node:fs';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { dkimTxtRecord } from '../auth/dkim-keys.js';
import type { MxRecord, Resolver } from '../dns/resolver.js';

/** The SPF record of every hosted domain: loopback may send. */
export const LOCALSERVE_SPF = 'v=spf1 ip4:127.0.0.0/8 ip6:::1 -all';
export const LOCALSERVE_DMARC = 'v=DMARC1; p=reject';

function notFound(name: string, rrtype: string): Error {
  // The error node's resolver gives; dns/resolver.ts isNotFound and mailauth test the code.
  return Object.assign(new Error(`query${rrtype} ENOTFOUND ${name}`), { code: 'ENOTFOUND', hostname: name });
}

/** Records for the domains in the config as loaded (key files already resolved to absolute paths). */
export function localserveResolver(dynamic: DynamicConfig): Resolver {
  const txt = new Map<string, string[][]>();
  const a = new Map<string, string[]>([['localhost', ['127.0.0.1']]]);
  const aaaa = new Map<string, string[]>([['localhost', ['::1']]]);
  for (const [domain, d] of Object.entries(dynamic.Domains)) {
    const dn = domain.toLowerCase();
    txt.set(dn, [[LOCALSERVE_SPF]]);
    txt.set(`_dmarc.${dn}`, [[LOCALSERVE_DMARC]]);
    for (const [sel, s] of Object.entries(d.DKIM?.Selectors ?? {})) {
      const record = dkimTxtRecord(readFileSync(s.PrivateKeyFile, 'utf8'));
      // rfc1035:3.3.14: character-strings of at most 255 bytes.
      const parts: string[] = [];
      for (let i = 0; i < record.length; i += 255) parts.push(record.slice(i, i + 255));
      txt.set(`${sel.toLowerCase()}._domainkey.${dn}`, [parts]);
    }
  }
  const norm = (name: string) => name.toLowerCase().replace(/\.$/, '');
  const lookup = <T>(m: Map<string, T>, rrtype: string) => async (name: string): Promise<T> => {
    const v = m.get(norm(name));
    if (v === undefined) throw notFound(name, rrtype);
    return structuredClone(v);
  };
  const resolveTxt = lookup(txt, 'Txt');
  const resolve4 = lookup(a, 'A');
  const resolve6 = lookup(aaaa, 'Aaaa');
  const resolveMx = async (name: string): Promise<MxRecord[]> => {
    throw notFound(name, 'Mx');
  };
  const resolveCname = async (name: string): Promise<string[]> => {
    throw notFound(name, 'Cname');
  };
  const reverse = async (ip: string): Promise<string[]> => {
    if (ip === '::1' || ip.startsWith('127.') || ip === '::ffff:127.0.0.1') return ['localhost'];
    throw notFound(ip, 'Ptr');
  };
  return {
    resolveTxt,
    resolve4,
    resolve6,
    resolveMx,
    resolveCname,
    reverse,
    resolve: (name, rrtype) => {
      switch (rrtype.toUpperCase()) {
        case 'TXT':
          return resolveTxt(name);
        case 'A':
          return resolve4(name);
        case 'AAAA':
          return resolve6(name);
        case 'MX':
          return resolveMx(name);
        case 'PTR':
          return reverse(name);
        default:
          return Promise.reject(notFound(name, rrtype));
      }
    },
  };
}
