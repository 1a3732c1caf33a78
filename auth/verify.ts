/**
 * Sender authentication of incoming mail: SPF (rfc7208), DKIM (rfc6376, rfc8463), ARC (rfc8617)
 * through mailauth 4.13.3, and DMARC (rfc7489) evaluated by auth/alignment.ts. Produces a plain,
 * JSON-serialisable verdict stored with each message (webapi MessageGet Meta, incoming webhook)
 * and the Authentication-Results (rfc8601) and Received-SPF (rfc7208:9.1) header fields to prepend.
 *
 * We run the same mailauth steps as its `authenticate()` (dkimVerify → spf → arc; DMARC replaced)
 * rather than `authenticate()` itself, because:
 * - `authenticate()` doesn't pass a clock to the DKIM verifier, so t=/x= checks would use the wall
 *   clock while our signer and tests use an injected one;
 * - its DMARC verdict is wrong for strict alignment in 4.13.3 (see auth/alignment.ts), and its
 *   Authentication-Results header would then carry the wrong dmarc= result, so we build the header
 *   ourselves anyway;
 * - DKIM (which reads the message) and SPF (DNS only) can run concurrently.
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { dkimVerify, spf as spfVerify, arc as arcVerify, type DNSResolver } from 'mailauth';
import type { Resolver } from '../dns/resolver.js';
import type { CachingResolver } from '../dns/cache.js';
import {
  evaluateDmarc,
  isAligned,
  lookupDmarc,
  normalizeDomain,
  type DmarcLookup,
  type DmarcPolicy,
} from './alignment.js';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
export type DkimResult = 'pass' | 'fail' | 'neutral' | 'policy' | 'temperror' | 'permerror';
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
export type ArcResult = 'pass' | 'fail' | 'none';

export interface SpfVerdict {
  result: SpfResult;
  /** The checked domain: MAIL FROM domain, or the HELO name for a null reverse-path (rfc7208:2.4). */
  domain: string;
  /** Which identity was checked (rfc7208:2.3, 2.4). */
  identity: 'mailfrom' | 'helo';
  /** Human-readable reason (mailauth's comment; mailauth does not fetch exp= explanations). */
  explanation?: string;
}

export interface DkimVerdict {
  result: DkimResult;
  /** d= */
  domain: string;
  /** s= */
  selector: string;
  /** a=, e.g. 'ed25519-sha256' */
  algorithm: string;
  /** d= aligned with the From domain, under the DMARC record's adkim mode (relaxed without a record). */
  aligned: boolean;
  /** Reason for a non-pass result, e.g. "body hash did not verify", "no key". */
  comment?: string;
}

export interface DmarcVerdict {
  result: DmarcResult;
  /** Requested policy: p=, or sp= for a subdomain covered by its organizational domain's record. */
  policy: DmarcPolicy;
  /** The From domain. */
  domain: string;
  /** Domain whose _dmarc record was used, if any. */
  recordDomain?: string;
  /** rfc7489:6.3 pct= (100 when absent). */
  pct: number;
  /**
   * Whether this message fell within the pct= sample (rfc7489:6.6.4). When false, a failing
   * message gets the next less strict policy (reject → quarantine, quarantine → none).
   */
  pctApplied: boolean;
  alignment: { spf: boolean; dkim: boolean };
  strict: { adkim: boolean; aspf: boolean };
  /** Human-readable reason for none/temperror/permerror. */
  comment?: string;
}

export interface AuthVerdicts {
  spf: SpfVerdict;
  /** One entry per DKIM-Signature; empty when the message is not signed. */
  dkim: DkimVerdict[];
  /** d= of the signatures that passed, lowercase, without duplicates. */
  dkimVerifiedDomains: string[];
  dmarc: DmarcVerdict;
  arc: { result: ArcResult; comment?: string };
  /** Domain of the (single) From address, lowercase A-labels; '' when absent or ambiguous. */
  fromDomain: string;
  /** Authentication-Results header field (folded, CRLF-terminated) to prepend; authserv-id = hostname. */
  authResultsHeader: string;
  /** Received-SPF header field (folded, CRLF-terminated) to prepend. */
  receivedSpfHeader: string;
}

export interface VerifyInput {
  /** The message as received: a Buffer, a stream, or the path of a file holding it. */
  message: Buffer | Readable | string;
  /** Remote IP address of the SMTP client. */
  ip: string;
  /** EHLO/HELO argument as given by the client. */
  helo: string;
  /** MAIL FROM address without angle brackets; '' for the null reverse-path. */
  mailFrom: string;
  /** Our host name: the authserv-id of Authentication-Results (rfc8601:2.5) and SPF receiver. */
  hostname: string;
  /** Resolver to use (wrap it in dns/cache.ts cachingResolver in production). */
  resolver: Resolver;
  /** Time for DKIM t=/x= checks; default Date. */
  clock?: { now(): number };
  /** Random source in [0,1) for DMARC pct= sampling; default Math.random. */
  random?: () => number;
  /** Minimum RSA key size in bits for DKIM/ARC (rfc8301:3.2), default 1024. */
  minBitLength?: number;
  /**
   * localserve only (mox §5): SPF passes for these single-label domains (e.g. "localhost") when
   * the client connects from a loopback address. mailauth refuses single-label domains before
   * any lookup, so no DNS record can make them pass.
   */
  loopbackSpfDomains?: readonly string[];
}

/** 127.0.0.0/8 and ::1 (also IPv4-mapped). */
function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

/** rfc8301:3.2: verifiers must accept RSA keys of 1024 bits and more. */
export const DEFAULT_MIN_RSA_BITS = 1024;

/** mailauth's resolver contract (name, rrtype) on top of our Resolver. */
export function mailauthResolver(resolver: Resolver): DNSResolver {
  return (name, rrtype) => resolver.resolve(name, rrtype) as ReturnType<DNSResolver>;
}

interface MailauthDkimRow {
  signingDomain?: string;
  selector?: string;
  algo?: string;
  status: { result: string; comment?: string };
}

/**
 * mailauth reports several DKIM failures as "neutral". Map them to rfc8601:2.7.1 / rfc6376:6.1
 * results like mox: a body hash mismatch is a failed verification ("fail"), a missing or unusable
 * key record is unrecoverable ("permerror"; rfc6376:6.1.2 "no key for signature" is a PERMFAIL).
 */
function dkimResult(status: { result: string; comment?: string }): DkimResult {
  const r = status.result === 'temperr' ? 'temperror' : status.result;
  if (r === 'neutral') {
    const c = status.comment ?? '';
    if (c === 'body hash did not verify') return 'fail';
    if (['no key', 'unknown key version', 'unknown key type', 'invalid public key'].includes(c)) return 'permerror';
  }
  if (['pass', 'fail', 'neutral', 'policy', 'temperror', 'permerror'].includes(r)) return r as DkimResult;
  return 'neutral';
}

function spfResult(r: string): SpfResult {
  return (['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror'] as const).find((x) => x === r) ?? 'temperror';
}

/** The From domain for DMARC (rfc7489:6.6.1): one domain, else '' with a reason. */
function fromDomainOf(headerFrom: string[] | undefined): { domain: string; problem?: DmarcResult; comment?: string } {
  const domains = new Set(
    (headerFrom ?? []).map((a) => normalizeDomain(a.slice(a.lastIndexOf('@') + 1))).filter((d) => d),
  );
  if (domains.size === 1) return { domain: [...domains][0]! };
  if (domains.size === 0) return { domain: '', problem: 'none', comment: 'no From domain' };
  return { domain: '', problem: 'permerror', comment: 'multiple From domains' };
}

/**
 * Offset just past the end of the header section as mailauth's MessageParser finds it: after the
 * first LF that follows an LF or a CR LF (its bare-LF normalisation does not move that point);
 * -1 when there is none.
 */
export function headerSectionEnd(message: Buffer): number {
  for (let i = message.indexOf(0x0a); i >= 0; i = message.indexOf(0x0a, i + 1)) {
    if ((i >= 1 && message[i - 1] === 0x0a) || (i >= 2 && message[i - 1] === 0x0d && message[i - 2] === 0x0a)) return i + 1;
  }
  return -1;
}

/**
 * What to give mailauth's dkimVerify. It reads the body only to compute body hashes for
 * DKIM-Signature and ARC-Message-Signature/ARC-Seal headers; with none of those in the header
 * section its result (no signatures: "none", From addresses, no ARC chain) depends on the header
 * section alone, so the header section is all it gets: same verdicts, without its byte-by-byte
 * pass over the body (0.1 ms per 100 KiB). A header line that merely might be such a header
 * (any line starting, after whitespace, with "dkim-signature" or "arc-" in any case; mailauth
 * lower-cases the latin1-decoded name) makes it get the whole message, as before.
 */
export function dkimVerifyInput(message: Buffer): Buffer {
  const end = headerSectionEnd(message);
  if (end < 0 || end === message.length) return message;
  const head = message.toString('latin1', 0, end);
  if (/(?:^|\n)\s*(?:dkim-signature|arc-)/i.test(head)) return message;
  return message.subarray(0, end);
}

/** A header line that may be a DKIM-Signature or ARC header field (see dkimVerifyInput). */
const SIGNATURE_LINE = /(?:^|\n)\s*(?:dkim-signature|arc-)/i;

/**
 * The header section of a message that has one and carries no DKIM-Signature or ARC header
 * field (no line that might be one, as in dkimVerifyInput); undefined otherwise.
 */
export function unsignedHeaderSection(message: Buffer): Buffer | undefined {
  return unsignedHeader(message)?.header;
}

/** unsignedHeaderSection with the section as a latin1 string (what mailauth's parseHeaders reads). */
function unsignedHeader(message: Buffer): { header: Buffer; text: string } | undefined {
  const end = headerSectionEnd(message);
  if (end < 0) return undefined;
  const text = message.toString('latin1', 0, end);
  if (SIGNATURE_LINE.test(text)) return undefined;
  return { header: message.subarray(0, end), text };
}

// mailauth's own header and address parsers (its package has no "exports" map; resolved from
// mailauth's directory, so the same nodemailer copy it uses).
const mailauthRequire = createRequire(createRequire(import.meta.url).resolve('mailauth'));
const mailauthTools = mailauthRequire('./tools') as {
  parseHeaders(buf: Buffer): { parsed: Array<{ key: string | null; line: Buffer }> };
  formatAuthHeaderRow(method: string, status: unknown): string;
};
const mailauthAddressparser = mailauthRequire('nodemailer/lib/addressparser') as (s: string) => Array<{ address?: string }>;

/**
 * What mailauth's dkimVerify resolves to for a message without DKIM-Signature and ARC header
 * fields, given its header section (unsignedHeaderSection): the From addresses, one "none" row,
 * no ARC chain. Computed the way its DkimVerifier does (DkimVerifier.messageHeaders and
 * finalChunk, mailauth 4.13.3: its parseHeaders, the From fields' values after the first ":"
 * trimmed and given to its addressparser, top-level addresses only), without the Writable
 * stream, the byte-by-byte header scan and the setImmediate per chunk: on the SMTP path this was
 * ~9% of the event loop's time per message. auth/verify.test.ts compares both on many headers.
 */
export function unsignedDkimResult(header: Buffer): { headerFrom: string[]; results: unknown[]; arc: { chain: false } } {
  return unsignedDkimResultOf(header.toString('latin1'));
}

/** unsignedDkimResult of the header section as a latin1 string. */
function unsignedDkimResultOf(text: string): { headerFrom: string[]; results: unknown[]; arc: { chain: false } } {
  const headerFrom: string[] = [];
  for (const v of fromFieldValuesOf(text)) for (const a of fromAddresses(v)) headerFrom.push(a);
  const status = { result: 'none', comment: 'message not signed' };
  noneRowInfo ??= mailauthTools.formatAuthHeaderRow('dkim', status);
  return { headerFrom, results: [{ status, info: noneRowInfo }], arc: { chain: false } };
}

/** mailauth's Authentication-Results row for its "none" DKIM status: a constant, formatted once. */
let noneRowInfo: string | undefined;

/** A line that continues the previous header field in mailauth's parseHeaders. */
const CONTINUATION = /^\s/;
/** What mailauth's parseHeaders takes as a field's key: everything up to the first ":". */
const KEY = /^[^:]+/;

/**
 * The From fields' values as mailauth's DkimVerifier sees them: for each field of its
 * parseHeaders (latin1-decoded section, trailing CR/LF stripped, split at LF or CR LF, a line
 * starting with whitespace continuing the previous field, the key up to the first ":" trimmed and
 * lower-cased) whose key is "from", the field's bytes (lines joined with CR LF) decoded as UTF-8,
 * after the first ":", trimmed. Only fields whose first non-space character is an "f" can have
 * that key (the first line may also be empty, the key then starting on a continuation line), so
 * the others are skipped without being joined, matched or copied (mailauth builds a Buffer for
 * every field).
 */
export function fromFieldValues(header: Buffer): string[] {
  return fromFieldValuesOf(header.toString('latin1'));
}

/** The start of a field whose key may be "from" (a line starting with "f"). */
const F_LINE = /(?:^|\n)[fF]/g;

/**
 * fromFieldValues of the latin1 text. A header section as it comes from SMTP has no empty line
 * before its end and does not start with whitespace; then every field starts at the start of the
 * text or after an LF with a character that is not whitespace, and mailauth's key can only be
 * "from" for the fields starting with "f": those are found with one regular expression search
 * and the rest of the section is not split into lines. Anything else goes through the general
 * (line by line) path below.
 */
function fromFieldValuesOf(text: string): string[] {
  let end = text.length;
  for (let c = text.charCodeAt(end - 1); c === 0x0d || c === 0x0a; c = text.charCodeAt(--end - 1));
  const s = end === text.length ? text : text.slice(0, end);
  // Unusual: empty, starting with whitespace, or an empty line before the end.
  if (s === '' || CONTINUATION.test(s) || s.includes('\n\n') || s.includes('\n\r\n')) return fromFieldValuesByLine(s);
  const out: string[] = [];
  F_LINE.lastIndex = 0;
  for (let m = F_LINE.exec(s); m; m = F_LINE.exec(s)) {
    const start = m.index + m[0].length - 1;
    // The field ends at the first LF not followed by whitespace (the next field's start).
    let lf = s.indexOf('\n', start);
    while (lf >= 0 && CONTINUATION.test(s.charAt(lf + 1))) lf = s.indexOf('\n', lf + 1);
    let fieldEnd = lf < 0 ? s.length : lf;
    if (lf >= 0 && s.charCodeAt(lf - 1) === 0x0d) fieldEnd--;
    let row = s.slice(start, fieldEnd);
    // mailauth joins the lines of a field with CR LF.
    if (row.includes('\n')) row = row.replace(/\r?\n/g, '\r\n');
    pushIfFrom(out, row);
    if (lf >= 0) F_LINE.lastIndex = lf;
    else break;
  }
  return out;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** mailauth's key of a field: up to the first ":", trimmed, lower-cased; its value as DkimVerifier takes it. */
function pushIfFrom(out: string[], row: string): void {
  const key = KEY.exec(row);
  if (!key || key[0].trim().toLowerCase() !== 'from') return;
  // The field's bytes as UTF-8 (in ASCII the latin1 text itself).
  let v = NON_ASCII.test(row) ? Buffer.from(row, 'latin1').toString() : row;
  const colon = v.indexOf(':');
  if (colon >= 0) v = v.slice(colon + 1);
  out.push(v.trim());
}

/** fromFieldValuesOf for any text, with its trailing CR and LF removed: line by line as mailauth's parseHeaders. */
function fromFieldValuesByLine(s: string): string[] {
  const out: string[] = [];
  const lines = s.split(/\r?\n/);
  for (let i = 0; i < lines.length; ) {
    let j = i + 1;
    while (j < lines.length && CONTINUATION.test(lines[j]!)) j++;
    const first = lines[i]!;
    const c = first.charCodeAt(0);
    // "f"/"F"; or whitespace (the first line only) or an empty line, which continuation lines may follow.
    if (c === 0x66 || c === 0x46 || first === '' || CONTINUATION.test(first)) {
      pushIfFrom(out, j === i + 1 ? first : lines.slice(i, j).join('\r\n'));
    }
    i = j;
  }
  return out;
}

/** Most memoized From values (addressparser results); the map is emptied when full. */
const FROM_MEMO_MAX = 1000;
const fromMemo = new Map<string, readonly string[]>();

/** The top-level addresses of a From value, through mailauth's addressparser (memoized: a pure function of the value). */
function fromAddresses(value: string): readonly string[] {
  let r = fromMemo.get(value);
  if (r) return r;
  r = Object.freeze(mailauthAddressparser(value).filter((a) => a && a.address).map((a) => a.address!));
  if (fromMemo.size >= FROM_MEMO_MAX) fromMemo.clear();
  fromMemo.set(value, r);
  return r;
}

/** What verifyMessage uses of mailauth's SPF result. */
interface SpfOutcome {
  status: { result: string; comment?: unknown };
  domain: string;
}

/** Most memoized SPF verdicts per resolver (oldest dropped first). */
export const SPF_MEMO_MAX = 1000;
const spfMemos = new WeakMap<Resolver, Map<string, { expires: number; outcome: SpfOutcome }>>();

/**
 * mailauth's SPF check, memoized per (sender, ip, helo, receiver) when the resolver is our DNS
 * cache (dns/cache.ts): an SPF verdict is a function of those inputs and of the DNS answers the
 * evaluation asked for, so it is reused exactly as long as every one of those answers is still
 * the cached one (until the earliest of their expiries), i.e. as long as recomputing it would
 * read the same answers. Nothing is memoized when an answer was not cached (temporary DNS
 * failures are never cached) or the result is temperror. Saves mailauth's SPF parsing, option
 * validation and header formatting for every message of a sender that keeps sending (~10% of
 * the SMTP event loop's time per message in the bench).
 */
async function spfCheck(
  resolver: Resolver,
  args: { sender: string | undefined; ip: string; helo: string; mta: string },
): Promise<SpfOutcome & { expires?: number }> {
  const cache = cachingResolverOf(resolver);
  if (!cache) return spfVerify({ ...args, resolver: mailauthResolver(resolver) });
  let memos = spfMemos.get(resolver);
  if (!memos) spfMemos.set(resolver, (memos = new Map()));
  const key = JSON.stringify([args.sender ?? null, args.ip, args.helo, args.mta]);
  const memo = memos.get(key);
  if (memo && memo.expires > cache.now()) return { ...memo.outcome, expires: memo.expires };
  if (memo) memos.delete(key);
  const asked: Array<[string, string]> = [];
  const res = await spfVerify({
    ...args,
    resolver: ((name: string, rrtype: string) => {
      asked.push([name, rrtype]);
      return resolver.resolve(name, rrtype);
    }) as DNSResolver,
  });
  const outcome: SpfOutcome = { status: { result: res.status.result, comment: res.status.comment }, domain: res.domain };
  if (outcome.status.result === 'temperror' || asked.length === 0) return outcome;
  let expires = Infinity;
  for (const [name, rrtype] of asked) {
    const e = cache.cacheExpiry(name, rrtype);
    if (e === undefined) return outcome;
    if (e < expires) expires = e;
  }
  if (expires > cache.now()) {
    memos.set(key, { expires, outcome });
    if (memos.size > SPF_MEMO_MAX) memos.delete(memos.keys().next().value as string);
    return { ...outcome, expires };
  }
  return outcome;
}

/** The resolver as our DNS cache (dns/cache.ts), or undefined when it is not one. */
function cachingResolverOf(resolver: Resolver): CachingResolver | undefined {
  return typeof (resolver as Partial<CachingResolver>).cacheExpiry === 'function' ? (resolver as CachingResolver) : undefined;
}

/** Most memoized verdicts of unsigned messages per resolver (oldest dropped first). */
export const VERDICT_MEMO_MAX = 1000;
const verdictMemos = new WeakMap<Resolver, Map<string, { expires: number; verdict: AuthVerdicts }>>();

/**
 * The earliest expiry of the cached answers to the DMARC lookups made through `asked`, or
 * undefined when one of them is not cached (then nothing derived from them may be reused).
 */
function dmarcAnswersExpiry(cache: CachingResolver, asked: string[]): number | undefined {
  let expires = Infinity;
  for (const name of asked) {
    const e = cache.cacheExpiry(name, 'TXT');
    if (e === undefined) return undefined;
    if (e < expires) expires = e;
  }
  return expires;
}

/** A resolver that records the TXT names asked through it (for dmarcAnswersExpiry). */
function recordingTxt(resolver: Resolver, asked: string[]): Resolver {
  return {
    resolveMx: (n) => resolver.resolveMx(n),
    resolveTxt: (n) => {
      asked.push(n);
      return resolver.resolveTxt(n);
    },
    resolve4: (n) => resolver.resolve4(n),
    resolve6: (n) => resolver.resolve6(n),
    resolveCname: (n) => resolver.resolveCname(n),
    reverse: (ip) => resolver.reverse(ip),
    resolve: (n, rrtype) => {
      if (rrtype.toUpperCase() === 'TXT') asked.push(n);
      return resolver.resolve(n, rrtype);
    },
  };
}

/**
 * The key of an unsigned message's memoized verdict: everything it depends on besides the DNS
 * answers. HELO and MAIL FROM come from SMTP command lines, our host name and the loopback
 * domains from the configuration: none holds an LF, so LF separates them; the From addresses
 * (which might) are one address or a JSON array, told apart by their first character.
 */
function verdictMemoKey(input: VerifyInput, mailFrom: string, headerFrom: readonly string[]): string {
  const from = headerFrom.length === 1 && !headerFrom[0]!.includes('\n') ? `1${headerFrom[0]}` : `*${JSON.stringify(headerFrom)}`;
  return `${input.ip}\n${input.helo}\n${mailFrom}\n${input.hostname}\n${input.loopbackSpfDomains?.join(' ') ?? ''}\n${from}`;
}

/**
 * The memoized verdict of an unsigned message, when verifyMessage has one for this input (the
 * same lookup it starts with); undefined otherwise, and then verifyMessage computes it. For
 * callers that skip a promise on the common path.
 */
export function memoizedVerdict(input: VerifyInput): AuthVerdicts | undefined {
  if (!Buffer.isBuffer(input.message)) return undefined;
  const memos = verdictMemos.get(input.resolver);
  const cache = memos ? cachingResolverOf(input.resolver) : undefined;
  if (!memos || !cache) return undefined;
  const unsigned = unsignedHeader(input.message);
  if (!unsigned) return undefined;
  const memo = memos.get(verdictMemoKey(input, input.mailFrom.trim(), unsignedDkimResultOf(unsigned.text).headerFrom));
  return memo && memo.expires > cache.now() ? memo.verdict : undefined;
}

/** Verify SPF, DKIM, ARC and DMARC for a received message. */
export async function verifyMessage(input: VerifyInput): Promise<AuthVerdicts> {
  const unsigned = Buffer.isBuffer(input.message) ? unsignedHeader(input.message) : undefined;
  const mailFrom = input.mailFrom.trim();

  // Memo for unsigned messages: with no DKIM signature and no ARC set, the verdicts and headers
  // are a function of the connection (ip, helo, MAIL FROM), our host name, the From addresses
  // and the DNS answers that SPF and DMARC asked for; with our DNS cache they are reused exactly
  // as long as every one of those answers is still the cached one (as spfCheck does for SPF).
  // Not memoized: temporary errors, answers that were not cached, DMARC pct below 100 (random
  // sampling). Saves DMARC policy discovery, alignment and header formatting per message of a
  // sender that keeps sending (~7% of the SMTP event loop's time per message in the bench).
  const cache = unsigned ? cachingResolverOf(input.resolver) : undefined;
  const unsignedRes = unsigned ? unsignedDkimResultOf(unsigned.text) : undefined;
  let memoKey: string | undefined;
  let memos: Map<string, { expires: number; verdict: AuthVerdicts }> | undefined;
  if (cache && unsignedRes) {
    memos = verdictMemos.get(input.resolver);
    if (!memos) verdictMemos.set(input.resolver, (memos = new Map()));
    memoKey = verdictMemoKey(input, mailFrom, unsignedRes.headerFrom);
    const memo = memos.get(memoKey);
    if (memo && memo.expires > cache.now()) return memo.verdict;
    if (memo) memos.delete(memoKey);
  }

  const resolver = mailauthResolver(input.resolver);
  const clock = input.clock ?? Date;
  const minBitLength = input.minBitLength ?? DEFAULT_MIN_RSA_BITS;
  const message =
    typeof input.message === 'string'
      ? createReadStream(input.message)
      : Buffer.isBuffer(input.message)
        ? dkimVerifyInput(input.message)
        : input.message;
  // An address literal as HELO is written in brackets (rfc5321:4.1.3), as authenticate() does.
  const helo = isIP(input.helo) ? `[${input.helo}]` : input.helo;

  const [dkimRes, spfRes] = await Promise.all([
    unsignedRes
      ? (unsignedRes as unknown as Awaited<ReturnType<typeof dkimVerify>>)
      : dkimVerify(message, {
          resolver,
          sender: mailFrom || undefined,
          minBitLength,
          curTime: new Date(clock.now()),
        } as Parameters<typeof dkimVerify>[1]),
    spfCheck(input.resolver, { sender: mailFrom || undefined, ip: input.ip, helo, mta: input.hostname }),
  ]);
  const arcData = (dkimRes as { arc?: unknown }).arc ?? { chain: false };
  const arcRes = await arcVerify(arcData as Parameters<typeof arcVerify>[0], { resolver, minBitLength });

  // SPF.
  let spf: SpfVerdict = {
    result: spfResult(spfRes.status.result),
    domain: spfRes.domain,
    identity: mailFrom ? 'mailfrom' : 'helo',
    ...(spfRes.status.comment ? { explanation: String(spfRes.status.comment) } : {}),
  };
  const spfIdentityDomain = (mailFrom ? mailFrom.slice(mailFrom.lastIndexOf('@') + 1) : input.helo).toLowerCase();
  if (input.loopbackSpfDomains?.includes(spfIdentityDomain) && isLoopback(input.ip)) {
    spf = { result: 'pass', domain: spfIdentityDomain, identity: spf.identity, explanation: 'localserve: loopback client' };
  }

  // DKIM; mailauth adds a "none" row for unsigned messages, we list signatures only.
  const rows = (dkimRes.results as unknown as MailauthDkimRow[]).filter((r) => r.signingDomain || r.status.result !== 'none');
  const from = fromDomainOf(dkimRes.headerFrom);
  const dkimVerifiedDomains = [
    ...new Set(rows.filter((r) => dkimResult(r.status) === 'pass').map((r) => normalizeDomain(r.signingDomain ?? ''))),
  ].filter((d) => d);

  // DMARC (rfc7489:6.6.2): identifiers are the From domain, passing DKIM d= and the SPF identity.
  let lookup: DmarcLookup | undefined;
  const dmarcAsked: string[] = [];
  if (from.domain) lookup = await lookupDmarc(from.domain, memoKey ? recordingTxt(input.resolver, dmarcAsked) : input.resolver);
  const ev = evaluateDmarc(
    { fromDomain: from.domain, dkimDomains: dkimVerifiedDomains, spfDomain: spf.result === 'pass' ? spf.domain : undefined },
    lookup ?? { status: 'none', domain: '' },
  );
  const random = input.random ?? Math.random;
  const dmarc: DmarcVerdict = {
    result: from.problem ?? ev.result,
    policy: ev.policy,
    domain: from.domain,
    ...(ev.recordDomain ? { recordDomain: ev.recordDomain } : {}),
    pct: ev.pct,
    // rfc7489:6.6.4: apply the policy to pct% of failing messages.
    pctApplied: ev.pct >= 100 || random() * 100 < ev.pct,
    alignment: ev.alignment,
    strict: ev.strict,
    ...(from.comment ? { comment: from.comment } : lookup?.status === 'temperror' ? { comment: `dns: ${lookup.error}` } : {}),
  };

  const adkim = ev.strict.adkim ? 's' : 'r';
  const dkim: DkimVerdict[] = rows.map((r) => {
    const result = dkimResult(r.status);
    const domain = normalizeDomain(r.signingDomain ?? '');
    return {
      result,
      domain,
      selector: r.selector ?? '',
      algorithm: r.algo ?? '',
      aligned: !!from.domain && !!domain && isAligned(from.domain, domain, adkim),
      ...(result !== 'pass' && r.status.comment ? { comment: String(r.status.comment) } : {}),
    };
  });

  const arcStatus = arcRes.status as { result: string; comment?: string };
  const arc: AuthVerdicts['arc'] = {
    result: (['pass', 'fail'].includes(arcStatus.result) ? arcStatus.result : 'none') as ArcResult,
    ...(arcStatus.comment ? { comment: String(arcStatus.comment) } : {}),
  };

  const partial = { spf, dkim, dkimVerifiedDomains, dmarc, arc, fromDomain: from.domain };
  const signatures = (dkimRes.results as unknown as { signature?: string; signingDomain?: string; status: { result: string } }[])
    .filter((r) => r.signingDomain || r.status.result !== 'none')
    .map((r) => r.signature ?? '');
  const verdict: AuthVerdicts = {
    ...partial,
    authResultsHeader: authResultsHeader(input.hostname, partial, { mailFrom, helo: input.helo, signatures }),
    receivedSpfHeader: receivedSpfHeader(input.hostname, spf, { ip: input.ip, mailFrom, helo: input.helo }),
  };
  if (memoKey && memos && cache && spfRes.expires !== undefined && lookup?.status !== 'temperror' && dmarc.pct >= 100) {
    const dmarcExpires = dmarcAnswersExpiry(cache, dmarcAsked);
    const expires = dmarcExpires === undefined ? undefined : Math.min(dmarcExpires, spfRes.expires);
    if (expires !== undefined && expires > cache.now()) {
      memos.set(memoKey, { expires, verdict });
      if (memos.size > VERDICT_MEMO_MAX) memos.delete(memos.keys().next().value as string);
    }
  }
  return verdict;
}

/**
 * True when the message fails DMARC and the domain asks to reject it, for the SMTP server to
 * answer `550 5.7.1` (rfc7489:6.6.4, 7.1 "p=reject"; with pct= only for the sampled share).
 */
export function dmarcRejects(v: Pick<AuthVerdicts, 'dmarc'>): boolean {
  return v.dmarc.result === 'fail' && v.dmarc.policy === 'reject' && v.dmarc.pctApplied;
}

/**
 * True when the message fails DMARC and should be treated as suspicious (junk): p=quarantine, or
 * p=reject for a message outside the pct= sample (rfc7489:6.6.4 "next less strict policy").
 */
export function dmarcQuarantines(v: Pick<AuthVerdicts, 'dmarc'>): boolean {
  if (v.dmarc.result !== 'fail') return false;
  if (v.dmarc.policy === 'quarantine') return v.dmarc.pctApplied;
  return v.dmarc.policy === 'reject' && !v.dmarc.pctApplied;
}

// ---- header formatting ----

/** Longest property value we copy from the message into a header (d=, s= are sender-controlled). */
const MAX_VALUE = 200;

/** rfc8601:2.2 value: a token (rfc2045:5.1), an addr-spec-like pvalue, else a quoted-string. */
function pvalue(v: string): string {
  const s = v.replace(/[\x00-\x1f\x7f]/g, '').slice(0, MAX_VALUE);
  if (/^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+(@[A-Za-z0-9.\-]+)?$/.test(s) || /^@[A-Za-z0-9.\-]+$/.test(s)) return s;
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** An rfc5322:3.2.2 comment with the parentheses and backslashes in it escaped. */
function comment(v: string): string {
  const s = v.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_VALUE);
  return `(${s.replace(/[()\\]/g, (c) => `\\${c}`)})`;
}

/**
 * Authentication-Results (rfc8601:2.2) for our verdicts, one method per line:
 *   Authentication-Results: mx.example.com;
 *   	dkim=pass header.d=example.org header.s=sel header.a=ed25519-sha256 header.b="abcdefgh";
 *   	spf=pass smtp.mailfrom=alice@example.org;
 *   	dmarc=pass (p=reject) header.from=example.org;
 *   	arc=none
 */
export function authResultsHeader(
  hostname: string,
  v: Omit<AuthVerdicts, 'authResultsHeader' | 'receivedSpfHeader'>,
  ctx: { mailFrom: string; helo: string; signatures?: string[] },
): string {
  const rows: string[] = [];
  if (!v.dkim.length) rows.push('dkim=none');
  v.dkim.forEach((d, i) => {
    const parts = [`dkim=${d.result}`];
    if (d.comment) parts.push(comment(d.comment));
    parts.push(`header.d=${pvalue(d.domain)}`);
    if (d.selector) parts.push(`header.s=${pvalue(d.selector)}`);
    if (d.algorithm) parts.push(`header.a=${pvalue(d.algorithm)}`);
    // rfc6008:4: the first 8 characters of b= identify the signature.
    const b = ctx.signatures?.[i]?.replace(/\s+/g, '').slice(0, 8);
    if (b) parts.push(`header.b=${pvalue(b)}`);
    rows.push(parts.join(' '));
  });
  {
    const parts = [`spf=${v.spf.result}`];
    // rfc8601:2.7.2: smtp.mailfrom for the MAIL FROM identity, smtp.helo for the HELO identity.
    if (ctx.mailFrom) parts.push(`smtp.mailfrom=${pvalue(ctx.mailFrom)}`);
    else parts.push(`smtp.helo=${pvalue(ctx.helo)}`);
    rows.push(parts.join(' '));
  }
  {
    const d = v.dmarc;
    const parts = [`dmarc=${d.result}`];
    if (d.recordDomain) {
      const notes = [`p=${d.policy}`];
      if (d.strict.adkim) notes.push('adkim=s');
      if (d.strict.aspf) notes.push('aspf=s');
      if (d.pct < 100) notes.push(`pct=${d.pct}`);
      parts.push(comment(notes.join(' ')));
    } else if (d.comment) {
      parts.push(comment(d.comment));
    }
    if (d.domain) parts.push(`header.from=${pvalue(d.domain)}`);
    rows.push(parts.join(' '));
  }
  rows.push(`arc=${v.arc.result}${v.arc.comment ? ' ' + comment(v.arc.comment) : ''}`);
  return `Authentication-Results: ${hostname};\r\n\t${rows.join(';\r\n\t')}\r\n`;
}

/** Received-SPF (rfc7208:9.1), e.g. `Received-SPF: pass (reason) client-ip=…; envelope-from=…; helo=…; receiver=…; identity=mailfrom` */
export function receivedSpfHeader(
  hostname: string,
  spf: SpfVerdict,
  ctx: { ip: string; mailFrom: string; helo: string },
): string {
  // rfc7208:9.1: key "=" ( dot-atom / quoted-string ).
  const val = (v: string) => {
    const s = v.replace(/[\x00-\x1f\x7f]/g, '').slice(0, MAX_VALUE);
    return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/.test(s)
      ? s
      : `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  };
  const kv = [
    `client-ip=${val(ctx.ip)}`,
    `envelope-from=${val(ctx.mailFrom || `postmaster@${ctx.helo}`)}`,
    `helo=${val(ctx.helo)}`,
    `receiver=${val(hostname)}`,
    `identity=${spf.identity}`,
  ];
  const head = `Received-SPF: ${spf.result}${spf.explanation ? ' ' + comment(spf.explanation) : ''}`;
  return `${head}\r\n\t${kv.join(';\r\n\t')}\r\n`;
}
