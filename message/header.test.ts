import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCharset } from './charset.js';
import { parseHeader, parseParamValue } from './header.js';

describe('parseHeader (rfc5322:2.2)', () => {
  const raw = Buffer.from('Subject: hello\r\n  world\r\nTO: a@b\r\nX-Empty:\r\nto: c@d\r\nnot a field\r\nX-8: Gr\xfc\xdfe\r\n\r\nbody\r\n', 'latin1');
  const h = parseHeader(raw);
  it('unfolds and looks up case-insensitively', () => {
    assert.equal(h.get('subject'), 'hello  world');
    assert.equal(h.get('To'), 'a@b');
    assert.deepEqual(h.getAll('to'), ['a@b', 'c@d']);
    assert.equal(h.get('x-empty'), '');
    assert.equal(h.get('missing'), undefined);
    assert.ok(h.has('X-EMPTY'));
  });
  it('keeps fields in order with raw bytes, stops at the blank line', () => {
    assert.deepEqual(h.fields.map((f) => f.name), ['Subject', 'TO', 'X-Empty', 'to', '', 'X-8']);
    assert.equal(h.fields[0]!.raw.toString(), 'Subject: hello\r\n  world\r\n');
    assert.equal(Buffer.concat(h.fields.map((f) => f.raw)).length, raw.indexOf('\r\n\r\n') + 2);
  });
  it('decodes 8-bit values as UTF-8, else latin1', () => {
    assert.equal(h.get('x-8'), 'Grüße');
    assert.equal(parseHeader(Buffer.from('X: Grüße\n')).get('x'), 'Grüße');
  });
  it('selectRaw for HEADER.FIELDS and HEADER.FIELDS.NOT (rfc9051:6.4.5)', () => {
    assert.equal(h.selectRaw(['to']).toString(), 'TO: a@b\r\nto: c@d\r\n\r\n');
    assert.equal(h.selectRaw(['subject', 'to', 'x-8'], true).toString(), 'X-Empty:\r\n\r\n');
  });
  it('handles LF-only, no trailing newline, leading continuation', () => {
    const l = parseHeader(Buffer.from(' cont\nA: 1\n b\nB: 2'));
    assert.equal(l.get('a'), '1 b');
    assert.equal(l.get('b'), '2');
    assert.equal(l.fields[0]!.name, '');
  });
});

describe('parseParamValue (rfc2045:5.1, rfc2231)', () => {
  const p = (s: string) => parseParamValue(s, decodeCharset);
  it('tokens, quoted strings, comments, case', () => {
    assert.deepEqual(p('text/plain; CharSet="utf-8" (comment); format=flowed'), { value: 'text/plain', params: { charset: 'utf-8', format: 'flowed' } });
    assert.deepEqual(p('multipart/mixed; boundary="a;b\\"c"'), { value: 'multipart/mixed', params: { boundary: 'a;b"c' } });
  });
  it('rfc2231 continuations, charsets and languages', () => {
    assert.deepEqual(p("attachment; filename*=iso-8859-1'en'%E4rger.txt").params, { filename: 'ärger.txt' });
    assert.deepEqual(p("x; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"").params, {
      title: "This is even more ***fun*** isn't it!",
    });
    assert.deepEqual(p('x; name*1=" b"; name*0="a"').params, { name: 'a b' });
    // The extended form wins over a plain one (rfc2231:4, for agents that understand it).
    assert.deepEqual(p("x; name=plain; name*=utf-8''%E2%82%AC").params, { name: '€' });
    assert.equal(p("x; name*=utf-8''%E2%82%AC").params['name'], '€');
  });
  it('lenient on garbage', () => {
    assert.deepEqual(p('text/plain; ; novalue; a=1; b="unterminated'), { value: 'text/plain', params: { a: '1', b: 'unterminated' } });
    assert.deepEqual(p('').value, '');
  });
});
