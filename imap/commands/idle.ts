// rfc2177 / rfc9051:6.3.13 IDLE: changes are reported as they happen until DONE.
import type { Session } from '../session.js';

export async function idle(s: Session): Promise<string | null | void> {
  const ok = await s.idle();
  if (!ok) return null;
  return 'IDLE terminated';
}
