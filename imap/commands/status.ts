// rfc9051:6.3.11 STATUS, with rfc9051 SIZE and DELETED, rfc7162:3.1.9 HIGHESTMODSEQ, rfc7889
// APPENDLIMIT. Also used by LIST-STATUS (rfc5819).
import { ImapError } from '../errors.js';
import type { StatusAtt } from '../protocol/command.js';
import type { Mailbox } from '../../store/types.js';
import type { Session } from '../session.js';
import { quoteName } from './select.js';

export function statusLine(s: Session, mb: Mailbox, atts: readonly StatusAtt[]): string {
  const out: string[] = [];
  for (const a of atts) {
    switch (a) {
      case 'MESSAGES':
        out.push(`MESSAGES ${mb.total}`);
        break;
      case 'UIDNEXT':
        out.push(`UIDNEXT ${mb.uidNext}`);
        break;
      case 'UIDVALIDITY':
        out.push(`UIDVALIDITY ${mb.uidValidity}`);
        break;
      case 'UNSEEN':
        out.push(`UNSEEN ${mb.unseen}`);
        break;
      case 'DELETED':
        out.push(`DELETED ${mb.deleted}`);
        break;
      case 'SIZE':
        out.push(`SIZE ${mb.size}`);
        break;
      case 'RECENT':
        // \Recent is not kept across sessions (store/README.md).
        out.push('RECENT 0');
        break;
      case 'HIGHESTMODSEQ':
        s.condstore = true;
        out.push(`HIGHESTMODSEQ ${mb.highestModseq}`);
        break;
      case 'APPENDLIMIT':
        out.push(`APPENDLIMIT ${s.cfg.appendLimit}`);
        break;
    }
  }
  return `* STATUS ${quoteName(s, mb.name)} (${out.join(' ')})`;
}

export async function status(s: Session, _tag: string, c: { mailbox: string; atts: StatusAtt[] }): Promise<string | void> {
  const mb = s.xaccount().mailbox(s.decodeName(c.mailbox));
  if (!mb) throw new ImapError('NO', 'NONEXISTENT', 'no such mailbox');
  s.w.line(statusLine(s, mb, c.atts));
}
