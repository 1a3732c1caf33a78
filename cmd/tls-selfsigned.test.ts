import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createServer, connect } from 'node:tls';
import { once } from 'node:events';
import { generateSelfSignedCert } from './tls-selfsigned.js';

test('self-signed cert names localhost and 127.0.0.1 and serves a TLS handshake', async () => {
  const { certPem, keyPem } = await generateSelfSignedCert(['localhost', '127.0.0.1']);
  const x = new X509Certificate(certPem);
  assert.ok(x.checkHost('localhost'));
  assert.ok(x.checkIP('127.0.0.1'));
  const years = (Date.parse(x.validTo) - Date.now()) / (365 * 86_400_000);
  assert.ok(years > 3.9 && years < 4.1, `validity ${years} years`);
  assert.equal(createPrivateKey(keyPem).asymmetricKeyType, 'ec');
  const server = createServer({ cert: certPem, key: keyPem }, (s) => s.end('hi'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const sock = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: [certPem] });
  const [data] = await once(sock, 'data');
  assert.equal(String(data), 'hi');
  assert.ok(sock.authorized);
  sock.destroy();
  server.close();
});
