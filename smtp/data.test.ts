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
