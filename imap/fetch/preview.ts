// rfc8970 PREVIEW: a short plain-text summary of a message, from its first text part (the part
// the full-text index would take first: text/plain preferred in alternatives, attachments skipped).

import type { Part } from '../../message/part.js';
import { indexedTextParts, partText, type ReadRange } from '../../store/textindex.js';

/** rfc8970:3: at most 256 characters; 200 is its recommended size. */
export const PREVIEW_LENGTH = 200;
/** Raw bytes read of the text part: enough for 200 characters even after QP/base64 and HTML. */
const PREVIEW_RAW = 16 * 1024;

/** The preview text, or null when the message has no text part (rfc8970: NIL). */
export async function messagePreview(read: ReadRange, root: Part): Promise<string | null> {
  for (const p of indexedTextParts(root)) {
    let t: string;
    try {
      t = await partText(read, p, PREVIEW_RAW);
    } catch {
      continue;
    }
    // Whitespace (incl. line breaks) collapsed; control characters dropped (they cannot be sent
    // in a quoted string).
    // eslint-disable-next-line no-control-regex
    t = t.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
    if (!t) continue;
    const chars = Array.from(t);
    return chars.length > PREVIEW_LENGTH ? chars.slice(0, PREVIEW_LENGTH).join('') : t;
  }
  return null;
}
