// Plain text of a message for search indexing and previews: decoded text/plain parts, and
// text/html parts reduced to text, in order, including embedded messages (rfc2046:5.1.4 for
// alternatives: one alternative is enough).

import { decodeCharset, partBody } from './decode.js';
import type { Part } from './part.js';

/** Default cap on extracted text (characters): enough for search over typical mail; bounds work
 * and index size for huge text bodies. */
export const MAX_TEXT_LENGTH = 1024 * 1024;

/** Reduces HTML to text: drops script/style/comments and tags, decodes common entities. */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?(br|p|div|tr|li|h[1-6])\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
      const l = e.toLowerCase();
      if (l[0] === '#') {
        const cp = l[1] === 'x' ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ' ';
      }
      return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' } as Record<string, string>)[l] ?? m;
    })
    .replace(/[ \t]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .trim();
}

/** Extracts text from the message bytes using its Part tree. At most maxLength characters. */
export function extractText(message: Buffer, root: Part, maxLength = MAX_TEXT_LENGTH): string {
  const out: string[] = [];
  let len = 0;
  const add = (s: string) => {
    if (len >= maxLength || !s) return;
    const t = s.length > maxLength - len ? s.slice(0, maxLength - len) : s;
    out.push(t);
    len += t.length;
  };
  const walk = (p: Part) => {
    if (len >= maxLength) return;
    if (p.mediaType === 'MULTIPART') {
      if (p.mediaSubType === 'ALTERNATIVE') {
        // Prefer text/plain; else the last alternative (rfc2046:5.1.4: last is the richest).
        const plain = p.parts.find((c) => c.mediaType === 'TEXT' && c.mediaSubType === 'PLAIN');
        const pick = plain ?? p.parts[p.parts.length - 1];
        if (pick) walk(pick);
        return;
      }
      for (const c of p.parts) walk(c);
      return;
    }
    if (p.message) {
      walk(p.message);
      return;
    }
    if (p.mediaType !== 'TEXT' || p.contentDisposition === 'ATTACHMENT') return;
    if (p.mediaSubType !== 'PLAIN' && p.mediaSubType !== 'HTML') return;
    const text = decodeCharset(partBody(message, p), p.contentTypeParams['charset']);
    add(p.mediaSubType === 'HTML' ? htmlToText(text) : text);
    add('\n');
  };
  try {
    walk(root);
  } catch {
    // best effort: return what we have
  }
  return out.join('').trimEnd();
}
