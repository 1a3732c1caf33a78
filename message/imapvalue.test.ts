import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readImap } from './testutil.js';
import { atom, concat, formatImapValue, formatImapValueBytes, type ImapValue, literal } from './imapvalue.js';

describe('formatImapValue (rfc9051:4)', () => {
  it('NIL, numbers, atoms, lists, concatenation', () => {
    assert.equal(formatImapValue(null), 'NIL');
    assert.equal(formatImapValue(42), '42');
    assert.equal(formatImapValue(atom('\\Seen')), '\\Seen');
    assert.equal(formatImapValue([1, null, [atom('A'), 'b'], []]), '(1 NIL (A "b") ())');
    assert.equal(formatImapValue([concat([[1], [2]]), 'X']), '((1)(2) "X")');
  });
  it('quoted strings escape backslash and double quote', () => {
    assert.equal(formatImapValue('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(formatImapValue(''), '""');
  });
  it('literals for CR/LF/NUL, non-ASCII without UTF8=ACCEPT, long strings', () => {
    assert.equal(formatImapValue('a\r\nb'), '{4}\r\na\r\nb');
    assert.equal(formatImapValue('a\0'), '{2}\r\na\0');
    assert.equal(formatImapValue('é'), '{2}\r\né');
    assert.equal(formatImapValue('é', { utf8: true }), '"é"');
    assert.equal(formatImapValue('x'.repeat(20), { maxQuoted: 10 }), '{20}\r\n' + 'x'.repeat(20));
    assert.equal(formatImapValue(literal('ab')), '{2}\r\nab');
  });
  it('bytes form keeps binary literals exact', () => {
    assert.deepEqual(formatImapValueBytes(['a', literal(Buffer.from([0xff, 0]))]), Buffer.concat([Buffer.from('("a" {2}\r\n'), Buffer.from([0xff, 0]), Buffer.from(')')]));
  });
});

describe('formatImapValue round trip (property)', () => {
  it('random values format and read back identically, in both modes', () => {
    const val = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.nat(),
        fc.string({ unit: fc.constantFrom('"', '\\', '\r', '\n', ' ', '(', ')', '{', 'é', '€', '😀', 'a', '\0'), maxLength: 20 }),
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.array(tie('v'), { maxLength: 4 }),
      ),
    })).v as fc.Arbitrary<ImapValue>;
    fc.assert(
      fc.property(val, fc.boolean(), fc.integer({ min: 1, max: 30 }), (v, utf8, maxQuoted) => {
        const out = formatImapValue(v, { utf8, maxQuoted });
        assert.deepEqual(readImap(Buffer.from(out, 'utf8'), !utf8), v);
      }),
      { numRuns: 2000 },
    );
  });
});
