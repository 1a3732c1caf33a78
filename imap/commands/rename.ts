// rfc9051:6.3.6 RENAME. Renaming INBOX moves its messages into a new mailbox and leaves INBOX
// empty (its children are not renamed).
import { ImapError } from '../errors.js';
import type { Session } from '../session.js';

export async function rename(s: Session, _tag: string, c: { from: string; to: string }): Promise<string | void> {
  const acct = s.xaccount();
  const from = s.decodeName(c.from);
  const to = s.decodeName(c.to);
  const mb = acct.mailbox(from);
  if (!mb) throw new ImapError('NO', 'NONEXISTENT', 'no such mailbox');
  if (acct.mailbox(to)) throw new ImapError('NO', 'ALREADYEXISTS', 'target mailbox exists');
  if (mb.name === 'Inbox') {
    const dst = acct.createMailbox(to, { subscribe: true });
    const uids = acct.uids(mb.id);
    if (uids.length) acct.moveMessages(mb.id, [[uids[0]!, uids[uids.length - 1]!]], dst.id);
    return;
  }
  acct.renameMailbox(mb.id, to);
}
