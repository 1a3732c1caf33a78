// rfc9051:6.4.1 CLOSE (expunges \Deleted messages silently when read-write) and rfc3691 /
// rfc9051:6.4.2 UNSELECT (does not).
import type { Session } from '../session.js';

export async function close(s: Session, _tag: string, c: { name: 'CLOSE' | 'UNSELECT' }): Promise<string | void> {
  const sel = s.xselected();
  s.selected = undefined;
  s.state = 'auth';
  if (c.name === 'CLOSE' && !sel.readOnly && !sel.gone) s.xaccount().expunge(sel.mailboxId);
}
