// rfc9051:6.2.1 STARTTLS
import { ImapError } from '../errors.js';
import type { Session } from '../session.js';

export async function starttls(s: Session, tag: string): Promise<string | null> {
  if (s.tls) throw new ImapError('BAD', undefined, 'already using TLS');
  if (!s.cfg.tlsContext) throw new ImapError('BAD', undefined, 'STARTTLS not available on this listener');
  await s.startTLS(tag);
  return null;
}
