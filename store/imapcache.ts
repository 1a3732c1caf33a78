/**
 * Preformatted IMAP ENVELOPE and BODYSTRUCTURE of a message, computed once from its parse tree
 * (message/'s Part, which `parsed` carries) when the row is written, so FETCH of many messages
 * reads two short strings instead of parsing the tree's JSON and formatting it (DESIGN §4).
 * Formatted without UTF8=ACCEPT (non-ASCII strings become literals), which is valid for every
 * session. Never throws: a tree we cannot format gives nulls and FETCH computes it on demand.
 */
import { formatBodyStructure, formatEnvelope } from '../message/bodystructure.js';
import type { Part } from '../message/part.js';

export interface ImapStrings {
  envelope: string | null;
  bodyStructure: string | null;
}

export function imapStrings(parsed: unknown): ImapStrings {
  if (!parsed || typeof parsed !== 'object' || !('mediaType' in parsed)) return { envelope: null, bodyStructure: null };
  try {
    const p = parsed as Part;
    return { envelope: formatEnvelope(p), bodyStructure: formatBodyStructure(p, true) };
  } catch {
    return { envelope: null, bodyStructure: null };
  }
}
