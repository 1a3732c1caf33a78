// rfc2342 / rfc9051:6.3.10 NAMESPACE: one personal namespace, "/" as hierarchy separator.
import type { Session } from '../session.js';

export async function namespace(s: Session): Promise<string | void> {
  s.w.line('* NAMESPACE (("" "/")) NIL NIL');
}
