import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCommand } from './command.js';
import { ImapError } from '../errors.js';

const parse = (s: string | Buffer) => parseCommand(Buffer.isBuffer(s) ? s : Buffer.from(s + '\r\n'));

test('simple commands and tags', () => {
  const r = parse('a1 NOOP');
  assert.ok(r.ok);
  assert.equal(r.tag, 'a1');
  assert.deepEqual(r.command, { name: 'NOOP' });
  const bad = parse('a1 NOOP extra');
  assert.ok(!bad.ok);
  assert.equal(bad.tag, 'a1');
  const notag = parse('');
  assert.ok(!notag.ok);
  assert.equal(notag.tag, undefined);
  const plus = parse('+a NOOP');
  assert.ok(!plus.ok && plus.tag === undefined);
});

test('LOGIN with quoted, atom and literal strings', () => {
  const r = parse('x LOGIN "mjl@example.com" "pa\\"ss\\\\"');
  assert.ok(r.ok && r.command.name === 'LOGIN');
  assert.equal(r.command.username, 'mjl@example.com');
  assert.equal(r.command.password, 'pa"ss\\');
  const lit = parseCommand(Buffer.from('x LOGIN {3}\r\nabc {4+}\r\nd ef\r\n'));
  assert.ok(lit.ok && lit.command.name === 'LOGIN');
  assert.equal(lit.command.username, 'abc');
  assert.equal(lit.command.password, 'd ef');
});

test('SELECT with CONDSTORE and QRESYNC parameters', () => {
  const r = parse('a SELECT INBOX (QRESYNC (67890007 715194045000 41:211,214:541) CONDSTORE)');
  assert.ok(r.ok && r.command.name === 'SELECT');
  assert.equal(r.command.condstore, true);
  assert.equal(r.command.qresync?.uidValidity, 67890007);
  assert.equal(r.command.qresync?.modseq, 715194045000);
  assert.deepEqual(r.command.qresync?.knownUids, { kind: 'ranges', ranges: [{ first: 41, last: 211 }, { first: 214, last: 541 }] });
});

test('FETCH attributes, macros, sections, partials, modifiers', () => {
  const r = parse('a UID FETCH 1:*,$ (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[2] BINARY.SIZE[1] RFC822.SIZE BODY[]) (CHANGEDSINCE 12 VANISHED)');
  assert.ok(!r.ok); // "$" inside a list of ranges is not a sequence-set
  const r2 = parse('a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100> BINARY[2] BINARY.SIZE[1] RFC822.SIZE BODY[]) (CHANGEDSINCE 12 VANISHED)');
  assert.ok(r2.ok && r2.command.name === 'FETCH');
  assert.equal(r2.command.uid, true);
  assert.equal(r2.command.changedSince, 12);
  assert.equal(r2.command.vanished, true);
  assert.deepEqual(r2.command.atts, [
    { kind: 'FLAGS' },
    { kind: 'BODY[]', section: { part: [1, 2], text: 'HEADER.FIELDS', fields: ['From', 'To'] }, peek: true, partial: { offset: 0, count: 100 } },
    { kind: 'BINARY[]', part: [2], peek: false },
    { kind: 'BINARY.SIZE', part: [1] },
    { kind: 'RFC822.SIZE' },
    { kind: 'BODY[]', section: { part: [] }, peek: false },
  ]);
  const m = parse('a FETCH $ FAST');
  assert.ok(m.ok && m.command.name === 'FETCH' && m.command.atts.length === 3 && m.command.set.kind === 'saved');
  assert.ok(!parse('a FETCH 1 BODY[MIME]').ok);
  assert.ok(!parse('a FETCH 1 (FLAGS').ok);
  assert.ok(!parse('a FETCH 1 FLAGS (VANISHED)').ok);
});

test('STORE and SEARCH', () => {
  const r = parse('a UID STORE 1:3 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $Junk)');
  assert.ok(r.ok && r.command.name === 'STORE');
  assert.deepEqual([r.command.mode, r.command.silent, r.command.flags, r.command.unchangedSince], ['add', true, ['\\Seen', '$Junk'], 5]);
  const s = parse('a SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR (FROM "x" UNSEEN) NOT 1:5 SINCE 1-Feb-1994 HEADER X-Y "" MODSEQ 5');
  assert.ok(s.ok && s.command.name === 'SEARCH');
  assert.deepEqual(s.command.ret, ['MIN', 'COUNT', 'SAVE']);
  assert.equal(s.command.program.charset, 'UTF-8');
  assert.deepEqual(s.command.program.keys, [
    { kind: 'or', a: { kind: 'and', keys: [{ kind: 'header', field: 'from', value: 'x' }, { kind: 'flag', flag: 'seen', set: false }] }, b: { kind: 'not', key: { kind: 'seq', set: { kind: 'ranges', ranges: [{ first: 1, last: 5 }] } } } },
    { kind: 'date', which: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
    { kind: 'header', field: 'X-Y', value: '' },
    { kind: 'modseq', modseq: 5 },
  ]);
  assert.ok(!parse('a SEARCH').ok);
  assert.ok(!parse('a SEARCH (((').ok);
});

test('LIST extended, STATUS, APPEND multi', () => {
  const l = parse('a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Work/%") RETURN (CHILDREN STATUS (MESSAGES SIZE))');
  assert.ok(l.ok && l.command.name === 'LIST');
  assert.deepEqual(l.command.select, ['SUBSCRIBED', 'RECURSIVEMATCH']);
  assert.deepEqual(l.command.patterns, ['INBOX', 'Work/%']);
  assert.deepEqual(l.command.status, ['MESSAGES', 'SIZE']);
  const a = parseCommand(Buffer.from('a APPEND Drafts (\\Draft) " 1-Jan-2020 10:00:00 +0100" {2+}\r\nab ~{1+}\r\n\u0000\r\n'));
  assert.ok(a.ok && a.command.name === 'APPEND');
  assert.equal(a.command.messages.length, 2);
  assert.equal(a.command.messages[0]!.date?.toISOString(), '2020-01-01T09:00:00.000Z');
  assert.equal(a.command.messages[1]!.binary, true);
});

test('property: the parser never throws and errors are BAD ImapErrors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = parseCommand(Buffer.from(bytes));
      if (!r.ok) assert.ok(r.error instanceof ImapError && r.error.kind === 'BAD');
    }),
    { numRuns: 3000 },
  );
  const words = ['a', ' ', 'UID', 'FETCH', 'SEARCH', 'STORE', '(', ')', '"', '{3}\r\n', '{2+}\r\n', '1:*', '$', 'BODY[', ']', '<1.2>', 'NOT', 'OR', 'FLAGS', '\\Seen', 'LIST', 'APPEND', 'SELECT', 'QRESYNC', '~{1}\r\n', 'x'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...words), { maxLength: 40 }), (parts) => {
      const r = parseCommand(Buffer.from(parts.join('') + '\r\n'));
      if (!r.ok) assert.ok(r.error instanceof ImapError);
    }),
    { numRuns: 3000 },
  );
});
