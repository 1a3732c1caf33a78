import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { parseForm, parseMultipart, parseUrlencoded, parseContentType, readBody } from './body.js';
import { HttpError } from './errors.js';

test('urlencoded forms: repeated fields, plus as space, bad escapes kept', () => {
  const f = parseUrlencoded(Buffer.from('request=%7B%22a%22%3A1%7D&x=1&x=2&s=a+b&bad=%zz'));
  assert.equal(f.fields.get('request')![0], '{"a":1}');
  assert.deepEqual(f.fields.get('x'), ['1', '2']);
  assert.equal(f.fields.get('s')![0], 'a b');
  assert.equal(f.fields.get('bad')![0], '%zz');
});

test('multipart forms: fields and files with their part headers', () => {
  const body = [
    '--B',
    'Content-Disposition: form-data; name="request"',
    '',
    '{"x": 1}',
    '--B',
    'Content-Disposition: form-data; name="attachedfile"; filename="na\u00efve.txt"',
    'Content-Type: text/plain',
    'Content-ID: <c1@x>',
    '',
    'line1\r\nline2',
    '--B',
    'Content-Disposition: form-data; name="inlinefile"; filename*=utf-8\'\'%E2%82%AC.bin',
    '',
    '\x00\x01',
    '--B',
    'Content-Disposition: inline; name="ignored"',
    '',
    'x',
    '--B--',
    '',
  ].join('\r\n');
  const f = parseMultipart(Buffer.from(body, 'utf8'), 'B');
  assert.equal(f.fields.get('request')![0], '{"x": 1}');
  assert.equal(f.fields.has('ignored'), false);
  assert.equal(f.files.length, 2);
  assert.deepEqual({ ...f.files[0]!, data: f.files[0]!.data.toString() }, { field: 'attachedfile', filename: 'na\u00efve.txt', contentType: 'text/plain', contentId: '<c1@x>', data: 'line1\r\nline2' });
  assert.equal(f.files[1]!.filename, '\u20ac.bin');
  assert.deepEqual([...f.files[1]!.data], [0, 1]);
});

test('multipart forms: missing or unused boundary is a 400', () => {
  assert.throws(() => parseMultipart(Buffer.from('x'), ''), HttpError);
  assert.throws(() => parseMultipart(Buffer.from('no parts here'), 'B'), (e: HttpError) => e.status === 400);
  assert.throws(() => parseForm('multipart/form-data', Buffer.from('')), HttpError);
  assert.equal(parseForm('text/plain', Buffer.from('')), undefined);
  assert.equal(parseContentType('garbage'), undefined);
  assert.deepEqual(parseContentType('Multipart/Form-Data; boundary="a b"'), { type: 'multipart/form-data', params: { boundary: 'a b' } });
});

test('readBody: limit by Content-Length and by streamed size', async () => {
  const results: Array<number | string> = [];
  const srv = createServer((req, res) => {
    readBody(req, 10).then(
      (b) => {
        results.push(b.length);
        res.end('ok');
      },
      (e: HttpError) => {
        results.push(e.status);
        res.writeHead(e.status, { Connection: 'close' }).end();
      },
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const send = (body: string, chunked: boolean) =>
    new Promise<number>((resolve) => {
      const r = httpRequest({ port, host: '127.0.0.1', method: 'POST', headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      r.on('error', () => resolve(-1));
      r.end(body);
    });
  assert.equal(await send('0123456789', false), 200);
  assert.equal(await send('0123456789x', false), 413);
  assert.equal(await send('0123456789x', true), 413);
  srv.close();
  assert.deepEqual(results, [10, 413, 413]);
});
