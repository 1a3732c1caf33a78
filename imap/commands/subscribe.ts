// rfc9051:6.3.7 SUBSCRIBE and 6.3.8 UNSUBSCRIBE. Names need not exist (rfc9051:6.3.7).
import type { Session } from '../session.js';

export async function subscribe(s: Session, _tag: string, c: { name: 'SUBSCRIBE' | 'UNSUBSCRIBE'; mailbox: string }): Promise<string | void> {
  s.xaccount().setSubscribed(s.decodeName(c.mailbox), c.name === 'SUBSCRIBE');
}
