/**
 * IMAP authentication: LOGINDISABLED before STARTTLS on a listener that requires TLS, LOGIN and
 * AUTHENTICATE PLAIN (with and without SASL-IR) after STARTTLS, SCRAM-SHA-256 and SCRAM-SHA-1,
 * SCRAM-SHA-256-PLUS on IMAPS (TLS 1.3 channel binding), attempts recorded in auth.db, and the
 * shared failed-login limiter refusing further connections.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { TLSSocket } from 'node:tls';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawImap } from './helpers/imap-client.js';
import { saslClient, tlsExporterBinding } from '../auth/sasl.js';

let ts: TestServer;
const PASS = 'auth pass word';
const USER = 'mjl@example.com';

before(async () => {
  ts = await startTestServer({ imap: true, imapRequireTLS: true, passwords: { mjl: PASS } });
});
after(async () => {
  await ts.stop();
});

async function saslExchange(c: RawImap, mech: string, o: { ir: boolean; channelBinding?: ReturnType<typeof tlsExporterBinding> }) {
  const client = saslClient(mech, { username: USER, password: PASS, ...(o.channelBinding ? { channelBinding: o.channelBinding } : {}) });
  const tag = c.nextTag();
  const ir = o.ir ? await client.initialResponse() : undefined;
  c.write(`${tag} AUTHENTICATE ${mech}${ir ? ' ' + ir.toString('base64') : ''}\r\n`);
  for (;;) {
    const l = await c.line();
    if (l.startsWith(tag + ' ')) return { line: l, client };
    assert.match(l, /^\+ ?/);
    const challenge = Buffer.from(l.slice(2), 'base64');
    const resp = challenge.length === 0 && !ir && mech === 'PLAIN' ? await client.initialResponse() : await client.respond(challenge);
    c.write((resp ?? Buffer.alloc(0)).toString('base64') + '\r\n');
  }
}

test('plain port: LOGINDISABLED and refusals before STARTTLS, logins after', async () => {
  const c = await RawImap.connect(ts.imapPort);
  const greeting = await c.line();
  assert.match(greeting, /LOGINDISABLED/);
  assert.doesNotMatch(greeting, /AUTH=PLAIN/);
  let r = await c.cmd(`LOGIN ${USER} "${PASS}"`);
  assert.equal(r.status, 'NO');
  assert.match(r.text, /PRIVACYREQUIRED/);
  r = await c.cmd(`AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0${PASS}`).toString('base64')}`);
  assert.equal(r.status, 'NO');
  assert.match(r.text, /PRIVACYREQUIRED/);
  await c.starttls([ts.certPem]);
  r = await c.cmd('CAPABILITY');
  assert.match(r.untagged[0]!, /AUTH=PLAIN/);
  assert.doesNotMatch(r.untagged[0]!, /STARTTLS|LOGINDISABLED/);
  const { line } = await saslExchange(c, 'PLAIN', { ir: false });
  assert.match(line, /^t\d+ OK \[CAPABILITY /);
  r = await c.cmd('SELECT INBOX');
  assert.equal(r.status, 'OK');
  c.close();
});

test('SCRAM-SHA-256 and SCRAM-SHA-1 with and without initial response; wrong password fails', async () => {
  for (const [mech, ir] of [
    ['SCRAM-SHA-256', true],
    ['SCRAM-SHA-1', false],
  ] as const) {
    const c = await RawImap.connect(ts.imapsPort, { tls: { ca: [ts.certPem] } });
    await c.line();
    const { line, client } = await saslExchange(c, mech, { ir });
    assert.match(line, /^t\d+ OK /, mech);
    assert.ok(client.serverVerified);
    c.close();
  }
  const c = await RawImap.connect(ts.imapsPort, { tls: { ca: [ts.certPem] } });
  await c.line();
  const r = await c.cmd(`AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0wrong`).toString('base64')}`);
  assert.equal(r.status, 'NO');
  assert.match(r.text, /AUTHENTICATIONFAILED/);
  const cancel = c.nextTag();
  c.write(`${cancel} AUTHENTICATE SCRAM-SHA-256\r\n`);
  assert.match(await c.line(), /^\+/);
  c.write('*\r\n');
  const done = await c.until(cancel);
  assert.equal(done.status, 'BAD');
  c.close();
});

test('SCRAM-SHA-256-PLUS on IMAPS with TLS 1.3 channel binding', async () => {
  const c = await RawImap.connect(ts.imapsPort, { tls: { ca: [ts.certPem] } });
  const greeting = await c.line();
  assert.match(greeting, /AUTH=SCRAM-SHA-256-PLUS/);
  const sock = (c as unknown as { sock: TLSSocket }).sock;
  const cb = tlsExporterBinding(sock);
  assert.ok(cb);
  const { line } = await saslExchange(c, 'SCRAM-SHA-256-PLUS', { ir: true, channelBinding: cb });
  assert.match(line, /^t\d+ OK /);
  c.close();
});

test('attempts are recorded with protocol imap', async () => {
  const page = ts.server.authDb.recentAttempts({ limit: 100 });
  const imap = page.attempts.filter((a) => a.protocol === 'imap');
  assert.ok(imap.some((a) => a.result === 'ok' && a.mechanism === 'SCRAM-SHA-256-PLUS' && a.account === 'mjl'));
  assert.ok(imap.some((a) => a.result === 'badcreds' && a.mechanism === 'PLAIN'));
});

test('over the failed-login limit the connection is refused', async () => {
  const srv = await startTestServer({ imap: true, passwords: { mjl: PASS } });
  try {
    const c = await RawImap.connect(srv.imapPort);
    await c.line();
    let r;
    // 10 failures per minute (fixed window): allow for a window boundary in between.
    for (let i = 0; i < 25; i++) {
      r = await c.cmd(`LOGIN ${USER} "bad${i}"`);
      if (c.isClosed || !/AUTHENTICATIONFAILED/.test(r.text)) break;
    }
    assert.match(r!.text, /UNAVAILABLE/);
    const d = await RawImap.connect(srv.imapPort);
    assert.match(await d.line(), /^\* BYE \[UNAVAILABLE\] too many authentication failures/);
    c.close();
    d.close();
  } finally {
    await srv.stop();
  }
});
