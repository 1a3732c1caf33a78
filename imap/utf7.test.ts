// Modified UTF-7 (rfc3501:5.1.3): known vectors, strictness, and round-trip properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeUtf7, encodeUtf7, tryDecodeUtf7, Utf7Error } from './utf7.js';

describe('modified UTF-7', () => {
  it('encodes and decodes the RFC example and common names', () => {
    // rfc3501:5.1.3 example: "~peter/mail/台北/日本語"
    const name = '~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e';
    assert.equal(encodeUtf7(name), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeUtf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), name);
    assert.equal(encodeUtf7('Répertoire'), 'R&AOk-pertoire');
    assert.equal(decodeUtf7('R&AOk-pertoire'), 'Répertoire');
    assert.equal(encodeUtf7('Tom & Jerry'), 'Tom &- Jerry');
    assert.equal(decodeUtf7('Tom &- Jerry'), 'Tom & Jerry');
    assert.equal(encodeUtf7('Inbox'), 'Inbox');
    assert.equal(encodeUtf7('\u{1F600}'), '&2D3eAA-'); // surrogate pair
    assert.equal(decodeUtf7('&2D3eAA-'), '\u{1F600}');
    assert.equal(encodeUtf7('\u043f\u0440\u0435\u0434\u043b\u043e\u0433'), '&BD8EQAQ1BDQEOwQ+BDM-');
  });

  it('refuses invalid input', () => {
    for (const bad of ['&', '&AOk', '&AO-', '&AGE-' /* encoded "a" */, '&2D0-' /* lone high surrogate */, '&AOk-&AOk-', 'é', 'a\tb', '&A*k-', '&AOl-' /* leftover bits */]) {
      assert.throws(() => decodeUtf7(bad), Utf7Error, bad);
      assert.equal(tryDecodeUtf7(bad), null);
    }
  });

  it('round-trips any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const e = encodeUtf7(s);
        assert.match(e, /^[\x20-\x7e]*$/);
        assert.equal(decodeUtf7(e), s);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        // Well-formed UTF-16 only (lone surrogates cannot be valid names).
        if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) return;
        assert.equal(decodeUtf7(encodeUtf7(s)), s);
      }),
      { numRuns: 5000 },
    );
  });

  it('decoding arbitrary ASCII never throws anything but Utf7Error, and valid results re-encode identically', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'&-AZaz09+,/é'.split('')), maxLength: 30 }), (s) => {
        let d: string;
        try {
          d = decodeUtf7(s);
        } catch (e) {
          assert.ok(e instanceof Utf7Error);
          return;
        }
        assert.equal(encodeUtf7(d), s);
      }),
      { numRuns: 10000 },
    );
  });
});
