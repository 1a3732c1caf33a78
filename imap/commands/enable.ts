// rfc5161 ENABLE: CONDSTORE and QRESYNC (rfc7162:3.2.3, QRESYNC implies CONDSTORE), UTF8=ACCEPT
// (rfc6855:3), IMAP4rev2 (rfc9051:6.3.1). Unknown capabilities are ignored; the ENABLED response
// lists what was newly enabled.
import type { Session } from '../session.js';

const KNOWN = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

export async function enable(s: Session, _tag: string, c: { caps: string[] }): Promise<string | void> {
  const now: string[] = [];
  for (const cap of c.caps) {
    if (!KNOWN.has(cap) || s.enabled.has(cap)) continue;
    s.enabled.add(cap);
    now.push(cap);
    if (cap === 'QRESYNC' && !s.enabled.has('CONDSTORE')) {
      s.enabled.add('CONDSTORE');
      now.push('CONDSTORE');
    }
  }
  if (s.enabled.has('CONDSTORE')) s.condstore = true;
  s.w.line(`* ENABLED${now.map((x) => ' ' + (x === 'IMAP4REV2' ? 'IMAP4rev2' : x)).join('')}`);
}
