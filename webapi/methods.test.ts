import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, METHOD_NAMES } from './methods.js';
import { parseFlags, partAtPath } from './messages.js';
import { partStructure as structure, rfc3339Date as parseMessageDate, readableParts } from '../message/readable.js';
import { xdecodeBase64 } from './send.js';
import { ApiError } from './errors.js';
import { parseBuffer } from '../message/part.js';
import { openapiDocument } from './openapi.js';
import { maxSendBody } from './handler.js';

test('method examples satisfy their schemas', () => {
  for (const name of METHOD_NAMES) {
    const m = METHODS[name];
    assert.ok(m.request.safeParse(m.exampleRequest).success, `${name} request`);
    if (m.response) assert.ok(m.response.safeParse(m.exampleResponse).success, `${name} response`);
  }
});

test('requests: unknown fields refused, null and absent fields allowed (Go zero values)', () => {
  const s = METHODS.Send.request;
  assert.equal(s.safeParse({ Bogus: 1 }).success, false);
  assert.equal(s.safeParse({ To: null, CC: null, Date: null, RequireTLS: null, Extra: null, Headers: null }).success, true);
  assert.equal(s.safeParse({ Date: 'yesterday' }).success, false);
  assert.equal(s.safeParse({ Date: '2026-01-02T03:04:05.123+01:00' }).success, true);
  assert.equal(s.safeParse({ Headers: [['a']] }).success, false);
  assert.equal(METHODS.MessageGet.request.safeParse({ MsgID: 1.5 }).success, false);
  assert.equal(METHODS.MessageGet.request.safeParse({ MsgID: '1' }).success, false);
});

test('flags: system flags and keywords case-insensitive, invalid ones refused', () => {
  assert.deepEqual(parseFlags(['\\Seen', '\\ANSWERED', '$Junk', 'Custom']), { flags: ['seen', 'answered'], keywords: ['$junk', 'custom'] });
  for (const bad of ['\\recent', 'with space', 'q"uote', 'ünicode', '']) assert.throws(() => parseFlags([bad]), (e: ApiError) => e.code === 'user', bad);
});

test('parts: 0-based paths into multipart children; structure; readable parts', () => {
  const msg = Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="=?utf-8?q?f=C3=BC.txt?="\r\n\r\nt\r\n--b--\r\n');
  const root = parseBuffer(msg);
  assert.equal(partAtPath(root, []), root);
  assert.equal(partAtPath(root, [1]).mediaSubType, 'PLAIN');
  assert.throws(() => partAtPath(root, [2]), (e: ApiError) => e.code === 'partNotFound');
  assert.throws(() => partAtPath(root, [0, 0]), (e: ApiError) => e.code === 'partNotFound');
  const s = structure(root);
  assert.equal(s.Parts[1]!.Filename, 'fü.txt');
  assert.equal(s.Parts[1]!.ContentDisposition, 'attachment');
  const r = readableParts(root);
  assert.equal(r.text, undefined);
  assert.equal(r.html?.mediaSubType, 'HTML');
  assert.equal(parseMessageDate('Sat, 21 Nov 2026 12:00:00 +0000 (UTC)'), '2026-11-21T12:00:00.000Z');
  assert.equal(parseMessageDate('garbage'), null);
});

test('base64 file data is validated', () => {
  assert.equal(xdecodeBase64('aGk=', 'f').toString(), 'hi');
  assert.equal(xdecodeBase64('aG\r\nk=', 'f').toString(), 'hi');
  for (const bad of ['aGk', 'a*k=', 'aGk=aGk=', '====']) assert.throws(() => xdecodeBase64(bad, 'f'), (e: ApiError) => e.code === 'user', bad);
});

test('openapi document: every method, components for every schema', () => {
  const d = openapiDocument('/webapi/', 'x') as { paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { $ref?: string } }> } } }>; components: { schemas: Record<string, unknown> } };
  assert.equal(Object.keys(d.paths).length, METHOD_NAMES.length);
  for (const [path, item] of Object.entries(d.paths)) {
    const ref = item.post.requestBody.content['application/json']!.schema.$ref!;
    assert.ok(d.components.schemas[ref.replace('#/components/schemas/', '')], path);
  }
  assert.ok(!JSON.stringify(d).includes('__shared'));
  assert.ok(maxSendBody(100) > 100 * 4 / 3);
});
