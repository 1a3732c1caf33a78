import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBuffer } from './part.js';
import { partStructure, readableParts, readableText, rfc3339Date } from './readable.js';

const MSG = Buffer.from(
  [
    'From: a@example.com',
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: multipart/alternative; boundary=c',
    '',
    '--c',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=E9',
    '--c',
    'Content-Type: text/html',
    '',
    '<p>hi</p>',
    '--c--',
    '--b',
    'Content-Type: text/plain; name="=?utf-8?q?r=C3=A9sum=C3=A9.txt?="',
    'Content-Disposition: ATTACHMENT',
    '',
    'not readable',
    '--b--',
    '',
  ].join('\r\n'),
);

test('structure: lower-case types and dispositions, rfc2047 file names decoded, multipart children', () => {
  const s = partStructure(parseBuffer(MSG));
  assert.equal(s.ContentType, 'multipart/mixed');
  assert.deepEqual(s.Parts.map((p) => p.ContentType), ['multipart/alternative', 'text/plain']);
  assert.deepEqual(s.Parts[0]!.Parts.map((p) => p.ContentType), ['text/plain', 'text/html']);
  assert.equal(s.Parts[1]!.ContentDisposition, 'attachment');
  assert.equal(s.Parts[1]!.Filename, 'résumé.txt');
  assert.equal(s.Parts[0]!.Parts[0]!.ContentTypeParams['charset'], 'iso-8859-1');
});

test('readable parts skip attachments; text is decoded (transfer encoding and charset)', async () => {
  const root = parseBuffer(MSG);
  const { text, html } = readableParts(root);
  const read = async (a: number, b: number) => MSG.subarray(a, b);
  assert.equal(await readableText(read, text!), 'café');
  assert.equal(await readableText(read, html!), '<p>hi</p>');
});

test('text is capped at the limit after CRLF → LF, on a character boundary, also for quoted-printable', async () => {
  const max = 10_000;
  // Each "é" is 6 raw bytes in QP (=C3=A9) and 2 bytes of UTF-8: the raw body is 3× the text.
  const body = ('=C3=A9'.repeat(30) + '\r\n').repeat(Math.ceil((max * 1.5) / 61));
  const msg = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${body}`);
  const root = parseBuffer(msg);
  const t = await readableText(async (a, b) => msg.subarray(a, b), root, max);
  assert.ok(Buffer.byteLength(t) <= max);
  assert.ok(Buffer.byteLength(t) > max - 4, `close to the cap: ${Buffer.byteLength(t)}`);
  assert.equal(t.includes('\r'), false);
  assert.equal(t.includes('\ufffd'), false);
});

test('Date as RFC 3339, comments ignored; null when missing or unparsable', () => {
  assert.equal(rfc3339Date('Sat, 21 Nov 2026 12:00:00 +0100 (CET)'), '2026-11-21T11:00:00.000Z');
  assert.equal(rfc3339Date(undefined), null);
  assert.equal(rfc3339Date('someday'), null);
});
