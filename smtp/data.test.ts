import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataReader, dotStuff } from './data.js';

function read(input: Buffer | string, splits: number[] = []): { data: string; consumed: number; done: boolean; size: number; bareCR: boolean; bareLF: boolean } {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const chunks: Buffer[] = [];
  const r = new DataReader((b) => chunks.push(Buffer.from(b)));
  let consumed = 0;
  let pos = 0;
  for (const s of [...splits.filter((x) => x > 0 && x < buf.length).sort((a, b) => a - b), buf.length]) {
    if (r.finished) break;
    const n = r.feed(buf.subarray(pos, s));
    consumed += n;
    pos = s;
  }
  return { data: Buffer.concat(chunks).toString('latin1'), consumed, done: r.finished, ...r.result() };
}

test('end of data, dot-unstuffing, pipelined bytes left over', () => {
  const r = read('Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n');
  assert.equal(r.data, 'Subject: x\r\n\r\n.leading dot\r\n');
  assert.equal(r.done, true);
  assert.equal(r.consumed, 'Subject: x\r\n\r\n..leading dot\r\n.\r\n'.length);
  assert.equal(r.bareCR || r.bareLF, false);
  assert.deepEqual(read('.\r\n'), { data: '', consumed: 3, done: true, size: 0, bareCR: false, bareLF: false });
});

test('smuggling variants never end the data and are flagged', () => {
  // Each variant: a fake end-of-data followed by a smuggled command, then the real end.
  const variants: Array<[string, 'cr' | 'lf']> = [
    ['a\n.\nMAIL FROM:<x@y>\r\n', 'lf'],
    ['a\r\n.\nMAIL FROM:<x@y>\r\n', 'lf'],
    ['a\n.\r\nMAIL FROM:<x@y>\r\n', 'lf'],
    ['a\r.\rMAIL FROM:<x@y>\r\n', 'cr'],
    ['a\r\n.\rMAIL FROM:<x@y>\r\n', 'cr'],
    ['a\r.\r\nMAIL FROM:<x@y>\r\n', 'cr'],
    ['bare lf\nin body\r\n', 'lf'],
    ['bare cr\rin body\r\n', 'cr'],
  ];
  for (const [body, kind] of variants) {
    const input = `${body}.\r\n`;
    for (const split of [[], [1], [2, 3, 4], [...Array(input.length).keys()]]) {
      const r = read(input, split);
      assert.equal(r.done, true, JSON.stringify(body));
      assert.equal(r.consumed, input.length, `only the real CRLF.CRLF ends data: ${JSON.stringify(body)}`);
      assert.ok(kind === 'cr' ? r.bareCR : r.bareLF, `flagged: ${JSON.stringify(body)}`);
      assert.ok(r.data.includes('MAIL FROM') || !body.includes('MAIL FROM'), 'smuggled text stays message data');
    }
  }
});

test('incomplete data is not finished', () => {
  const r = read('hello\r\n.\r');
  assert.equal(r.done, false);
  assert.equal(r.data, 'hello\r\n');
});

const crlfMessage = fc
  .array(fc.oneof(fc.constantFrom('.', '..', '.\r\n', 'x', ' ', '\r\n', 'line\r\n', '.dot\r\n'), fc.string({ unit: 'binary-ascii', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, ''))), { maxLength: 40 })
  .map((xs) => xs.join(''));

test('property: dotStuff then DataReader returns the message exactly, for any chunking', () => {
  fc.assert(
    fc.property(crlfMessage, fc.array(fc.nat(400), { maxLength: 8 }), (msg, splits) => {
      const stuffed = dotStuff(Buffer.from(msg, 'latin1'));
      const r = read(Buffer.concat([stuffed, Buffer.from('NEXT')]), splits);
      assert.equal(r.done, true);
      assert.equal(r.consumed, stuffed.length);
      const expected = msg === '' || msg.endsWith('\r\n') ? msg : `${msg}\r\n`;
      assert.equal(r.data, expected);
      assert.equal(r.bareCR || r.bareLF, false);
    }),
    { numRuns: 3000 },
  );
});

test('property: arbitrary bytes in arbitrary chunks give identical results to one chunk', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 10 }), (bytes, splits) => {
      const buf = Buffer.from(bytes);
      assert.deepEqual(read(buf, splits), read(buf));
    }),
    { numRuns: 3000 },
  );
});

/** The byte-at-a-time state machine DataReader.feed used before it copied runs of line bytes in one go: the reference. */
function referenceRead(buf: Buffer): { data: string; consumed: number; done: boolean; bareCR: boolean; bareLF: boolean } {
  let st = 0; // 0 line start, 1 mid, 2 CR, 3 dot, 4 dot CR
  const out: number[] = [];
  let bareCR = false;
  let bareLF = false;
  let i = 0;
  let done = false;
  for (; i < buf.length && !done; i++) {
    const c = buf[i]!;
    if (st === 0) {
      if (c === 0x2e) {
        st = 3;
        continue;
      }
      st = 1;
    } else if (st === 3 && c !== 0x0d) st = 1;
    else if (st === 4 && c !== 0x0a) st = 2;
    if (st === 1) {
      if (c === 0x0d) st = 2;
      else {
        if (c === 0x0a) bareLF = true;
        out.push(c);
      }
    } else if (st === 2) {
      if (c === 0x0a) {
        out.push(0x0d, 0x0a);
        st = 0;
      } else {
        bareCR = true;
        out.push(0x0d);
        if (c !== 0x0d) {
          out.push(c);
          st = 1;
        }
      }
    } else if (st === 3) st = 4;
    else if (st === 4) done = true;
  }
  return { data: Buffer.from(out).toString('latin1'), consumed: i, done, bareCR, bareLF };
}

test('property: the same output, end and flags as the byte-at-a-time reference, for CR/LF/dot-heavy input in any chunking', () => {
  const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x41, 0x20), { maxLength: 200 });
  fc.assert(
    fc.property(bytes, fc.array(fc.nat(200), { maxLength: 10 }), (xs, splits) => {
      const buf = Buffer.from(xs);
      const want = referenceRead(buf);
      const got = read(buf, splits);
      assert.deepEqual({ data: got.data, consumed: got.consumed, done: got.done, bareCR: got.bareCR, bareLF: got.bareLF }, want);
    }),
    { numRuns: 5000 },
  );
});
