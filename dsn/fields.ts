// Small shared helpers for DSN/ARF field values: comments (rfc5322:3.2.2), xtext (rfc3461:4),
// utf-8-addr-xtext / unitext (rfc6533:3), address types (rfc3464:2.3.2), SMTP codes in text.

import { parseReplyCodes } from '../smtp/codes.js';

/** Actions of rfc3464:2.3.3. Parsed reports may hold other values (kept lower-cased). */
export type Action = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
export const ACTIONS: readonly Action[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

/** Removes rfc5322 comments "( … )" (nested, with quoted-pairs) outside quoted strings; returns text and comments. */
export function stripComments(s: string): { text: string; comments: string[] } {
  let out = '';
  const comments: string[] = [];
  let depth = 0;
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (depth > 0) {
      if (c === '\\' && i + 1 < s.length) {
        cur += s[++i];
      } else if (c === '(') {
        depth++;
        cur += c;
      } else if (c === ')') {
        depth--;
        if (depth === 0) {
          comments.push(cur.trim());
          cur = '';
          out += ' ';
        } else cur += c;
      } else cur += c;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    if (!inQuote && c === '(') {
      depth = 1;
      continue;
    }
    if (c === '\\' && inQuote && i + 1 < s.length) {
      out += c + s[++i];
      continue;
    }
    out += c;
  }
  if (depth > 0 && cur) comments.push(cur.trim());
  return { text: out.replace(/\s+/g, ' ').trim(), comments };
}

/**
 * Decodes xtext "+HH" (rfc3461:4), conservatively: addresses may contain a literal "+" (user+tag),
 * so only sequences an encoder must have produced are decoded: "+2B", "+3D", controls/space, and
 * runs of bytes >= 0x80 that form valid UTF-8.
 */
export function decodeXtext(s: string): string {
  if (s.indexOf('+') < 0) return s;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return s.replace(/(?:\+[0-9A-F]{2})+/g, (run) => {
    const bytes = run.split('+').slice(1).map((h) => parseInt(h, 16));
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i]!;
      if (b < 0x80) {
        out += b === 0x2b || b === 0x3d || b < 0x21 || b === 0x7f ? String.fromCharCode(b) : '+' + run.slice(i * 3 + 1, i * 3 + 3);
        i++;
        continue;
      }
      let j = i;
      while (j < bytes.length && bytes[j]! >= 0x80) j++;
      try {
        out += utf8.decode(Uint8Array.from(bytes.slice(i, j)));
      } catch {
        out += run.slice(i * 3, j * 3);
      }
      i = j;
    }
    return out;
  });
}

/** Encodes xtext (rfc3461:4): "+", "=", controls, space and non-ASCII bytes as +HH. */
export function encodeXtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if (b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d) out += '+' + b.toString(16).toUpperCase().padStart(2, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

/** Decodes rfc6533:3 embedded-unicode-char "\x{HHHH}" (and tolerates xtext "+HH"). */
export function decodeUtf8AddrXtext(s: string): string {
  const r = s.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (m, h: string) => {
    const cp = parseInt(h, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
  return r;
}

/**
 * Encodes for utf-8-addr-xtext (rfc6533:3): non-ASCII, "\", "+", "=" and controls as \x{HH}. With
 * `unitext`, non-ASCII stays raw (utf-8-addr-unitext, for message/global-delivery-status).
 */
export function encodeUtf8AddrXtext(s: string, unitext = false): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x21 || cp === 0x7f || (cp > 0x7e && !unitext) || ch === '\\' || ch === '+' || ch === '=') out += `\\x{${cp.toString(16).toUpperCase()}}`;
    else out += ch;
  }
  return out;
}

/** Splits "type; value" (rfc3464:2.1.2 address-type / mta-name-type / diagnostic-type). */
export function splitTyped(v: string): { type: string; value: string } {
  const i = v.indexOf(';');
  if (i < 0) return { type: '', value: v.trim() };
  const type = v.slice(0, i).trim();
  // A type is an atom; otherwise the ";" belongs to the value.
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(type)) return { type: '', value: v.trim() };
  return { type: type.toLowerCase(), value: v.slice(i + 1).trim() };
}

/** Cleans an address value: comments, quotes around the whole, angle brackets, trailing dots. */
export function cleanAddress(v: string): string {
  let s = stripComments(v).text;
  const m = /<([^<>]*)>/.exec(s);
  if (m) s = m[1]!;
  s = s.trim();
  if (s.startsWith('"') && s.endsWith('"') && s.length > 1 && s.indexOf('@') < 0) s = s.slice(1, -1);
  s = s.replace(/^mailto:/i, '').replace(/[.,;:]+$/, '');
  // Obsolete source route "@relay:user@host" (rfc5322:4.4).
  s = s.replace(/^@[^:@\s]+(?:,@[^:@\s]+)*:(?=[^@]+@)/, '');
  return s.trim();
}

/**
 * Decodes an address field value "rfc822; a@b" / "utf-8; …" into type and plain address. `xtext`:
 * also undo rfc3461 xtext (Original-Recipient carries the ORCPT value; Final-Recipient is plain).
 */
export function decodeAddressField(v: string, xtext = false): { type: string; address: string } {
  const { type, value } = splitTyped(v);
  let addr = cleanAddress(value);
  if (type === 'utf-8') addr = decodeUtf8AddrXtext(addr);
  else if (xtext && (type === 'rfc822' || type === '')) addr = decodeXtext(addr);
  return { type: type || 'rfc822', address: addr };
}

const ENH_RE = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;
const SMTP_RE = /(?<![\d.\w-])([45][0-5]\d)(?:[ :-]|$)(?!\d)/m;

/** Enhanced status code (rfc3463) found anywhere in text; subject must be 0-7. */
export function findEnhanced(text: string): string | undefined {
  const re = new RegExp(ENH_RE.source, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (Number(m[2]) <= 7) return `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
  }
  return undefined;
}

/**
 * SMTP reply code and enhanced code in a diagnostic text: a reply at the start ("550 5.1.1 …",
 * as rfc3464 Diagnostic-Code smtp; holds), else the first plausible "5xx " with an enhanced code
 * beside it, else the first plausible code.
 */
export function findCodes(text: string): { smtpCode?: number; enhancedCode?: string } {
  const r = parseReplyCodes(text);
  if (r.code !== undefined && r.code < 600) {
    return { smtpCode: r.code, enhancedCode: r.enhanced ?? findEnhanced(r.message.slice(0, 200)) };
  }
  const both = /(?<![\d.\w-])([45][0-5]\d)[ -]+#?([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/.exec(text);
  if (both) return { smtpCode: Number(both[1]), enhancedCode: `${both[2]}.${Number(both[3])}.${Number(both[4])}` };
  const said = /(?:said|replied|response|reply|error|status|code)\s*(?:was)?\s*[:=]?\s*\(?([45][0-5]\d)(?![\d.])/i.exec(text);
  const enh = findEnhanced(text);
  if (said) return { smtpCode: Number(said[1]), enhancedCode: enh };
  const m = SMTP_RE.exec(text);
  const smtpCode = m ? Number(m[1]) : undefined;
  return { smtpCode, enhancedCode: enh };
}

/** Parses an rfc5322 date (comments stripped); undefined if unparsable. */
export function parseDate(v: string | undefined): Date | undefined {
  if (!v) return undefined;
  const s = stripComments(v).text;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

const LOCAL_CHAR = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]/;
const DOMAIN_CHAR = /[A-Za-z0-9.\-\u0080-\uffff]/;

/**
 * Email addresses in free text, in order, without duplicates (case-insensitive). Works outward
 * from each "@" with bounded lengths (local part 64, domain 255; rfc5321:4.5.3.1) so the cost is
 * linear in the text, whatever it holds.
 */
export function findAddresses(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = text.indexOf('@'); i >= 0; i = text.indexOf('@', i + 1)) {
    let l = i;
    while (l > 0 && i - l < 64 && LOCAL_CHAR.test(text[l - 1]!)) l--;
    let r = i + 1;
    while (r < text.length && r - i <= 255 && DOMAIN_CHAR.test(text[r]!)) r++;
    let local = text.slice(l, i).replace(/^[.'`]+|[.'`]+$/g, '');
    if (local.toLowerCase().startsWith('mailto:')) local = local.slice(7);
    const domain = text.slice(i + 1, r).replace(/[.-]+$/, '');
    if (!local || !domain || !/^[A-Za-z0-9\u0080-\uffff]/.test(domain)) continue;
    const a = `${local}@${domain}`;
    const k = a.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(a);
  }
  return out;
}
