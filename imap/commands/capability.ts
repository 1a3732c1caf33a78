// rfc9051:6.1.1 CAPABILITY
import type { Session } from '../session.js';

export async function capability(s: Session): Promise<string | void> {
  s.w.line(`* CAPABILITY ${s.capabilities()}`);
}
