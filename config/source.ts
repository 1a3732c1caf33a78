/** A parsed YAML config file that can map key paths back to line numbers. */
import { parseDocument, LineCounter, isMap, isSeq, isScalar, isAlias, type Document, type Node } from 'yaml';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';

export interface SourceDoc {
  file: string;
  text: string;
  doc: Document;
  lineCounter: LineCounter;
}

/** Parse YAML text; YAML syntax errors (and duplicate keys) become a ConfigError with line:col. */
export function parseSource(text: string, file: string): { src: SourceDoc; value: unknown } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const lp = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return { file, line: lp.line, col: lp.col, path: '', message: `YAML syntax error: ${e.message.replace(/ at line \d+, column \d+:?.*$/s, '')}` };
      }),
    );
  }
  const src: SourceDoc = { file, text, doc, lineCounter };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError([{ file, line: 1, path: '', message: `YAML error: ${(e as Error).message}` }]);
  }
  if (value === null || value === undefined) value = {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([{ file, line: 1, path: '', message: 'expected a mapping of keys at the top level' }]);
  }
  return { src, value };
}

function keyString(k: unknown): string {
  if (isScalar(k)) return String(k.value);
  return String(k);
}

/**
 * Line and column of the key at `path` (or of its deepest existing ancestor, e.g. the parent
 * mapping of a missing key).
 */
export function locate(src: SourceDoc, path: readonly PropertyKey[]): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let pos = (node as Node | null)?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(src.doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyString(p.key) === String(seg));
      if (!pair) break;
      const k = pair.key as Node | null;
      if (k?.range) pos = k.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      if (item.range) pos = item.range[0];
      node = item;
    } else break;
  }
  return src.lineCounter.linePos(pos);
}

/** Build an issue located in `src` (or, without a source, only naming the file). */
export function issueAt(
  src: SourceDoc | undefined,
  file: string,
  path: readonly PropertyKey[],
  message: string,
): ConfigIssue {
  const line = src ? locate(src, path).line : undefined;
  return line === undefined ? { file, path: formatPath(path), message } : { file, line, path: formatPath(path), message };
}
