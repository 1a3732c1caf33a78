/**
 * The DNS records a domain owner publishes for a domain hosted by moxts, as a zone file:
 * MX (rfc5321:5.1), SPF (rfc7208), DKIM (rfc6376:3.6), DMARC (rfc7489:6.1), TLSRPT (rfc8460:3),
 * MTA-STS (rfc8461:3.1), autoconfig/autodiscover and SRV records for clients (rfc6186, rfc8314:5.1).
 * Used by `moxts quickstart`, `moxts config dnsrecords` and the admin pages.
 */

export interface DomainRecordsInput {
  /** The email domain, ASCII (A-label) form. */
  domain: string;
  /** The mail server's host name (what MX points at), ASCII form. */
  hostname: string;
  /** Public IPs of the host, if known: published as A/AAAA and used in SPF. */
  ips?: string[];
  /** DKIM selectors with their TXT values (see auth/dkim-keys.ts). */
  dkim: { selector: string; txt: string }[];
  /** Localpart receiving DMARC aggregate reports, e.g. "dmarcreports". */
  dmarcLocalpart?: string;
  /** Localpart receiving TLS reports, e.g. "tlsreports". */
  tlsrptLocalpart?: string;
  /** MTA-STS policy id; when set, the MTA-STS records are included. */
  mtastsPolicyId?: string;
  /** Host name clients use for IMAP/submission, default the hostname. */
  clientSettingsDomain?: string;
}

/** A zone-file TXT value: strings longer than 255 bytes are split (rfc1035:3.3.14). */
export function txtValue(s: string): string {
  const parts: string[] = [];
  for (let i = 0; i < s.length; i += 255) parts.push(s.slice(i, i + 255));
  return parts.map((p) => `"${p.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(' ');
}

function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function ipMechanisms(ips: readonly string[]): string {
  return ips.map((ip) => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`)).join(' ');
}

/** SPF of the email domain: its MX hosts (and the listed IPs) send for it (rfc7208:5.4). */
export function spfDomainValue(ips: readonly string[]): string {
  return ['v=spf1', ipMechanisms(ips), 'mx', '~all'].filter(Boolean).join(' ');
}

/** SPF of the host name itself (used as HELO/EHLO and for DSNs' empty MAIL FROM, rfc7208:2.3). */
export function spfHostValue(ips: readonly string[]): string {
  return ['v=spf1', ipMechanisms(ips), 'a', '-all'].filter(Boolean).join(' ');
}

export function dmarcValue(input: Pick<DomainRecordsInput, 'domain' | 'dmarcLocalpart'>): string {
  return `v=DMARC1;p=reject;rua=mailto:${input.dmarcLocalpart ?? 'dmarcreports'}@${input.domain}!10m`;
}

export function tlsrptValue(input: Pick<DomainRecordsInput, 'domain' | 'tlsrptLocalpart'>): string {
  return `v=TLSRPTv1; rua=mailto:${input.tlsrptLocalpart ?? 'tlsreports'}@${input.domain}`;
}

export function mtastsValue(policyId: string): string {
  return `v=STSv1; id=${policyId}`;
}

/** One record a domain needs, for checking what is published (dns/check.ts). */
export interface ExpectedRecord {
  /** What it is for, e.g. "MX", "SPF", "DKIM 2026a", "DMARC". */
  purpose: string;
  /** Owner name without the trailing dot. */
  name: string;
  type: 'MX' | 'TXT' | 'CNAME';
  /** The value as published: "10 host." for MX, the joined text for TXT, the target for CNAME. */
  value: string;
}

/**
 * The records of domainRecords() that mail delivery and authentication depend on, as data: MX,
 * SPF of the domain and of the host, DKIM per selector, DMARC, TLSRPT, and MTA-STS when
 * configured. (Client autoconfiguration records are advice and not checked.)
 */
export function expectedRecords(input: DomainRecordsInput): ExpectedRecord[] {
  const d = input.domain.replace(/\.$/, '');
  const host = input.hostname.replace(/\.$/, '');
  const ips = input.ips ?? [];
  const out: ExpectedRecord[] = [{ purpose: 'MX', name: d, type: 'MX', value: `10 ${host}.` }];
  out.push({ purpose: 'SPF', name: d, type: 'TXT', value: spfDomainValue(ips) });
  if (host !== d) out.push({ purpose: 'SPF of the host name', name: host, type: 'TXT', value: spfHostValue(ips) });
  for (const k of input.dkim) out.push({ purpose: `DKIM ${k.selector}`, name: `${k.selector}._domainkey.${d}`, type: 'TXT', value: k.txt });
  out.push({ purpose: 'DMARC', name: `_dmarc.${d}`, type: 'TXT', value: dmarcValue(input) });
  out.push({ purpose: 'TLSRPT', name: `_smtp._tls.${d}`, type: 'TXT', value: tlsrptValue(input) });
  if (input.mtastsPolicyId) {
    out.push({ purpose: 'MTA-STS', name: `_mta-sts.${d}`, type: 'TXT', value: mtastsValue(input.mtastsPolicyId) });
    out.push({ purpose: 'MTA-STS policy host', name: `mta-sts.${d}`, type: 'CNAME', value: `${host}.` });
  }
  return out;
}

/** Zone-file lines (with comments) for one domain. */
export function domainRecords(input: DomainRecordsInput): string[] {
  const d = fqdn(input.domain);
  const host = fqdn(input.hostname);
  const client = fqdn(input.clientSettingsDomain ?? input.hostname);
  const ips = input.ips ?? [];
  const ttl = 300;
  const out: string[] = [];
  out.push(`; DNS records for ${input.domain}, served by ${input.hostname}.`);
  out.push('; Publish these in the zone of the domain (and the host name).', '');
  if (ips.length && input.hostname !== input.domain) {
    out.push('; The mail host itself. Also set reverse DNS (PTR) of each IP to the host name.');
    for (const ip of ips) out.push(`${host} ${ttl} IN ${ip.includes(':') ? 'AAAA' : 'A'} ${ip}`);
    out.push('');
  }
  out.push('; Deliver email for the domain to this host.');
  out.push(`${d} ${ttl} IN MX 10 ${host}`, '');
  out.push('; SPF: only the MX hosts (and listed IPs) may send for the domain; the host name itself too.');
  out.push(`${d} ${ttl} IN TXT ${txtValue(spfDomainValue(ips))}`);
  if (host !== d) out.push(`${host} ${ttl} IN TXT ${txtValue(spfHostValue(ips))}`);
  out.push('');
  if (input.dkim.length) {
    out.push('; DKIM public keys: receivers verify our signatures with these.');
    for (const k of input.dkim) out.push(`${k.selector}._domainkey.${d} ${ttl} IN TXT ${txtValue(k.txt)}`);
    out.push('');
  }
  out.push('; DMARC: reject messages that fail SPF and DKIM alignment; reports go to the address in rua.');
  out.push(`_dmarc.${d} ${ttl} IN TXT ${txtValue(dmarcValue(input))}`, '');
  out.push('; TLSRPT: where other servers send reports about TLS with our MX.');
  out.push(`_smtp._tls.${d} ${ttl} IN TXT ${txtValue(tlsrptValue(input))}`, '');
  if (input.mtastsPolicyId) {
    out.push('; MTA-STS: senders must use verified TLS; the policy is served at https://mta-sts.<domain>/.well-known/mta-sts.txt.');
    out.push(`_mta-sts.${d} ${ttl} IN TXT ${txtValue(mtastsValue(input.mtastsPolicyId))}`);
    out.push(`mta-sts.${d} ${ttl} IN CNAME ${host}`, '');
  }
  out.push('; Client autoconfiguration (Thunderbird autoconfig, Microsoft autodiscover) and SRV records (rfc6186, rfc8314).');
  out.push(`autoconfig.${d} ${ttl} IN CNAME ${host}`);
  out.push(`_autodiscover._tcp.${d} ${ttl} IN SRV 0 1 443 ${host}`);
  out.push(`_imaps._tcp.${d} ${ttl} IN SRV 0 1 993 ${client}`);
  out.push(`_submissions._tcp.${d} ${ttl} IN SRV 0 1 465 ${client}`);
  out.push('; Plain-text IMAP and submission are not offered to clients (rfc8314:5.1, target "." means none).');
  out.push(`_imap._tcp.${d} ${ttl} IN SRV 0 0 0 .`);
  out.push(`_submission._tcp.${d} ${ttl} IN SRV 0 0 0 .`);
  out.push(`_pop3._tcp.${d} ${ttl} IN SRV 0 0 0 .`);
  out.push(`_pop3s._tcp.${d} ${ttl} IN SRV 0 0 0 .`);
  return out;
}
