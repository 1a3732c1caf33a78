// rfc9051:6.3.9 LIST with rfc5258 LIST-EXTENDED (selection options SUBSCRIBED, REMOTE,
// RECURSIVEMATCH, SPECIAL-USE; return options SUBSCRIBED, CHILDREN, SPECIAL-USE), rfc5819
// LIST-STATUS and rfc6154 SPECIAL-USE attributes; rfc3501:6.3.9 LSUB.
import { ImapError } from '../errors.js';
import type { StatusAtt } from '../protocol/command.js';
import type { Mailbox } from '../../store/types.js';
import type { Session } from '../session.js';
import { quoteName } from './select.js';
import { statusLine } from './status.js';

/** A LIST pattern (reference + mailbox, decoded) as a regexp over store names. */
export function patternRegexp(pattern: string): RegExp {
  let p = pattern;
  // INBOX is case-insensitive (rfc9051:5.1); the store spells it "Inbox".
  if (/^inbox(?=$|\/)/i.test(p)) p = 'Inbox' + p.slice(5);
  let re = '';
  for (const ch of p) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function joinRef(s: Session, reference: string, pattern: string): string {
  const ref = s.decodeName(reference);
  const pat = s.utf8 ? pattern : s.decodeName(pattern);
  if (!ref) return pat;
  if (pat.startsWith('/')) return pat;
  return ref.endsWith('/') ? ref + pat : ref + (pat ? pat : '');
}

interface Entry {
  name: string;
  mb?: Mailbox;
}

export async function list(
  s: Session,
  _tag: string,
  c: { reference: string; patterns: string[]; select: string[]; ret: string[]; status?: StatusAtt[]; extended: boolean },
): Promise<string | void> {
  const acct = s.xaccount();
  for (const o of c.select) {
    if (!['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(o)) throw new ImapError('BAD', undefined, `unknown selection option ${o}`);
  }
  // rfc5258:3.1 RECURSIVEMATCH needs another selection option.
  if (c.select.includes('RECURSIVEMATCH') && !c.select.some((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE')) {
    throw new ImapError('BAD', undefined, 'RECURSIVEMATCH needs another selection option');
  }
  if (c.patterns.length === 1 && c.patterns[0] === '' && !c.extended) {
    // rfc9051:6.3.9 empty pattern: the hierarchy delimiter and root.
    s.w.line('* LIST (\\Noselect) "/" ""');
    return;
  }
  const mailboxes = acct.listMailboxes();
  const byName = new Map(mailboxes.map((m) => [m.name, m]));
  const subs = new Set(acct.listSubscriptions());
  const subscribedOnly = c.select.includes('SUBSCRIBED');
  const specialOnly = c.select.includes('SPECIAL-USE');
  const showSubscribed = subscribedOnly || c.ret.includes('SUBSCRIBED');
  let entries: Entry[] = subscribedOnly ? [...subs].map((n) => ({ name: n, mb: byName.get(n) })) : mailboxes.map((m) => ({ name: m.name, mb: m }));
  if (specialOnly) entries = entries.filter((e) => e.mb?.specialUse);
  const res = c.patterns.map((p) => patternRegexp(joinRef(s, c.reference, p)));
  const names = [...byName.keys()].sort();
  const hasChildren = (n: string) => {
    const prefix = n + '/';
    // names is sorted: a child sorts right after its parent's other children.
    let lo = 0;
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (names[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo < names.length && names[lo]!.startsWith(prefix);
  };
  entries.sort((a, b) => (a.name === 'Inbox' ? -1 : b.name === 'Inbox' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (!res.some((r) => r.test(e.name))) continue;
    const attrs: string[] = [];
    if (!e.mb) attrs.push('\\NonExistent');
    else attrs.push(hasChildren(e.name) ? '\\HasChildren' : '\\HasNoChildren');
    if (showSubscribed && subs.has(e.name)) attrs.push('\\Subscribed');
    if (e.mb?.specialUse) attrs.push(e.mb.specialUse);
    s.w.line(`* LIST (${attrs.join(' ')}) "/" ${quoteName(s, e.name)}`);
    if (c.status && e.mb) s.w.line(statusLine(s, e.mb, c.status));
    await s.w.maybeFlush();
  }
}

export async function lsub(s: Session, _tag: string, c: { reference: string; pattern: string }): Promise<string | void> {
  const acct = s.xaccount();
  const re = patternRegexp(joinRef(s, c.reference, c.pattern));
  const existing = new Set(acct.listMailboxes().map((m) => m.name));
  for (const n of acct.listSubscriptions()) {
    if (!re.test(n)) continue;
    s.w.line(`* LSUB (${existing.has(n) ? '' : '\\Noselect'}) "/" ${quoteName(s, n)}`);
  }
}
