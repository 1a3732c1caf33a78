import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { ResponseWriter } from './writer.js';
import { atom, concat, formatImapValueBytes, literal, type ImapValue } from '../../message/imapvalue.js';

async function written(f: (w: ResponseWriter) => void): Promise<Buffer> {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const w = new ResponseWriter(s);
  f(w);
  await w.flush();
  return Buffer.concat(chunks);
}

const value: fc.Arbitrary<ImapValue> = fc.letrec<{ v: ImapValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.nat(),
    fc.string({ maxLength: 20 }),
    fc.string({ maxLength: 10, unit: 'grapheme' }),
    fc.stringMatching(/^[A-Z\\]{1,8}$/).map(atom),
    fc.uint8Array({ maxLength: 10 }).map((b) => literal(Buffer.from(b))),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(tie('v'), { maxLength: 3 }).map(concat),
  ),
})).v;

test('property: value() writes what formatImapValueBytes formats, in order with raw writes', async () => {
  await fc.assert(
    fc.asyncProperty(value, fc.boolean(), async (v, utf8) => {
      const got = await written((w) => {
        w.write('* 1 FETCH ');
        w.value(v, utf8);
        w.write(Buffer.from('\r\n'));
      });
      assert.deepEqual(got, Buffer.concat([Buffer.from('* 1 FETCH '), formatImapValueBytes(v, { utf8 }), Buffer.from('\r\n')]));
    }),
  );
});
