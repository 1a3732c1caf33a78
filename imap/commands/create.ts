// rfc9051:6.3.4 CREATE with rfc6154:3 USE (CREATE-SPECIAL-USE). Missing parents are created; the
// new mailbox is subscribed (like mox).
import { ImapError } from '../errors.js';
import { SPECIAL_USES, type SpecialUse } from '../../store/types.js';
import type { Session } from '../session.js';

export async function create(s: Session, _tag: string, c: { mailbox: string; specialUse: string[] }): Promise<string | void> {
  const acct = s.xaccount();
  const name = s.decodeName(c.mailbox);
  if (name.toLowerCase() === 'inbox') throw new ImapError('NO', 'ALREADYEXISTS', 'INBOX exists');
  let use: SpecialUse | null = null;
  if (c.specialUse.length > 1) throw new ImapError('NO', 'USEATTR', 'only one special-use attribute per mailbox');
  if (c.specialUse.length === 1) {
    const u = SPECIAL_USES.find((x) => x.toLowerCase() === c.specialUse[0]!.toLowerCase());
    if (!u) throw new ImapError('NO', 'USEATTR', `special-use attribute ${c.specialUse[0]} not supported`);
    use = u;
  }
  if (acct.mailbox(name)) throw new ImapError('NO', 'ALREADYEXISTS', 'mailbox exists');
  acct.createMailbox(name, { specialUse: use, subscribe: true });
}
