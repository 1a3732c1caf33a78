/**
 * Parsing of SMTP command lines: verb, reverse/forward paths with ESMTP parameters
 * (rfc5321:4.1.2, 4.1.3), internationalised addresses (rfc6531:3.3), xtext (rfc3461:4).
 * Errors are SmtpErrors with 501 5.5.4 / 553 5.1.x so the server can reply directly.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { C, E, SmtpError } from './codes.js';

/** rfc5321:4.5.3.1.1 localpart at most 64 octets. We allow the limit and no more. */
export const MAX_LOCALPART_OCTETS = 64;
/** rfc5321:4.5.3.1.2 domain at most 255 octets. */
export const MAX_DOMAIN_OCTETS = 255;
/** rfc5321:4.5.3.1.3 a path at most 256 octets including the angle brackets. */
export const MAX_PATH_OCTETS = 256;

export interface SmtpAddress {
  /** Localpart as unquoted text (quoted-string form decoded). */
  localpart: string;
  /** Domain in ASCII (A-label) form, lower-case; an address literal keeps its brackets. */
  domain: string;
  /** Domain in Unicode (U-label) form, for display. */
  domainUnicode: string;
}

export interface ParsedPath {
  /** Undefined for the null reverse path `<>`. */
  address?: SmtpAddress;
  /** ESMTP parameters, keys upper-cased; a keyword without value maps to "". */
  params: Map<string, string>;
}

function syntax(msg: string): SmtpError {
  return new SmtpError(C.ParamSyntaxError, E.InvalidArguments, msg, { userError: true });
}

/** Split "VERB args" — verbs are case-insensitive (rfc5321:2.4). */
export function splitCommand(line: string): { verb: string; args: string } {
  const m = /^([A-Za-z][A-Za-z0-9-]*)(?: (.*))?$/s.exec(line);
  if (!m) return { verb: '', args: line };
  return { verb: m[1]!.toUpperCase(), args: m[2] ?? '' };
}

// Dot-string = Atom *("." Atom) (rfc5321:4.1.2), in one match; rfc6531:3.3 extends atext with UTF8-non-ascii.
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
const DOT_STRING_UTF8 = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+)*$/u;

function isDotString(s: string, utf8: boolean): boolean {
  return (utf8 ? DOT_STRING_UTF8 : DOT_STRING).test(s);
}

/** Parse a localpart (Dot-string or Quoted-string, rfc5321:4.1.2). Returns [localpart, rest]. */
function parseLocalpart(s: string, utf8: boolean): [string, string] {
  if (s.startsWith('"')) {
    let out = '';
    let i = 1;
    for (; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\\') {
        const next = s[i + 1];
        // rfc5321:4.1.2 quoted-pairSMTP is %d92 %d32-126
        if (next === undefined || next < ' ' || next > '~') throw syntax('bad quoted-pair in localpart');
        out += next;
        i++;
      } else if (ch === '"') {
        break;
      } else if ((ch >= ' ' && ch <= '~') || (utf8 && ch > '\u007f')) {
        out += ch;
      } else {
        throw syntax('invalid character in quoted localpart');
      }
    }
    if (s[i] !== '"') throw syntax('unterminated quoted localpart');
    return [out, s.slice(i + 1)];
  }
  const at = s.lastIndexOf('@');
  if (at < 0) throw syntax('missing @ in address');
  const lp = s.slice(0, at);
  if (!isDotString(lp, utf8)) {
    if (!utf8 && /[^\x00-\x7f]/.test(lp)) {
      throw new SmtpError(C.MailboxNameNotAllowed, E.NonASCIIAddrNotPermitted, 'non-ascii address requires SMTPUTF8', { userError: true });
    }
    throw syntax('invalid localpart');
  }
  return [lp, s.slice(at)];
}

function parseDomain(s: string, utf8: boolean): { domain: string; domainUnicode: string } {
  if (s.startsWith('[')) {
    // rfc5321:4.1.3 address literal: [IPv4] or [IPv6:...]
    if (!/^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]$/.test(s)) throw syntax('invalid address literal');
    return { domain: s, domainUnicode: s };
  }
  if (!s) throw syntax('empty domain');
  if (/[^\x00-\x7f]/.test(s) && !utf8) {
    throw new SmtpError(C.MailboxNameNotAllowed, E.NonASCIIAddrNotPermitted, 'non-ascii domain requires SMTPUTF8', { userError: true });
  }
  const known = domains.get(s);
  if (known) return known;
  const ascii = domainToASCII(s.toLowerCase());
  if (!ascii || Buffer.byteLength(ascii) > MAX_DOMAIN_OCTETS) throw syntax('invalid domain');
  // rfc5321:4.1.2 Domain = sub-domain *("." sub-domain); Let-dig [Ldh-str]
  const labels = ascii.split('.');
  if (labels.some((l) => !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) throw syntax('invalid domain');
  const r = Object.freeze({ domain: ascii, domainUnicode: domainToUnicode(ascii) || ascii });
  if (domains.size >= DOMAIN_MEMO_MAX) domains.clear();
  domains.set(s, r);
  return r;
}

/**
 * Valid domains as parsed (the IDNA conversions in both directions cost more than the rest of a
 * MAIL or RCPT command), by their spelling in the command; emptied when full.
 */
const DOMAIN_MEMO_MAX = 1000;
const domains = new Map<string, Readonly<{ domain: string; domainUnicode: string }>>();

/** Parse "user@domain" (no angle brackets). */
export function parseMailbox(s: string, utf8: boolean): SmtpAddress {
  const [localpart, rest] = parseLocalpart(s, utf8);
  if (!rest.startsWith('@')) throw syntax('missing @ in address');
  if (Buffer.byteLength(localpart) > MAX_LOCALPART_OCTETS) {
    throw new SmtpError(C.MailboxNameNotAllowed, E.BadDestSyntax, 'localpart too long', { userError: true });
  }
  return { localpart, ...parseDomain(rest.slice(1), utf8) };
}

/** Format an address for SMTP: localpart quoted when it is not a dot-string. */
export function formatAddress(a: SmtpAddress): string {
  const lp = isDotString(a.localpart, true) ? a.localpart : `"${a.localpart.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return `${lp}@${a.domain}`;
}

/**
 * Parse the argument of MAIL ("FROM:<path> params") or RCPT ("TO:<path> params").
 * `utf8` allows UTF-8 in the address; the caller passes whether SMTPUTF8 was given on MAIL
 * (for MAIL itself we look at the parameters first).
 */
export function parsePathArgs(args: string, kind: 'FROM' | 'TO', utf8 = false): ParsedPath {
  const prefix = `${kind}:`;
  if (args.slice(0, prefix.length).toUpperCase() !== prefix) throw syntax(`expected ${prefix}<address>`);
  let rest = args.slice(prefix.length);
  // Be lenient about a space after the colon, which many clients send (rfc5321 does not allow it).
  rest = rest.replace(/^ +/, '');
  if (!rest.startsWith('<')) throw syntax('expected <address>');
  const close = findPathEnd(rest);
  if (close < 0) throw syntax('missing > after address');
  const inner = rest.slice(1, close);
  const params = parseParams(rest.slice(close + 1));
  if (Buffer.byteLength(inner) + 2 > MAX_PATH_OCTETS) throw syntax('path too long');
  if (kind === 'FROM' && params.has('SMTPUTF8')) utf8 = true;
  if (inner === '') {
    if (kind === 'TO') throw syntax('empty forward path');
    return { params };
  }
  // rfc5321:4.1.2 A-d-l source route "@a,@b:" is ignored (rfc5321:3.3, C.6).
  const route = /^@[^:]*:/.exec(inner);
  const mailbox = route ? inner.slice(route[0].length) : inner;
  // "<postmaster>" without domain is allowed for RCPT (rfc5321:4.1.1.3); we map it to a domain-less address.
  if (kind === 'TO' && mailbox.toLowerCase() === 'postmaster') {
    return { address: { localpart: 'postmaster', domain: '', domainUnicode: '' }, params };
  }
  return { address: parseMailbox(mailbox, utf8), params };
}

/** Index of the ">" that ends the path, skipping quoted strings. */
function findPathEnd(s: string): number {
  let inQuote = false;
  for (let i = 1; i < s.length; i++) {
    const ch = s[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === '>') return i;
  }
  return -1;
}

/** ESMTP parameters: " KEY=value KEY2" (rfc5321:4.1.2 Mail-parameters). */
export function parseParams(s: string): Map<string, string> {
  const params = new Map<string, string>();
  if (s === '') return params;
  if (!s.startsWith(' ')) throw syntax('expected space before parameters');
  for (const p of s.slice(1).split(' ')) {
    if (p === '') continue; // tolerate double spaces
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? '' : p.slice(eq + 1);
    // rfc5321:4.1.2 esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value has no "=", SP, controls
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) throw syntax(`invalid parameter ${JSON.stringify(p)}`);
    if (eq >= 0 && (value === '' || /[\x00-\x20=\x7f]/.test(value))) throw syntax(`invalid value for parameter ${key}`);
    if (params.has(key)) throw syntax(`duplicate parameter ${key}`);
    params.set(key, value);
  }
  return params;
}

/** Decode xtext (rfc3461:4): "+XX" hex escapes. */
export function decodeXtext(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '+') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw syntax('invalid xtext escape');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (ch < '!' || ch > '~' || ch === '=') {
      throw syntax('invalid character in xtext');
    } else out += ch;
  }
  return out;
}

/** Encode xtext (rfc3461:4): "+", "=" and characters outside "!".."~" as "+XX". */
export function encodeXtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d) out += `+${b.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/** rfc3461:4.4 ENVID is at most 100 characters (of xtext). */
export const MAX_ENVID_LENGTH = 100;
/** rfc3461:4.2 ORCPT is at most 500 characters. */
export const MAX_ORCPT_LENGTH = 500;
/** rfc6533:3 the ASCII characters utf-8-addr-xtext writes as \x{HH}: space, "+", "=", backslash and DEL. */
const UTF8_ADDR_ASCII_ESCAPES = new Set([0x20, 0x2b, 0x3d, 0x5c, 0x7f]);

/**
 * ENVID value (rfc3461:4.4): xtext, at most 100 characters, decoding to printable US-ASCII
 * (graphic characters and space). Returns the decoded envelope id.
 */
export function parseEnvid(value: string): string {
  if (value.length > MAX_ENVID_LENGTH) throw syntax('ENVID too long');
  const v = decodeXtext(value);
  if (!/^[\x20-\x7e]+$/.test(v)) throw syntax('ENVID must be printable US-ASCII');
  return v;
}

/**
 * ORCPT value (rfc3461:4.2): addr-type ";" xtext, at most 500 characters. For the "utf-8" type
 * (rfc6533:3) the address is utf-8-addr-xtext (\x{HH} escapes) or, in an SMTPUTF8 transaction,
 * utf-8-addr-unitext (raw UTF-8 too).
 * Returns "type;address" with the address decoded, the form the queue stores and the client
 * re-encodes (smtp/client orcptParam) and DSNs show (dsn/compose).
 */
export function parseOrcpt(value: string, utf8: boolean): string {
  if (value.length > MAX_ORCPT_LENGTH) throw syntax('ORCPT too long');
  const semi = value.indexOf(';');
  const type = semi > 0 ? value.slice(0, semi) : '';
  const raw = value.slice(semi + 1);
  // rfc3461:4.2 addr-type is an atom; registered types are rfc822 and utf-8.
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(type) || raw === '') throw syntax('invalid ORCPT, expected addr-type;address');
  if (type.toLowerCase() !== 'utf-8') return `${type};${decodeXtext(raw)}`;
  if (!utf8 && /[^\x00-\x7f]/.test(raw)) throw syntax('non-ASCII ORCPT requires SMTPUTF8');
  if (/[\x00-\x20\x7f]/.test(raw)) throw syntax('invalid character in ORCPT');
  let bad = false;
  // One pass, so a decoded character is never decoded again; a backslash must start an escape.
  const addr = raw.replace(/\\x\{([0-9A-Fa-f]{1,6})\}|\\/g, (m: string, h: string | undefined) => {
    const cp = h === undefined ? -1 : parseInt(h, 16);
    // rfc6533:3 HEXPOINT: non-ASCII scalar values, and the ASCII characters QCHAR excludes.
    if (!(UTF8_ADDR_ASCII_ESCAPES.has(cp) || (cp >= 0x80 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)))) {
      bad = true;
      return m;
    }
    return String.fromCodePoint(cp);
  });
  if (bad) throw syntax('invalid escape in ORCPT');
  return `${type};${addr}`;
}
