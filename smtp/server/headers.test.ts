import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivedHeader, returnPathHeader, withProtocol } from './headers.js';
import { parseBuffer } from '../../message/part.js';

const date = new Date(Date.UTC(2026, 10, 21, 12, 0, 0));

test('Received header with TLS clause and single recipient', () => {
  const h = receivedHeader({
    helo: 'client.example',
    esmtp: true,
    remoteIP: '192.0.2.1',
    remoteHost: 'mx.client.example',
    hostname: 'mail.example.com',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    authenticated: false,
    smtputf8: false,
    id: 'abc123',
    forAddress: { localpart: 'bob', domain: 'example.com', domainUnicode: 'example.com' },
    date,
  });
  assert.equal(
    h,
    'Received: from client.example (mx.client.example [192.0.2.1])\r\n\tby mail.example.com with ESMTPS id abc123\r\n\tfor <bob@example.com>\r\n\ttls TLS_AES_256_GCM_SHA384 (TLSv1.3); Sat, 21 Nov 2026 12:00:00 +0000\r\n',
  );
  // It parses as one header field.
  const p = parseBuffer(Buffer.from(h + 'Subject: x\r\n\r\nbody\r\n'));
  assert.equal(p.bodyOffset, Buffer.byteLength(h) + 'Subject: x\r\n\r\n'.length);
});

test('client-supplied HELO cannot inject header lines', () => {
  const h = receivedHeader({ helo: 'evil\r\nX-Injected: 1', esmtp: false, remoteIP: '2001:db8::1', hostname: 'h', authenticated: false, smtputf8: false, id: 'i', date });
  assert.ok(!/\r\nX-Injected/.test(h));
  assert.match(h, /\[IPv6:2001:db8::1\]/);
  assert.match(h, /with SMTP id i; /);
});

test('with protocols per rfc3848 and rfc6531', () => {
  assert.equal(withProtocol({ esmtp: true, tls: undefined, authenticated: true, smtputf8: false }), 'ESMTPA');
  assert.equal(withProtocol({ esmtp: true, tls: { version: '', cipher: '' }, authenticated: true, smtputf8: true }), 'UTF8SMTPSA');
  assert.equal(returnPathHeader(undefined), 'Return-Path: <>\r\n');
});
