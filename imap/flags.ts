/**
 * Flags on the wire (rfc9051:2.3.2): system flags \Seen \Answered \Flagged \Deleted \Draft (and
 * \Recent in IMAP4rev1, never stored), keywords (stored lower-case, like mox).
 */
import { ImapError } from './errors.js';
import type { FlagName, Flags } from '../store/types.js';

export const SYSTEM_FLAGS = '\\Seen \\Answered \\Flagged \\Deleted \\Draft';

const BY_NAME: Record<string, FlagName> = {
  '\\seen': 'seen',
  '\\answered': 'answered',
  '\\flagged': 'flagged',
  '\\deleted': 'deleted',
  '\\draft': 'draft',
};

/** "(\Seen $Label1)" for a message. */
export function flagsString(f: Flags, keywords: readonly string[], recent = false): string {
  let s = '';
  if (f.seen) s += ' \\Seen';
  if (f.answered) s += ' \\Answered';
  if (f.flagged) s += ' \\Flagged';
  if (f.deleted) s += ' \\Deleted';
  if (f.draft) s += ' \\Draft';
  if (recent) s += ' \\Recent';
  for (const k of keywords) s += ' ' + k;
  return '(' + s.slice(1) + ')';
}

/**
 * Client flags to store flags and keywords. \Recent is ignored (rfc3501:2.3.2: it cannot be
 * set); another backslash flag is refused with BAD.
 */
export function parseFlags(flags: readonly string[]): { flags: FlagName[]; keywords: string[] } {
  const out: FlagName[] = [];
  const kws: string[] = [];
  for (const f of flags) {
    if (f.startsWith('\\')) {
      const n = BY_NAME[f.toLowerCase()];
      if (n) out.push(n);
      else if (f.toLowerCase() !== '\\recent') throw new ImapError('BAD', undefined, `unknown system flag ${f.slice(0, 40)}`);
    } else kws.push(f);
  }
  return { flags: out, keywords: kws };
}
