/**
 * Implicit-TLS ports (submissions 465, IMAPS 993, HTTPS) serve their default certificate to a
 * client that sends no SNI, as one connecting by IP address does, and the SNI-selected one to a
 * client that sends a name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { once } from 'node:events';
import { startTestServer } from './helpers/server.js';

async function firstBytes(port: number, servername?: string): Promise<string> {
  // Node sends no SNI when connecting to an IP address without a servername.
  const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
  await once(s, 'secureConnect');
  s.write('GET /webapi/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  const [d] = (await once(s, 'data')) as [Buffer];
  s.destroy();
  return d.toString('utf8');
}

test('implicit TLS without SNI: submissions, IMAPS and HTTPS answer', async (t) => {
  const ts = await startTestServer({
    imap: true,
    listener: { Submissions: { Enabled: true, Port: 0 }, WebAPIHTTPS: { Enabled: true, Port: 0 } },
  });
  t.after(() => ts.stop());
  const https = ts.server.listeners.find((l) => l.service === 'webapis')!.port;
  for (const name of [undefined, 'localhost']) {
    assert.match(await firstBytes(ts.submissionsPort, name), /^220 /);
    assert.match(await firstBytes(ts.imapsPort, name), /^\* OK /);
    assert.match(await firstBytes(https, name), /^HTTP\/1\.1 /);
  }
});
