// rfc9051:6.1.3 LOGOUT: BYE, then the tagged OK, then the connection closes.
import type { Session } from '../session.js';

export async function logout(s: Session, tag: string): Promise<string | null> {
  s.w.line('* BYE logging out');
  s.w.line(`${tag} OK LOGOUT completed`);
  s.selected = undefined;
  s.state = 'logout';
  return null;
}
