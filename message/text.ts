// Plain text of a message for search indexing and previews: decoded text/plain parts, and
// text/html parts reduced to text, in order, including embedded messages (rfc2046:5.1.4 for
// alternatives: one alternative is enough).

import { decodeCharset, partBody } from './decode.js';
import type { Part } from './part.js';

/** Default cap on extracted text (characters): enough for search over typical mail; bounds work
 * and index size for huge text bodies. */
export const MAX_TEXT_LENGTH = 1024 * 1024;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
const BLOCK_TAGS = new Set(['br', 'p', 'div', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'blockquote']);

/**
 * Reduces HTML to text: drops comments, script/style/head contents and tags, turns block tags into
 * line breaks, decodes common entities. A single linear scan (no backtracking regexes), so hostile
 * HTML cannot make it slow.
 */
export function htmlToText(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf('<', i);
    out += lt < 0 ? html.slice(i) : html.slice(i, lt);
    if (lt < 0) break;
    if (html.startsWith('<!--', lt)) {
      const e = html.indexOf('-->', lt + 4);
      if (e < 0) break;
      i = e + 3;
      out += ' ';
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const m = /^<\/?([a-z0-9]+)/.exec(lower.slice(lt, Math.min(gt, lt + 20)));
    const name = m ? m[1]! : '';
    i = gt + 1;
    if ((name === 'script' || name === 'style' || name === 'head') && lower[lt + 1] !== '/') {
      const close = lower.indexOf('</' + name, i);
      if (close < 0) break;
      const cgt = html.indexOf('>', close);
      if (cgt < 0) break;
      i = cgt + 1;
      out += ' ';
      continue;
    }
    out += BLOCK_TAGS.has(name) ? '\n' : ' ';
  }
  return out
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (ent, e: string) => {
      const l = e.toLowerCase();
      if (l[0] === '#') {
        const cp = l[1] === 'x' ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ' ';
      }
      return ENTITIES[l] ?? ent;
    })
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n[\s]*/g, '\n')
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
