// Test helpers for message/ (not used by production code).
import assert from 'node:assert/strict';

/** Minimal IMAP value reader (quoted, literal, NIL, number, list) to check the serializer. */
export function readImap(buf: Buffer, asciiQuoted = false): unknown {
  let i = 0;
  const value = (): unknown => {
    const c = buf[i]!;
    if (c === 0x28) {
      i++;
      const l: unknown[] = [];
      while (buf[i] !== 0x29) {
        if (i >= buf.length) throw new Error('unterminated list');
        l.push(value());
        if (buf[i] === 0x20) i++;
      }
      i++;
      return l;
    }
    if (c === 0x22) {
      i++;
      const bytes: number[] = [];
      while (buf[i] !== 0x22) {
        if (i >= buf.length) throw new Error('unterminated string');
        if (buf[i] === 0x5c) i++;
        assert.ok(buf[i] !== 13 && buf[i] !== 10 && buf[i] !== 0, 'no CR/LF/NUL in quoted strings');
        if (asciiQuoted) assert.ok(buf[i]! < 0x80, 'quoted strings are ASCII without UTF8=ACCEPT');
        bytes.push(buf[i]!);
        i++;
      }
      i++;
      return Buffer.from(bytes).toString('utf8');
    }
    if (c === 0x7b) {
      const close = buf.indexOf('}', i);
      const n = Number(buf.subarray(i + 1, close).toString());
      assert.equal(buf.subarray(close + 1, close + 3).toString(), '\r\n');
      const s = buf.subarray(close + 3, close + 3 + n).toString('utf8');
      i = close + 3 + n;
      return s;
    }
    let j = i;
    while (j < buf.length && buf[j] !== 0x20 && buf[j] !== 0x29) j++;
    const tok = buf.subarray(i, j).toString();
    i = j;
    if (tok === 'NIL') return null;
    if (/^\d+$/.test(tok)) return Number(tok);
    throw new Error('bad token ' + tok);
  };
  const v = value();
  assert.equal(i, buf.length, 'trailing bytes');
  return v;
}

