// rfc9051:6.3.5 DELETE. Inbox cannot be deleted, nor a mailbox with children (store rule, like mox).
import { ImapError } from '../errors.js';
import type { Session } from '../session.js';

export async function del(s: Session, _tag: string, c: { mailbox: string }): Promise<string | void> {
  const acct = s.xaccount();
  const name = s.decodeName(c.mailbox);
  const mb = acct.mailbox(name);
  if (!mb) throw new ImapError('NO', 'NONEXISTENT', 'no such mailbox');
  if (mb.name === 'Inbox') throw new ImapError('NO', 'CANNOT', 'INBOX cannot be deleted');
  acct.deleteMailbox(mb.id);
  if (s.selected?.mailboxId === mb.id) {
    // Our own deletion of the selected mailbox: it is gone, but this is not an error for us.
    s.selected = undefined;
    s.state = 'auth';
  }
}
