/**
 * A real DNS server on 127.0.0.1 for tests (dns2), so code under test resolves through the same
 * `Resolver` (node's c-ares) as in production and never touches the network or the system resolver.
 *
 *   const dns = await startTestDns({
 *     'example.org': { MX: [{ exchange: 'mx.example.org', priority: 10 }], TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
 *     'mx.example.org': { A: ['127.0.0.1'] },
 *   });
 *   await dns.resolver.resolveMx('example.org');
 *   dns.set('_dmarc.example.org', { TXT: ['v=DMARC1;p=reject'] }); // add/replace at any time
 *   await dns.close();
 *
 * Semantics (what node's resolver then reports):
 * - A name not in the zone → NXDOMAIN (node: ENOTFOUND). A name in the zone without records of the
 *   asked type → NOERROR with an empty answer (node: ENODATA). `set(name, null)` removes a name.
 * - Names are case-insensitive and a trailing dot is ignored (rfc1035:2.3.3, rfc4343).
 * - TXT: `['a', 'b']` is two records; `[['a', 'b']]` is one record of two character-strings.
 *   Strings longer than 255 bytes are split into 255-byte character-strings (rfc1035:3.3.14,
 *   rfc7208:3.3), so node's resolveTxt returns them as several chunks of one record.
 * - CNAME: queries for other types follow CNAMEs inside the zone (the answer holds the CNAME and
 *   the target's records), like a recursive resolver does.
 * - PTR: a key may be an IP address ('192.0.2.1', '2001:db8::1'); it is turned into its
 *   in-addr.arpa / ip6.arpa name, so `resolver.reverse(ip)` works.
 * - `servfail: true` on a name answers SERVFAIL for every query (node: ESERVFAIL), for testing
 *   temporary DNS failures.
 * - UDP responses larger than 512 bytes (or the client's EDNS size) are truncated with TC=1 and
 *   c-ares retries over TCP, so a TCP server listens on the same port (large DKIM RSA keys need it).
 * - `queries` records every question asked, e.g. to assert that a cache prevented a lookup.
 */
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import dns2 from 'dns2';
import { createResolver, type MxRecord, type Resolver } from './resolver.js';

const { Packet } = dns2;
/** rfc1035:4.1.1 response codes (dns2 has them at runtime but not in its types). */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** Records for one name. */
export interface TestDnsRecords {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** Each entry is one TXT record: a string (split at 255 bytes) or explicit character-strings. */
  TXT?: (string | string[])[];
  /** Target name of a CNAME (at most one per name, rfc1034:3.6.2). */
  CNAME?: string;
  PTR?: string[];
  /** Answer SERVFAIL for any query at this name. */
  servfail?: boolean;
}

export type TestDnsZone = Record<string, TestDnsRecords>;

export interface TestDnsQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface TestDns {
  /** The UDP and TCP port on 127.0.0.1. */
  port: number;
  /** `host:port` for createResolver({servers}). */
  server: string;
  /** A resolver (createResolver) pointed at this server: short timeout, one try. */
  resolver: Resolver;
  /** Add or replace the records of a name; null removes the name (then NXDOMAIN). */
  set(name: string, records: TestDnsRecords | null): void;
  /** Every question received, in order (name lowercased, type like 'TXT', transport). */
  queries: TestDnsQuery[];
  close(): Promise<void>;
}

/** TTL in answers. Irrelevant to node (it does not cache), kept short and realistic. */
const ANSWER_TTL = 60;
/** CNAME chains longer than this are answered as is (loop protection). */
const MAX_CNAME_CHAIN = 8;
/** How often to try binding UDP+TCP on the same free port before giving up. */
const BIND_ATTEMPTS = 20;
/** rfc1035:3.3: a character-string holds at most 255 bytes. */
const MAX_CHARSTRING = 255;

/** Lowercase, without trailing dot; IP addresses become their reverse-lookup names. */
export function normalizeName(name: string): string {
  let n = name.trim();
  if (isIP(n)) return reverseName(n);
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n.toLowerCase();
}

/** The in-addr.arpa (rfc1035:3.5) or ip6.arpa (rfc3596:2.5) name of an IP address. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const halves = ip.toLowerCase().split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  let words: string[];
  if (halves.length === 2) {
    const head = groups(halves[0]);
    const tail = groups(halves[1]);
    words = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  } else {
    words = groups(halves[0]);
  }
  const nibbles = words.map((w) => w.padStart(4, '0')).join('').split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** Split a string into character-strings of at most 255 bytes, never inside a UTF-8 sequence. */
export function splitCharacterStrings(s: string): Buffer[] {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length === 0) return [buf];
  const out: Buffer[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(start + MAX_CHARSTRING, buf.length);
    // Back off while the byte at `end` is a UTF-8 continuation byte (10xxxxxx).
    while (end < buf.length && end > start + 1 && (buf[end]! & 0xc0) === 0x80) end--;
    out.push(buf.subarray(start, end));
    start = end;
  }
  return out;
}

function typeName(type: number): string {
  for (const [k, v] of Object.entries(Packet.TYPE)) if (v === type) return k;
  return String(type);
}

/** Start a DNS server on 127.0.0.1 (UDP and TCP, same free port) serving `zone`. */
export async function startTestDns(zone: TestDnsZone = {}): Promise<TestDns> {
  const records = new Map<string, TestDnsRecords>();
  const set = (name: string, r: TestDnsRecords | null) => {
    if (r) records.set(normalizeName(name), r);
    else records.delete(normalizeName(name));
  };
  for (const [name, r] of Object.entries(zone)) set(name, r);
  const queries: TestDnsQuery[] = [];

  const answer = (request: InstanceType<typeof Packet>, transport: 'udp' | 'tcp') => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    response.header.ra = 1;
    const q = request.questions[0];
    if (!q) {
      response.header.rcode = RCODE.FORMERR;
      return response;
    }
    queries.push({ name: normalizeName(q.name), type: typeName(q.type), transport });
    let name = normalizeName(q.name);
    let owner = q.name; // answer with the name as asked (c-ares compares case-insensitively)
    for (let hops = 0; ; hops++) {
      const r = records.get(name);
      if (!r) {
        // Only NXDOMAIN when the first name is unknown; a dangling CNAME target is NOERROR+CNAME.
        if (hops === 0) response.header.rcode = RCODE.NXDOMAIN;
        return response;
      }
      if (r.servfail) {
        response.header.rcode = RCODE.SERVFAIL;
        response.answers = [];
        return response;
      }
      const base = { name: owner, class: Packet.CLASS.IN, ttl: ANSWER_TTL };
      const push = (type: number, rec: Record<string, unknown>) =>
        response.answers.push({ ...base, type, ...rec } as never);
      if (r.CNAME && q.type !== Packet.TYPE.CNAME) {
        push(Packet.TYPE.CNAME, { domain: r.CNAME });
        if (hops >= MAX_CNAME_CHAIN) return response;
        owner = r.CNAME;
        name = normalizeName(r.CNAME);
        continue;
      }
      switch (q.type) {
        case Packet.TYPE.A:
          for (const address of r.A ?? []) push(Packet.TYPE.A, { address });
          break;
        case Packet.TYPE.AAAA:
          for (const address of r.AAAA ?? []) push(Packet.TYPE.AAAA, { address });
          break;
        case Packet.TYPE.MX:
          for (const mx of r.MX ?? []) push(Packet.TYPE.MX, { exchange: mx.exchange, priority: mx.priority });
          break;
        case Packet.TYPE.TXT:
          for (const t of r.TXT ?? []) {
            const data = typeof t === 'string' ? splitCharacterStrings(t) : t.flatMap(splitCharacterStrings);
            push(Packet.TYPE.TXT, { data });
          }
          break;
        case Packet.TYPE.CNAME:
          if (r.CNAME) push(Packet.TYPE.CNAME, { domain: r.CNAME });
          break;
        case Packet.TYPE.PTR:
          for (const domain of r.PTR ?? []) push(Packet.TYPE.PTR, { domain });
          break;
        default:
          break; // known name, unsupported type: NOERROR without answers (ENODATA)
      }
      return response;
    }
  };

  const handler = (transport: 'udp' | 'tcp') => (request: InstanceType<typeof Packet>, send: (p: InstanceType<typeof Packet>) => unknown) => {
    let response;
    try {
      response = answer(request, transport);
    } catch {
      response = Packet.createResponseFromRequest(request);
      response.header.rcode = RCODE.SERVFAIL;
    }
    Promise.resolve(send(response)).catch(() => {});
  };

  // Bind UDP on a free port, then TCP on the same port; retry when TCP's port is taken.
  let udp: InstanceType<typeof dns2.UDPServer> | undefined;
  let tcp: InstanceType<typeof dns2.TCPServer> | undefined;
  let port = 0;
  const sockets = new Set<Socket>();
  for (let attempt = 0; ; attempt++) {
    udp = new dns2.UDPServer({ type: 'udp4' } as never);
    udp.on('request', handler('udp') as never);
    udp.on('requestError', () => {});
    udp.on('error', () => {});
    await udp.listen(0, '127.0.0.1');
    port = udp.address().port;
    tcp = new dns2.TCPServer();
    tcp.on('request', handler('tcp') as never);
    tcp.on('requestError', () => {});
    tcp.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    });
    const t = tcp;
    const ok = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      t.once('error', onError);
      t.listen(port, '127.0.0.1', () => {
        t.off('error', onError);
        resolve(true);
      });
    });
    if (ok) break;
    await new Promise<void>((r) => udp!.close(() => r()));
    if (attempt + 1 >= BIND_ATTEMPTS) throw new Error('test dns: no free port for UDP and TCP');
  }
  const udpServer = udp;
  const tcpServer = tcp!;
  tcpServer.on('error', () => {});

  const server = `127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  return {
    port,
    server,
    resolver: createResolver({ servers: [server], timeoutMs: 2000, tries: 1 }),
    set,
    queries,
    close() {
      closed ??= Promise.all([
        new Promise<void>((r) => udpServer.close(() => r())),
        new Promise<void>((r) => {
          tcpServer.close(() => r());
          for (const s of sockets) s.destroy();
        }),
      ]).then(() => undefined);
      return closed;
    },
  };
}
