// rfc9051:6.1.2 NOOP (and rfc3501:6.4.1 CHECK, same effect here): pending changes are reported
// by the session after every command.
import type { Session } from '../session.js';

export async function noop(_s: Session): Promise<string | void> {}
