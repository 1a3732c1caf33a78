// Fixture corpus: hand-derived ENVELOPE/BODYSTRUCTURE expectations (testdata/message/expected.json)
// and offset invariants for every part of every fixture.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { formatBodyStructure, formatEnvelope } from './bodystructure.js';
import { decodeHeaderValue, partBody, sectionRange } from './decode.js';
import { parseAddressList, isGroup } from './address.js';
import { type Part, PartParser, parseBuffer, parseFile } from './part.js';
import { extractText } from './text.js';

const dir = new URL('../../testdata/message/', import.meta.url).pathname;
interface Expect {
  envelope: string;
  bodystructure: string;
  body?: string;
  flags?: string[];
  decodedSizes?: Record<string, number>;
  partEnvelopes?: Record<string, string>;
  decodedSubject?: string;
  decodedNames?: string[];
  text?: string;
}
const expected = JSON.parse(readFileSync(dir + 'expected.json', 'utf8')) as Record<string, Expect>;

/** Checks offsets of a part tree against the raw bytes; returns all parts (pre-order). */
export function checkOffsets(buf: Buffer, p: Part, lo: number, hi: number, out: Part[] = []): Part[] {
  out.push(p);
  assert.ok(lo <= p.headerOffset && p.headerOffset <= p.bodyOffset && p.bodyOffset <= p.endOffset && p.endOffset <= hi, `offsets ${p.headerOffset} ${p.bodyOffset} ${p.endOffset} not within [${lo},${hi}]`);
  let prev = p.bodyOffset;
  for (const c of p.parts) {
    assert.ok(c.headerOffset >= prev, 'children in order');
    checkOffsets(buf, c, p.bodyOffset, p.endOffset, out);
    prev = c.endOffset;
  }
  if (p.message) {
    assert.equal(p.message.headerOffset, p.bodyOffset);
    assert.equal(p.message.endOffset, p.endOffset);
    checkOffsets(buf, p.message, p.bodyOffset, p.endOffset, out);
  }
  return out;
}

describe('fixture corpus', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
  it('has at least 15 fixtures, all with expectations', () => {
    assert.ok(files.length >= 15);
    for (const f of files) assert.ok(expected[f], `expectation for ${f}`);
  });
  for (const f of files) {
    describe(f, () => {
      const buf = readFileSync(dir + f);
      const exp = expected[f]!;
      const root = parseBuffer(buf);
      it('BODYSTRUCTURE', () => assert.equal(formatBodyStructure(root, true, { utf8: true }), exp.bodystructure));
      if (exp.body) it('BODY', () => assert.equal(formatBodyStructure(root, false, { utf8: true }), exp.body));
      it('ENVELOPE', () => assert.equal(formatEnvelope(root, { utf8: true }), exp.envelope));
      it('offsets: header and body ranges', () => {
        assert.equal(root.headerOffset, 0);
        assert.equal(root.endOffset, buf.length);
        const all = checkOffsets(buf, root, 0, buf.length);
        for (const p of all) {
          const hdr = buf.subarray(p.headerOffset, p.bodyOffset).toString('latin1');
          // A header is empty or a sequence of lines; when terminated it ends with a blank line.
          if (hdr.length && !p.headerUnterminated) assert.match(hdr, /(^|\n)\r?\n$/, `header of part at ${p.headerOffset}`);
          // Parts inside a multipart end right before a line break + delimiter, or at end of input.
          const after = buf.subarray(p.endOffset, p.endOffset + 4).toString('latin1');
          if (p.endOffset < buf.length && p !== root) assert.match(after, /^\r?\n--/, `end of part at ${p.endOffset}`);
        }
      });
      it('flags', () => {
        const flags = new Set<string>();
        const walk = (p: Part) => {
          for (const [k, v] of Object.entries(p)) if (v === true) flags.add(k);
          p.parts.forEach(walk);
          if (p.message) walk(p.message);
        };
        walk(root);
        assert.deepEqual([...flags].sort(), (exp.flags ?? []).sort());
      });
      if (exp.decodedSizes) {
        it('decoded sizes match decoded bodies', () => {
          for (const [sec, size] of Object.entries(exp.decodedSizes!)) {
            const r = sectionRange(root, sec)!;
            const part = root.parts.length ? root.parts[Number(sec) - 1]! : root;
            assert.equal(r.start, part.bodyOffset);
            assert.equal(part.decodedSize, size, `decodedSize of ${sec}`);
            assert.equal(partBody(buf, part).length, size, `decoded body length of ${sec}`);
          }
        });
      }
      if (exp.partEnvelopes) {
        it('embedded envelopes', () => {
          for (const [sec, env] of Object.entries(exp.partEnvelopes!)) {
            const part = root.parts[Number(sec) - 1]!;
            assert.ok(part.message);
            assert.equal(formatEnvelope(part.message, { utf8: true }), env);
          }
        });
      }
      if (exp.decodedSubject) it('decoded subject', () => assert.equal(decodeHeaderValue(root.envelope!.subject!), exp.decodedSubject));
      if (exp.decodedNames) {
        it('decoded display names', () => {
          const e = root.envelope!;
          const names = [...e.from!, ...e.to!, ...e.cc!].map((a) => decodeHeaderValue(a.name ?? ''));
          assert.deepEqual(names, exp.decodedNames);
        });
      }
      if (exp.text !== undefined) it('extracted text', () => assert.equal(extractText(buf, root), exp.text));
      it('parseFile and 1-byte chunks give the same Part', async () => {
        assert.deepEqual(await parseFile(dir + f), root);
        const pp = new PartParser();
        for (let i = 0; i < buf.length; i++) pp.write(buf.subarray(i, i + 1));
        assert.deepEqual(pp.end(), root);
      });
    });
  }
  it('group parsing returns structured groups', () => {
    const l = parseAddressList('A Group: Ed Jones <c@a.test>, joe@where.test;, t@example.com');
    assert.equal(l.length, 2);
    assert.ok(isGroup(l[0]!));
  });
});
