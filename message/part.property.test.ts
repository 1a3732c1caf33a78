// Property tests for the MIME part parser (fast-check, 10,000 runs each):
// (a) arbitrary/mutated/truncated input never throws, offsets stay in bounds and nested;
// (b) generated MIME trees round-trip: same shape, types and body bytes (and decoded bodies);
// (c) feeding random chunk splits gives exactly the Part of parseBuffer;
// (d) the body-run path gives exactly the Part of the line-by-line path.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatBodyStructure, formatEnvelope } from './bodystructure.js';
import { partBody } from './decode.js';
import { type Part, PartParser, parseBuffer } from './part.js';
import { readImap } from './testutil.js';

const RUNS = 10000;
const dir = new URL('../../testdata/message/', import.meta.url).pathname;
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(dir + f));

function checkTree(p: Part, lo: number, hi: number, depth = 0): void {
  assert.ok(depth < 200, 'depth bounded');
  assert.ok(lo <= p.headerOffset && p.headerOffset <= p.bodyOffset && p.bodyOffset <= p.endOffset && p.endOffset <= hi, `offsets ${p.headerOffset}/${p.bodyOffset}/${p.endOffset} in [${lo},${hi}]`);
  assert.ok(p.rawLineCount >= 0 && p.decodedSize >= 0);
  assert.ok(p.mediaType.length > 0 && p.mediaSubType.length > 0);
  if (p.mediaType === 'MULTIPART' && !p.depthLimited) assert.ok(p.parts.length > 0, 'multipart has parts');
  let prev = p.bodyOffset;
  for (const c of p.parts) {
    assert.ok(c.headerOffset >= prev, 'children ordered and disjoint');
    checkTree(c, p.bodyOffset, p.endOffset, depth + 1);
    prev = c.endOffset;
  }
  if (p.message) {
    assert.equal(p.message.headerOffset, p.bodyOffset);
    assert.equal(p.message.endOffset, p.endOffset);
    checkTree(p.message, p.bodyOffset, p.endOffset, depth + 1);
  }
}

/** Lines in the body per the Part definition: LFs, plus one for a final line without LF. */
function countLines(b: Buffer): number {
  let n = 0;
  for (const x of b) if (x === 10) n++;
  if (b.length && b[b.length - 1] !== 10) n++;
  return n;
}

// Tokens that drive the parser into its interesting states.
const tokens = [
  '\r\n', '\n', '\r', ' ', '\t', ':', '--', '--b', '--b--', '--bb', '--b \r\n', '--b--\r\n', '--bx', 'x', 'abc', '=', '=0', '=ZZ', '=\r\n',
  'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: multipart/digest; boundary=bb\n',
  'Content-Type: message/rfc822\r\n', 'Content-Type: message/global\n', 'Content-Type: multipart/alternative; boundary="b"\r\n\r\n',
  'Content-Transfer-Encoding: base64\r\n', 'Content-Transfer-Encoding: quoted-printable\n', 'Content-Type: text/plain; charset*0*=utf-8\'\'%C3; charset*1=x\r\n',
  'From: "a" <b@c>, g: d@e;\r\n', 'Subject: =?utf-8?q?x?=\r\n', '\r\n\r\n', '\u00e9', '\xff', 'Content-Type: ;;; ="\r\n', 'To: <<@@>>,,:;"\r\n',
];
const tokenMessage = fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((a) => Buffer.from(a.join(''), 'latin1'));
const randomBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const mutatedFixture = fc
  .tuple(fc.constantFrom(...fixtures), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }))
  .map(([f, a, muts]) => {
    // A truncated fixture with a few bytes overwritten.
    const buf = Buffer.from(f.subarray(0, f.length ? a % (f.length + 1) : 0));
    for (const [pos, v] of muts) if (buf.length) buf[pos % buf.length] = v;
    return buf;
  });
// Whole lines that build (broken) structures: nested multiparts with prefix boundaries, embedded
// messages, empty headers and bodies, delimiters in odd places.
const structLines = [
  'Content-Type: multipart/mixed; boundary=a', 'Content-Type: multipart/digest; boundary=aa', 'Content-Type: message/rfc822',
  'Content-Transfer-Encoding: base64', 'Content-Transfer-Encoding: quoted-printable', '--a', '--a--', '--aa', '--aa--', '--a ', '', '', 'x=', 'QUJD', 'Subject: s',
];
const structMessage = fc
  .tuple(fc.array(fc.constantFrom(...structLines), { maxLength: 30 }), fc.constantFrom('\r\n', '\n'), fc.boolean())
  .map(([lines, eol, final]) => Buffer.from(lines.join(eol) + (final ? eol : '')));
const anyInput = fc.oneof(tokenMessage, randomBytes, mutatedFixture, structMessage);

/** Splits a buffer at random points. */
function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const pts = [...new Set(cuts.map((c) => (buf.length ? c % (buf.length + 1) : 0)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of pts) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

// ---- generated MIME trees ----
type Node =
  | { k: 'leaf'; type: string; sub: string; enc: 'none' | 'base64' | 'qp'; data: Buffer; lines: string[] }
  | { k: 'multi'; sub: string; children: Node[]; preamble: string[]; epilogue: string[]; ws: string }
  | { k: 'msg'; inner: Node; subject: string };

const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', 'z', ' ', '.', '0', 'é', '=', '\t'), maxLength: 12 });
const linesArb = fc.array(lineArb, { maxLength: 4 });
const leafArb: fc.Arbitrary<Node> = fc.record({
  k: fc.constant('leaf' as const),
  type: fc.constantFrom('text', 'application', 'image'),
  sub: fc.constantFrom('plain', 'html', 'octet-stream', 'png'),
  enc: fc.constantFrom('none' as const, 'base64' as const, 'qp' as const),
  data: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
  lines: linesArb,
});
const treeArb = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({
      k: fc.constant('multi' as const),
      sub: fc.constantFrom('mixed', 'alternative', 'related'),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
      preamble: linesArb,
      epilogue: linesArb,
      ws: fc.constantFrom('', ' ', '\t ', '  '),
    }),
    fc.record({ k: fc.constant('msg' as const), inner: tie('node'), subject: lineArb }),
  ),
})).node;

interface Expected {
  type: string;
  sub: string;
  body: Buffer;
  decoded?: Buffer;
  parts: Expected[];
  message?: Expected;
}

function qpEncode(b: Buffer, eol: string): string {
  let out = '';
  let col = 0;
  for (const x of b) {
    const lit = x >= 33 && x <= 126 && x !== 61;
    const s = lit ? String.fromCharCode(x) : '=' + x.toString(16).toUpperCase().padStart(2, '0');
    if (col + s.length > 72) {
      out += '=' + eol;
      col = 0;
    }
    out += s;
    col += s.length;
  }
  return out;
}

/** Serializes an entity (header + blank line + body) and returns the expectation. */
function serialize(n: Node, eol: string, boundaries: { prefix: string; next: number }, extraHeader: string): { bytes: Buffer; exp: Expected } {
  const hdr = (lines: string[]) => Buffer.from(lines.map((l) => l + eol).join('') + eol, 'utf8');
  if (n.k === 'leaf') {
    let body: Buffer;
    let cte: string[] = [];
    let decoded: Buffer;
    if (n.enc === 'base64') {
      body = Buffer.from((n.data.toString('base64').match(/.{1,76}/g) ?? []).join(eol));
      cte = ['Content-Transfer-Encoding: base64'];
      decoded = n.data;
    } else if (n.enc === 'qp') {
      body = Buffer.from(qpEncode(n.data, eol));
      cte = ['Content-Transfer-Encoding: quoted-printable'];
      decoded = n.data;
    } else {
      body = Buffer.from(n.lines.join(eol), 'utf8');
      decoded = body;
    }
    const h = hdr([...(extraHeader ? [extraHeader] : []), `Content-Type: ${n.type}/${n.sub}`, ...cte]);
    return { bytes: Buffer.concat([h, body]), exp: { type: n.type.toUpperCase(), sub: n.sub.toUpperCase(), body, decoded, parts: [] } };
  }
  if (n.k === 'msg') {
    const inner = serialize(n.inner, eol, boundaries, 'Subject: ' + n.subject);
    const h = hdr([...(extraHeader ? [extraHeader] : []), 'Content-Type: message/rfc822']);
    const exp: Expected = { type: 'MESSAGE', sub: 'RFC822', body: inner.bytes, parts: [], message: inner.exp };
    return { bytes: Buffer.concat([h, inner.bytes]), exp };
  }
  // Boundaries of one message share a prefix and grow: each is a prefix of the later ones.
  const b = boundaries.prefix + 'x'.repeat(boundaries.next++);
  const h = hdr([...(extraHeader ? [extraHeader] : []), `Content-Type: multipart/${n.sub}; boundary="${b}"`]);
  const pieces: Buffer[] = [];
  const exps: Expected[] = [];
  if (n.preamble.length) pieces.push(Buffer.from(n.preamble.map((l) => l + eol).join(''), 'utf8'));
  for (const c of n.children) {
    pieces.push(Buffer.from(`--${b}${n.ws}${eol}`));
    const s = serialize(c, eol, boundaries, '');
    pieces.push(s.bytes, Buffer.from(eol));
    exps.push(s.exp);
  }
  pieces.push(Buffer.from(`--${b}--${n.ws}`));
  if (n.epilogue.length) pieces.push(Buffer.from(eol + n.epilogue.join(eol), 'utf8'));
  const body = Buffer.concat(pieces);
  return { bytes: Buffer.concat([h, body]), exp: { type: 'MULTIPART', sub: n.sub.toUpperCase(), body, parts: exps } };
}

function compare(buf: Buffer, p: Part, e: Expected, path = 'root'): void {
  assert.equal(p.mediaType, e.type, path);
  assert.equal(p.mediaSubType, e.sub, path);
  assert.deepEqual(buf.subarray(p.bodyOffset, p.endOffset), e.body, `${path} body`);
  assert.equal(p.rawLineCount, countLines(e.body), `${path} lines`);
  assert.equal(p.parts.length, e.parts.length, `${path} parts`);
  e.parts.forEach((c, i) => compare(buf, p.parts[i]!, c, `${path}.${i + 1}`));
  assert.equal(!!p.message, !!e.message, `${path} message`);
  if (e.message) compare(buf, p.message!, e.message, `${path}.msg`);
  if (e.decoded) {
    assert.equal(p.decodedSize, e.decoded.length, `${path} decodedSize`);
    assert.deepEqual(partBody(buf, p), e.decoded, `${path} decoded`);
  }
  assert.equal(p.missingClosingBoundary, undefined);
}

const generated = fc.record({
  tree: treeArb,
  eol: fc.constantFrom('\r\n', '\n'),
  prefix: fc.string({ unit: fc.constantFrom('a', 'B', '9', '=', '_', '.', "'", '(', '+', '-', '?'), minLength: 1, maxLength: 10 }).filter((s) => s[0] !== '-'),
});

describe('part parser properties', () => {
  it('(a) never throws on arbitrary, token soup or truncated/mutated input; offsets bounded and nested', () => {
    fc.assert(
      fc.property(anyInput, fc.constantFrom(8192, 16), (buf, frag) => {
        const pp = new PartParser({ lineFragment: frag });
        pp.write(buf);
        const p = pp.end();
        assert.equal(p.headerOffset, 0);
        assert.equal(p.endOffset, buf.length);
        checkTree(p, 0, buf.length);
        // Serializers never throw and produce well-formed IMAP syntax.
        readImap(Buffer.from(formatBodyStructure(p)), true);
        readImap(Buffer.from(formatBodyStructure(p, false, { utf8: true })));
        readImap(Buffer.from(formatEnvelope(p)), true);
      }),
      { numRuns: RUNS },
    );
  });

  it('(b) generated MIME trees parse back to the same shape, types and body bytes', () => {
    fc.assert(
      fc.property(generated, ({ tree, eol, prefix }) => {
        const { bytes, exp } = serialize(tree, eol, { prefix, next: 0 }, 'From: x@example.org');
        const p = parseBuffer(bytes);
        checkTree(p, 0, bytes.length);
        assert.equal(p.endOffset, bytes.length);
        compare(bytes, p, exp);
        // BODYSTRUCTURE reads back as a list whose nesting mirrors the tree.
        const bs = readImap(Buffer.from(formatBodyStructure(p)), true) as unknown[];
        const shape = (v: unknown[], e: Expected): void => {
          if (e.type === 'MULTIPART') {
            e.parts.forEach((c, i) => shape(v[i] as unknown[], c));
            assert.equal(v[e.parts.length], e.sub);
          } else {
            assert.deepEqual(v.slice(0, 2), [e.type, e.sub]);
            assert.equal(v[6], e.body.length);
            if (e.message) shape(v[8] as unknown[], e.message);
          }
        };
        shape(bs, exp);
        if (eol === '\n' && bytes.includes(10)) assert.equal(p.bareLF, true);
        if (eol === '\r\n') assert.equal(p.bareLF, undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) body runs (the default) give exactly the Part of the line-by-line path, in any split', () => {
    const input = fc.oneof(
      anyInput,
      generated.map(({ tree, eol, prefix }) => serialize(tree, eol, { prefix, next: 0 }, 'Subject: s').bytes),
    );
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(8192, 16, 5), (buf, cuts, frag) => {
        const lineByLine = new PartParser({ lineFragment: frag, bulk: false });
        lineByLine.write(buf);
        const expected = lineByLine.end();
        const whole = new PartParser({ lineFragment: frag });
        whole.write(buf);
        assert.deepStrictEqual(whole.end(), expected);
        const pp = new PartParser({ lineFragment: frag });
        for (const c of chunks(buf, cuts)) pp.write(c);
        assert.deepStrictEqual(pp.end(), expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('(c) random chunk splits give exactly the Part of parseBuffer', () => {
    const input = fc.oneof(
      anyInput,
      generated.map(({ tree, eol, prefix }) => serialize(tree, eol, { prefix, next: 0 }, 'Subject: s').bytes),
    );
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom(8192, 16, 5), (buf, cuts, frag) => {
        const whole = new PartParser({ lineFragment: frag });
        whole.write(buf);
        const expected = whole.end();
        const pp = new PartParser({ lineFragment: frag });
        for (const c of chunks(buf, cuts)) pp.write(c);
        assert.deepStrictEqual(pp.end(), expected);
      }),
      { numRuns: RUNS },
    );
  });
});
