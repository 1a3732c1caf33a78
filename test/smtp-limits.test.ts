/**
 * Protection on incoming SMTP: per-IP concurrency, connection rate, message and byte volume
 * limits (421 4.7.0 / 452 4.2.2), the delay before refusing unknown recipients, the error limit,
 * and the metrics endpoint counting what happened (checked with curl).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const MSG = 'From: <s@remote.example>\r\nSubject: limits\r\n\r\nbody\r\n';

async function connected(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect(port);
  return c;
}

test('concurrent connections over the per-IP limit get 421 4.7.0', async () => {
  const ts = await startTestServer({ smtpLimits: { concurrentConnections: [2, 2, 2] } });
  servers.push(ts);
  const a = await connected(ts.smtpPort);
  const b = await connected(ts.smtpPort);
  assert.equal((await a.reply()).code, 220);
  assert.equal((await b.reply()).code, 220);
  const c = await connected(ts.smtpPort);
  const r = await c.reply();
  assert.deepEqual([r.code, r.enhanced], [421, '4.7.0']);
  await c.closedByServer();
  // QUIT releases the slot before the 221 reaches the client, so a new connection gets in.
  assert.equal((await a.cmd('QUIT')).code, 221);
  const d = await connected(ts.smtpPort);
  assert.equal((await d.reply()).code, 220);
  d.close();
  b.close();
});

test('connection rate and message/byte volume limits', async () => {
  const ts = await startTestServer({
    smtpLimits: { connectionsPerMinute: [3, 3, 3], messagesPerMinute: [2, 2, 2], mibPerMinute: [1, 1, 1] },
  });
  servers.push(ts);
  const c = await connected(ts.smtpPort);
  assert.equal((await c.reply()).code, 220);
  await c.cmd('EHLO client.example');
  assert.equal((await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG)).code, 250);
  // 1 MiB per minute: a message that brings the total over it is refused temporarily.
  const big = await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG + 'x'.repeat(998).concat('\r\n').repeat(1100));
  assert.deepEqual([big.code, big.enhanced], [452, '4.2.2']);
  assert.equal((await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG)).code, 250);
  const third = await c.cmd('MAIL FROM:<s@remote.example>');
  assert.deepEqual([third.code, third.enhanced], [452, '4.2.2'], 'two messages per minute');
  c.close();
  // Three connections per minute: the first one above, two more, then refused.
  for (let i = 0; i < 2; i++) {
    const x = await connected(ts.smtpPort);
    assert.equal((await x.reply()).code, 220);
    x.close();
  }
  const refused = await connected(ts.smtpPort);
  const r = await refused.reply();
  assert.deepEqual([r.code, r.enhanced], [421, '4.7.0']);
});

test('unknown recipients are refused after a delay (slows down address harvesting)', async () => {
  const ts = await startTestServer({ unknownRecipientDelayMs: 150 });
  servers.push(ts);
  const c = await connected(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<s@remote.example>');
  const t0 = Date.now();
  const r = await c.cmd('RCPT TO:<nobody@example.com>');
  assert.deepEqual([r.code, r.enhanced], [550, '5.1.1']);
  assert.ok(Date.now() - t0 >= 150, 'refusal delayed');
  assert.equal((await c.cmd('RCPT TO:<mjl@example.com>')).code, 250);
  c.close();
});

test('ten bad commands close the connection with 421 4.7.0', async () => {
  const ts = await startTestServer();
  servers.push(ts);
  const c = await connected(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  await c.cmd('MAIL FROM:<s@remote.example>');
  for (let i = 0; i < 9; i++) assert.equal((await c.cmd(`RCPT TO:<nobody${i}@example.com>`)).code, 550);
  const last = await c.cmd('RCPT TO:<nobody9@example.com>');
  assert.equal(last.code, 550);
  const bye = await c.reply();
  assert.deepEqual([bye.code, bye.enhanced], [421, '4.7.0']);
  await c.closedByServer();
});

test('metrics endpoint shows connection, recipient and message counters (curl)', async () => {
  const ts = await startTestServer({ listener: { MetricsHTTP: { Enabled: true, Port: 0 } } });
  servers.push(ts);
  const port = ts.server.listeners.find((l) => l.service === 'metrics')!.port;
  const c = await connected(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  assert.equal((await sendRaw(c, 's@remote.example', ['mjl@example.com'], MSG)).code, 250);
  await c.cmd('MAIL FROM:<s@remote.example>');
  await c.cmd('RCPT TO:<nobody@example.com>');
  c.close();
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('curl', ['-sS', '--fail', `http://127.0.0.1:${port}/metrics`]);
    let s = '';
    p.stdout.on('data', (d) => (s += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`curl exited ${code}`))));
  });
  assert.match(out, /moxts_smtp_connections_total\{service="smtp",result="accepted"\} 1/);
  assert.match(out, /moxts_smtp_messages_total\{service="smtp",result="accepted"\} 1/);
  assert.match(out, /moxts_smtp_recipients_total\{service="smtp",result="unknown-user"\} 1/);
  assert.match(out, /moxts_smtp_delivery_duration_seconds_count\{service="smtp"\} 1/);
});

test('an idle client is told 421 4.4.2 and disconnected', async () => {
  const ts = await startTestServer({ smtpCommandTimeoutMs: 300 });
  servers.push(ts);
  const c = await connected(ts.smtpPort);
  assert.equal((await c.reply()).code, 220);
  await c.cmd('EHLO client.example');
  // Say nothing more: the server's timeout reply arrives on its own.
  const r = await c.reply();
  assert.deepEqual([r.code, r.enhanced], [421, '4.4.2']);
  await c.closedByServer();
});
