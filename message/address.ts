// Address parsing: rfc5322:3.4 (address, mailbox, group, angle-addr, addr-spec), rfc5322:4.4
// (obsolete forms: routes, CFWS in odd places) best effort, rfc6532:3.2 (UTF-8 local parts), display
// names may hold rfc2047 encoded words (kept raw here; decode with decodeHeaderValue).
// Never throws: broken input gives a best-effort list.

/** One mailbox, as IMAP's address structure needs it (rfc9051:7.5.2). */
export interface Address {
  /** Display name (phrase) as written, quotes removed, still RFC 2047-encoded; null if none. */
  name: string | null;
  /** Obsolete source route ("@a,@b"), null if none (rfc5322:4.4 obs-route). */
  adl: string | null;
  /** Local part; null only if nothing usable was found. */
  mailbox: string | null;
  /** Domain; "" when the address had no "@domain" (NIL is reserved for IMAP group markers). */
  host: string | null;
}

/** A named group (rfc5322:3.4 group) with its members. */
export interface AddressGroup {
  group: string;
  addresses: Address[];
}

export type AddressOrGroup = Address | AddressGroup;

export function isGroup(a: AddressOrGroup): a is AddressGroup {
  return (a as AddressGroup).group !== undefined;
}

type Tok =
  | { t: 'atom'; v: string }
  | { t: 'qs'; v: string }
  | { t: 'lit'; v: string } // domain literal, with brackets
  | { t: 'sp'; v: string }; // a special character

const SPECIALS = '()<>[]:;@\\,."';
/** Per character code below 128: 1 for SPECIALS, 2 for whitespace (SP, TAB, CR, LF). */
const CLASS = new Uint8Array(128);
for (const c of SPECIALS) CLASS[c.charCodeAt(0)] = 1;
for (const c of ' \t\r\n') CLASS[c.charCodeAt(0)] = 2;

/** Tokenizes per rfc5322:3.2 (atoms, quoted strings, comments skipped, domain literals). */
function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(') {
      // rfc5322:3.2.2 comments nest; skip them.
      let depth = 0;
      while (i < n) {
        const d = s[i]!;
        if (d === '\\') i += 2;
        else {
          if (d === '(') depth++;
          else if (d === ')') depth--;
          i++;
          if (depth === 0) break;
        }
      }
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        const d = s[i]!;
        if (d !== '\r' && d !== '\n') v += d;
        i++;
      }
      i++; // closing quote (or past end for an unterminated string)
      toks.push({ t: 'qs', v });
      continue;
    }
    if (c === '[') {
      const e = s.indexOf(']', i);
      const end = e < 0 ? n : e + 1;
      toks.push({ t: 'lit', v: s.slice(i, end) });
      i = end;
      continue;
    }
    if (CLASS[c.charCodeAt(0)] === 1) {
      toks.push({ t: 'sp', v: c });
      i++;
      continue;
    }
    // An atom: up to whitespace or a special (both ASCII; other characters are atom text).
    let j = i + 1;
    while (j < n) {
      const d = s.charCodeAt(j);
      if (d < 128 && CLASS[d] !== 0) break;
      j++;
    }
    toks.push({ t: 'atom', v: s.slice(i, j) });
    i = j;
  }
  return toks;
}

/** Joins phrase tokens into a display name: words separated by one space, "." (rfc5322:4.1
 * obs-phrase) glued to the word before it. */
function phrase(toks: Tok[]): string | null {
  let out = '';
  for (const t of toks) {
    if (t.t === 'sp' && t.v !== '.') continue;
    if (t.t === 'sp') {
      out += '.';
      continue;
    }
    if (out) out += ' ';
    out += t.v;
  }
  // A quoted empty string ("" <a@b>) is no name.
  return out === '' ? null : out;
}

/** Parses addr-spec tokens (local-part "@" domain), lenient. */
function addrSpec(toks: Tok[], name: string | null, adl: string | null): Address | null {
  let at = -1;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t === 'sp' && t.v === '@') {
      at = i;
      break;
    }
  }
  const local = at < 0 ? toks : toks.slice(0, at);
  const dom = at < 0 ? [] : toks.slice(at + 1);
  // rfc5322:3.4.1 local-part = dot-atom / quoted-string; joined without spaces.
  const mailbox = local.map((t) => t.v).join('');
  const host = dom.map((t) => t.v).join('');
  if (!mailbox && !host && !name) return null;
  return { name, adl, mailbox, host };
}

/** Parses one mailbox from its tokens (name-addr or addr-spec, rfc5322:3.4). */
function mailboxFrom(toks: Tok[]): Address | null {
  if (toks.length === 0) return null;
  const lt = toks.findIndex((t) => t.t === 'sp' && t.v === '<');
  if (lt < 0) return addrSpec(toks, null, null);
  const name = phrase(toks.slice(0, lt));
  let gt = toks.findIndex((t, i) => i > lt && t.t === 'sp' && t.v === '>');
  if (gt < 0) gt = toks.length; // missing ">": take the rest
  let inner = toks.slice(lt + 1, gt);
  // rfc5322:4.4 obs-route: "@a,@b:" before the addr-spec.
  let adl: string | null = null;
  const colon = inner.findIndex((t) => t.t === 'sp' && t.v === ':');
  if (colon >= 0 && inner[0]?.t === 'sp' && inner[0].v === '@') {
    adl = inner.slice(0, colon).map((t) => t.v).join('');
    inner = inner.slice(colon + 1);
  }
  if (inner.length === 0) return name ? { name, adl, mailbox: '', host: '' } : null;
  return addrSpec(inner, name, adl);
}

/**
 * Parses an address-list (rfc5322:3.4) like the value of To/Cc/From. Groups are returned as
 * AddressGroup. Empty members are skipped.
 */
export function parseAddressList(value: string): AddressOrGroup[] {
  const out: AddressOrGroup[] = [];
  let toks: Tok[];
  try {
    toks = tokenize(value);
  } catch {
    return out;
  }
  let cur: Tok[] = [];
  let group: AddressGroup | null = null;
  let inAngle = false;
  const flush = () => {
    const a = mailboxFrom(cur);
    cur = [];
    if (!a) return;
    if (group) group.addresses.push(a);
    else out.push(a);
  };
  for (const t of toks) {
    if (t.t === 'sp') {
      if (t.v === '<') inAngle = true;
      else if (t.v === '>') inAngle = false;
      else if (!inAngle && t.v === ',') {
        flush();
        continue;
      } else if (!inAngle && t.v === ':' && !group) {
        // rfc5322:3.4 group = display-name ":" [group-list] ";"
        group = { group: phrase(cur) ?? '', addresses: [] };
        cur = [];
        continue;
      } else if (!inAngle && t.v === ';') {
        if (group) {
          flush();
          out.push(group);
          group = null;
        }
        continue;
      }
    }
    cur.push(t);
  }
  flush();
  if (group) out.push(group); // missing ";"
  return out;
}

/** Parses a single mailbox (e.g. Sender, or a string from an API). Returns null if none found. */
export function parseAddress(value: string): Address | null {
  for (const a of parseAddressList(value)) {
    if (isGroup(a)) {
      if (a.addresses[0]) return a.addresses[0];
    } else return a;
  }
  return null;
}

/** Flattens groups into IMAP's address list with group start/end markers (rfc9051:7.5.2). */
export function flattenForImap(list: AddressOrGroup[]): Address[] {
  const out: Address[] = [];
  for (const a of list) {
    if (isGroup(a)) {
      out.push({ name: null, adl: null, mailbox: a.group, host: null });
      out.push(...a.addresses);
      out.push({ name: null, adl: null, mailbox: null, host: null });
    } else out.push(a);
  }
  return out;
}
