import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { composeMessage, encodeQuotedPrintable, foldHeader, sniffContentType, ComposeError, type ComposeInput } from './compose.js';
import { parseBuffer, type Part } from './part.js';
import { parseHeader } from './header.js';
import { decodeTransfer, decodeCharset, decodeHeaderValue } from './decode.js';

const base: ComposeInput = { from: { name: 'Mox', address: 'mox@example.com' }, to: [{ address: 'a@example.org' }], messageId: '<id@example.com>', date: new Date('2026-01-02T03:04:05Z') };

function shape(p: Part): string {
  const t = `${p.mediaType}/${p.mediaSubType}`.toLowerCase();
  return p.mediaType === 'MULTIPART' ? `${t}(${p.parts.map(shape).join(',')})` : t;
}

function text(msg: Buffer, p: Part): string {
  return decodeCharset(decodeTransfer(p.contentTransferEncoding, msg.subarray(p.bodyOffset, p.endOffset)), p.contentTypeParams['charset']);
}

test('layout as mox: mixed › related › alternative, levels only when needed', () => {
  const f = (name: string) => ({ name, data: Buffer.from('x') });
  const cases: Array<[Partial<ComposeInput>, string]> = [
    [{ text: 'hi' }, 'text/plain'],
    [{ html: '<p>hi</p>' }, 'text/html'],
    [{ text: 'hi', html: '<p>hi</p>' }, 'multipart/alternative(text/plain,text/html)'],
    [{ text: 'hi', alternativeFiles: [{ name: 'i.ics', contentType: 'text/calendar', data: Buffer.from('BEGIN') }] }, 'multipart/alternative(text/plain,text/calendar)'],
    [{ html: 'h', inlineFiles: [f('a.png')] }, 'multipart/related(text/html,image/png)'],
    [{ text: 't', attachedFiles: [f('a.pdf')] }, 'multipart/mixed(text/plain,application/pdf)'],
    [{ text: 't', html: 'h', inlineFiles: [f('a.gif')], attachedFiles: [f('b.pdf'), f('c.txt')] }, 'multipart/mixed(multipart/related(multipart/alternative(text/plain,text/html),image/gif),application/pdf,text/plain)'],
  ];
  for (const [input, want] of cases) {
    const c = composeMessage({ ...base, ...input });
    assert.equal(shape(parseBuffer(c.message)), want);
    assert.ok(!/(?<!\r)\n/.test(c.message.toString('latin1')), 'CRLF only');
  }
});

test('header fields: encoded words, quoting, references, user agent, no Bcc', () => {
  const c = composeMessage({
    ...base,
    from: { name: 'Jöran, Sr.', address: 'mox@example.com' },
    to: [{ name: 'A "B"', address: 'a@example.org' }, { address: 'b@example.org' }],
    cc: [{ name: 'C', address: 'c@example.org' }],
    replyTo: [{ address: 'r@example.com' }],
    subject: 'Grüße ' + 'long words '.repeat(10),
    references: ['<r1@x>', '<r2@x>'],
    headers: [['X-Custom', 'v']],
    userAgent: 'moxts/1',
    text: 'hi',
  });
  const root = parseBuffer(c.message);
  const h = parseHeader(c.message.subarray(0, root.bodyOffset));
  assert.equal(decodeHeaderValue(h.get('subject')!), 'Grüße ' + 'long words '.repeat(10).trimEnd());
  assert.match(h.get('from')!, /^=\?UTF-8\?Q\?.*\?= <mox@example\.com>$/);
  assert.equal(decodeHeaderValue(h.get('from')!.replace(/ <.*/, '')), 'Jöran, Sr.');
  assert.equal(h.get('to'), '"A \\"B\\"" <a@example.org>, <b@example.org>');
  assert.equal(h.get('in-reply-to'), '<r2@x>');
  assert.equal(h.get('references'), '<r1@x> <r2@x>');
  assert.equal(h.get('x-custom'), 'v');
  assert.equal(h.get('user-agent'), 'moxts/1');
  assert.equal(h.get('date'), 'Fri, 2 Jan 2026 03:04:05 +0000');
  assert.equal(h.has('bcc'), false);
  for (const line of c.message.subarray(0, root.bodyOffset).toString('latin1').split('\r\n')) assert.ok(line.length <= 78 || !line.includes(' '), line);
  assert.equal(c.smtputf8, false);
  // A custom User-Agent or X-Mailer replaces ours.
  const d = composeMessage({ ...base, text: 'x', headers: [['X-Mailer', 'app']], userAgent: 'moxts/1' });
  assert.equal(parseHeader(d.message).has('user-agent'), false);
});

test('refusals: control characters, reserved or bad header names, no body', () => {
  assert.throws(() => composeMessage({ ...base, text: 'x', subject: 'a\r\nBcc: x@y' }), ComposeError);
  assert.throws(() => composeMessage({ ...base, text: 'x', headers: [['X-A', 'v\r\nX-B: w']] }), ComposeError);
  assert.throws(() => composeMessage({ ...base, text: 'x', headers: [['Bad Name', 'v']] }), ComposeError);
  assert.throws(() => composeMessage({ ...base, text: 'x', headers: [['Content-Type', 'text/html']] }), ComposeError);
  assert.throws(() => composeMessage({ ...base, text: 'x', to: [{ name: 'a\nb', address: 'a@b.example' }] }), ComposeError);
  assert.throws(() => composeMessage({ ...base, text: 'x', attachedFiles: [{ contentType: 'no-slash', data: Buffer.from('') }] }), ComposeError);
  assert.throws(() => composeMessage({ ...base }), ComposeError);
});

test('text bodies round-trip through the parser (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ maxLength: 300 }), (t, h) => {
      const tx = t || 'x';
      const c = composeMessage({ ...base, text: tx, html: h || undefined });
      const root = parseBuffer(c.message);
      const plain = root.mediaType === 'MULTIPART' ? root.parts[0]! : root;
      const want = tx.replace(/\r\n|\r|\n/g, '\r\n');
      assert.equal(text(c.message, plain), want.endsWith('\r\n') ? want : want + '\r\n');
      for (const line of c.message.toString('latin1').split('\r\n')) assert.ok(line.length <= 998);
    }),
    { numRuns: 300 },
  );
});

test('files: base64 in 76-character lines, filename params, content-id, sniffing', () => {
  const data = Buffer.alloc(1000, 7);
  const c = composeMessage({ ...base, html: '<img src="cid:i1">', inlineFiles: [{ name: 'ä.png', data: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), data]), contentId: '<i1>' }] });
  const root = parseBuffer(c.message);
  const img = root.parts[1]!;
  assert.equal(`${img.mediaType}/${img.mediaSubType}`, 'IMAGE/PNG');
  assert.equal(img.contentId, '<i1>');
  assert.equal(img.contentDisposition, 'INLINE');
  assert.equal(img.contentDispositionParams['filename'], 'ä.png');
  assert.equal(img.decodedSize, 1008);
  const body = c.message.subarray(img.bodyOffset, img.endOffset).toString('latin1');
  for (const l of body.split('\r\n')) assert.ok(l.length <= 76);
  assert.equal(sniffContentType(Buffer.from('%PDF-1.4'), ''), 'application/pdf');
  assert.equal(sniffContentType(Buffer.from('hello'), ''), 'text/plain; charset=utf-8');
  assert.equal(sniffContentType(Buffer.from([0, 1, 2]), ''), 'application/octet-stream');
  assert.equal(sniffContentType(Buffer.from([0, 1, 2]), 'x.json'), 'application/json');
});

test('quoted-printable: soft breaks, encoded =, trailing space, round trip', () => {
  const s = Buffer.from('a=b ' + 'x'.repeat(200) + ' \r\nnext\tline\t\r\nü', 'utf8');
  const q = encodeQuotedPrintable(s);
  for (const l of q.split('\r\n')) assert.ok(l.length <= 76, l);
  assert.ok(q.startsWith('a=3Db '));
  assert.ok(decodeTransfer('QUOTED-PRINTABLE', Buffer.from(q)).equals(s));
  assert.equal(foldHeader('Subject', 'short'), 'Subject: short\r\n');
});
