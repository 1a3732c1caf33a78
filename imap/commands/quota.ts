// rfc9208 QUOTA: one quota root "" for the account, resource STORAGE in KiB (rfc9208:5.1).
// SETQUOTA is refused: quotas are set by the administrator in domains.conf.
import { ImapError } from '../errors.js';
import type { Session } from '../session.js';
import { quoteName } from './select.js';

function quotaLine(s: Session): string {
  const q = s.xaccount().quota();
  if (!q.limit) return '* QUOTA "" ()';
  return `* QUOTA "" (STORAGE ${Math.ceil(q.used / 1024)} ${Math.floor(q.limit / 1024)})`;
}

export async function getquota(s: Session, _tag: string, c: { root: string }): Promise<string | void> {
  if (c.root !== '') throw new ImapError('NO', 'NONEXISTENT', 'no such quota root');
  s.w.line(quotaLine(s));
}

export async function getquotaroot(s: Session, _tag: string, c: { mailbox: string }): Promise<string | void> {
  const mb = s.xaccount().mailbox(s.decodeName(c.mailbox));
  if (!mb) throw new ImapError('NO', 'NONEXISTENT', 'no such mailbox');
  s.w.line(`* QUOTAROOT ${quoteName(s, mb.name)} ""`);
  s.w.line(quotaLine(s));
}

export async function setquota(): Promise<string | void> {
  throw new ImapError('NO', 'NOPERM', 'quotas are set by the administrator');
}
