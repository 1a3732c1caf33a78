// auth/md5.ts against node:crypto: MD5 resumed from a saved block state and HMAC-MD5 from the
// CRAM-MD5 key states give the same bytes as createHash/createHmac, for any key and data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hmacMd5FromStates, hmacMd5States, md5Resume, md5StateAfterBlock } from './md5.js';

const IV = Buffer.from('0123456789abcdeffedcba9876543210', 'hex'); // A, B, C, D little-endian

test('md5 from the initial state equals crypto md5 (rfc1321 test suite and random data)', () => {
  for (const [input, hex] of [
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
  ] as const) {
    assert.equal(md5Resume(IV, 0, Buffer.from(input)).toString('hex'), hex);
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
      assert.equal(md5Resume(IV, 0, Buffer.from(d)).toString('hex'), createHash('md5').update(d).digest('hex'));
    }),
  );
});

test('md5 resumed after a first block equals md5 of the whole input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 200 }), (block, rest) => {
      const whole = createHash('md5').update(block).update(rest).digest('hex');
      assert.equal(md5Resume(md5StateAfterBlock(Buffer.from(block)), 64, Buffer.from(rest)).toString('hex'), whole);
    }),
  );
});

test('HMAC-MD5 from the key states equals crypto hmac (rfc2104 vector, short and >64-byte keys)', () => {
  // rfc2104 appendix: key 0x0b * 16, "Hi There".
  assert.equal(hmacMd5FromStates(hmacMd5States(Buffer.alloc(16, 0x0b)), Buffer.from('Hi There')).toString('hex'), '9294727a3638bb1c13f48ef8158bfc9d');
  // rfc2195:2 example: password "tanstaaftanstaaf".
  const ch = Buffer.from('<1896.697170952@postoffice.reston.mci.net>');
  assert.equal(hmacMd5FromStates(hmacMd5States(Buffer.from('tanstaaftanstaaf')), ch).toString('hex'), 'b913a602c7eda7a495b4e6e7334d3890');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 150 }), (key, data) => {
      const want = createHmac('md5', Buffer.from(key)).update(data).digest('hex');
      assert.equal(hmacMd5FromStates(hmacMd5States(Buffer.from(key)), Buffer.from(data)).toString('hex'), want);
    }),
  );
});
