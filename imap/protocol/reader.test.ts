import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandReader, MAX_LITERAL, MAX_LINE } from './reader.js';

const drain = (r: CommandReader) => {
  const out = [];
  for (let e = r.next(); e; e = r.next()) out.push(e);
  return out;
};

test('lines, synchronising and non-synchronising literals', () => {
  const r = new CommandReader(() => 1000);
  r.push(Buffer.from('a NOOP\r\nb LOGIN {3}\r\n'));
  let ev = drain(r);
  assert.equal(ev[0]!.kind, 'command');
  assert.equal(ev[1]!.kind, 'continue');
  assert.equal(ev.length, 2);
  r.push(Buffer.from('abc {2+}\r\nxy\r\n'));
  ev = drain(r);
  assert.equal(ev.length, 1);
  assert.ok(ev[0]!.kind === 'command');
  assert.equal(ev[0].data.toString(), 'b LOGIN {3}\r\nabc {2+}\r\nxy\r\n');
});

test('too big literals: sync refused before the data, non-sync data read and dropped', () => {
  const r = new CommandReader(() => 10);
  r.push(Buffer.from(`a LOGIN {${MAX_LITERAL + 1}}\r\n`));
  let ev = drain(r);
  assert.deepEqual(ev.map((e) => e.kind), ['refused']);
  assert.ok(ev[0]!.kind === 'refused' && ev[0].tag === 'a' && ev[0].code === 'TOOBIG' && !ev[0].fatal);
  r.push(Buffer.from('b APPEND x {11+}\r\n0123456789a\r\nc NOOP\r\n'));
  ev = drain(r);
  assert.deepEqual(ev.map((e) => e.kind), ['refused', 'command']);
  assert.ok(ev[0]!.kind === 'refused' && ev[0].tag === 'b');
});

test('line too long is fatal', () => {
  const r = new CommandReader(() => 10);
  r.push(Buffer.alloc(MAX_LINE + 10, 0x61));
  const ev = drain(r);
  assert.ok(ev[0]?.kind === 'refused' && ev[0].fatal);
});

test('property: any chunking gives the same events', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 30 }), (cuts) => {
      const input = Buffer.from('a LOGIN {3}\r\nabc {5+}\r\nde\r\nf\r\nb NOOP\r\nc APPEND x {4}\r\n1234\r\n');
      const whole = new CommandReader(() => 100);
      whole.push(input);
      const expect = drain(whole);
      const r = new CommandReader(() => 100);
      const got = [];
      let pos = 0;
      for (const n of cuts) {
        r.push(input.subarray(pos, pos + n));
        pos += n;
        got.push(...drain(r));
      }
      r.push(input.subarray(pos));
      got.push(...drain(r));
      assert.deepEqual(got, expect);
    }),
  );
});
