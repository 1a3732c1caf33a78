/**
 * deliverToDomain against real servers on 127.0.0.1: a moxts incoming server (test/helpers/server.ts)
 * and scripted sinks (testsink.ts), with MX records from a dns2 server (startTestDns). Every MX host
 * resolves to 127.0.0.1; `portFor` sends each host to its own server.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestDns, type TestDns } from '../../dns/testserver.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { generateSelfSignedCert } from '../../cmd/tls-selfsigned.js';
import { deliverToDomain, type DeliverOptions, type DeliveryResult } from './deliver.js';
import { startSink, closedPort, type Sink, type SinkOptions } from './testsink.js';

let dns: TestDns;
let ts: TestServer;
let sinkCert: { key: string; cert: string };
let tmp: string;
const sinks: Sink[] = [];

const MSG = 'From: <sender@remote.example>\r\nTo: <mjl@example.com>\r\nSubject: hello\r\nMessage-ID: <c1@remote.example>\r\n\r\nHi there.\r\n.leading dot\r\n';

before(async () => {
  const a = { A: ['127.0.0.1'] };
  dns = await startTestDns({
    'example.com': { MX: [{ exchange: 'mail.example.com', priority: 10 }] },
    'mail.example.com': a,
    'sink.example': { MX: [{ exchange: 'mx.sink.example', priority: 10 }] },
    'mx.sink.example': a,
    'implicit.example': a,
    'nullmx.example': { MX: [{ exchange: '.', priority: 0 }] },
    'servfail.example': { servfail: true },
    'two.example': { MX: [{ exchange: 'mx2.two.example', priority: 20 }, { exchange: 'mx1.two.example', priority: 10 }] },
    'mx1.two.example': a,
    'mx2.two.example': a,
    'dangling.example': { MX: [{ exchange: 'nowhere.dangling.example', priority: 10 }] },
  });
  ts = await startTestServer();
  const c = await generateSelfSignedCert(['mx.sink.example', 'localhost']);
  sinkCert = { key: c.keyPem, cert: c.certPem };
  tmp = mkdtempSync(join(tmpdir(), 'moxts-client-'));
});

after(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await ts.stop();
  await dns.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function sink(o: SinkOptions = {}): Promise<Sink> {
  const s = await startSink(o);
  sinks.push(s);
  return s;
}

function opts(o: Partial<DeliverOptions> & Pick<DeliverOptions, 'domain'>): DeliverOptions {
  return {
    mailFrom: 'sender@remote.example',
    recipients: [{ address: 'mjl@example.com' }],
    message: Buffer.from(MSG),
    size: MSG.length,
    smtputf8: false,
    has8bit: false,
    requireTLS: false,
    ehloHostname: 'client.remote.example',
    resolver: dns.resolver,
    // Generous: the machine running the tests may be loaded; tests of timeouts pass their own.
    connectTimeoutMs: 20_000,
    commandTimeoutMs: 20_000,
    dataTimeoutMs: 20_000,
    ...o,
  };
}

function statuses(r: DeliveryResult): string[] {
  return r.recipients.map((x) => `${x.address}:${x.status}:${x.code ?? ''}:${x.enhanced ?? ''}`);
}

function inbox() {
  const a = ts.server.store.account('mjl');
  const mb = a.mailbox('Inbox')!;
  return { a, msgs: a.listMessages(mb.id) };
}

test('delivers via MX to a moxts server with verified STARTTLS; per-recipient results from the real server', async () => {
  const n = inbox().msgs.length;
  const clockTimes = [1_000_000, 1_000_250];
  const r = await deliverToDomain(
    opts({
      domain: 'example.com',
      recipients: [{ address: 'mjl@example.com' }, { address: 'nobody@example.com' }],
      port: ts.smtpPort,
      tlsOptions: { ca: [ts.certPem], verify: true },
      clock: { now: () => clockTimes.shift() ?? 2_000_000 },
    }),
  );
  assert.equal(r.mx, 'mx');
  assert.equal(r.recipients[0]!.status, 'delivered', JSON.stringify(r));
  assert.equal(r.recipients[0]!.code, 250);
  assert.equal(r.recipients[0]!.enhanced, '2.0.0');
  assert.equal(r.recipients[0]!.remoteHost, 'mail.example.com');
  assert.equal(r.recipients[0]!.remoteIP, '127.0.0.1');
  assert.equal(r.recipients[1]!.status, 'permanent');
  assert.equal(r.recipients[1]!.code, 550);
  assert.equal(r.recipients[1]!.enhanced, '5.1.1');
  assert.equal(r.attempts.length, 1);
  const at = r.attempts[0]!;
  assert.equal(at.start, 1_000_000);
  assert.equal(at.durationMs, 250);
  assert.equal(at.error, undefined);
  assert.match(at.tls!.version, /^TLSv1\.[23]$/);
  assert.ok(at.tls!.cipher);
  assert.equal(at.tls!.authorized, true);

  const { a, msgs } = inbox();
  assert.equal(msgs.length, n + 1);
  const raw = (await a.readMessage(msgs[msgs.length - 1]!.id)).toString();
  assert.match(raw, /from client\.remote\.example \(localhost \[127\.0\.0\.1\]\)\r\n\tby mail\.example\.com with ESMTPS id \S+\r\n\tfor <mjl@example\.com>\r\n\ttls TLS_\S+ \(TLSv1\.[23]\);/);
  assert.ok(raw.endsWith('Hi there.\r\n.leading dot\r\n'), 'dot-stuffing undone by the receiver');
});

test('implicit MX: a domain without MX but with an A record is its own mail host', async () => {
  const s = await sink();
  const r = await deliverToDomain(opts({ domain: 'implicit.example', port: s.port }));
  assert.equal(r.mx, 'implicit');
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.recipients[0]!.remoteHost, 'implicit.example');
  assert.equal(s.connections[0]!.messages[0]!.toString(), MSG);
});

test('null MX: permanent 5.1.10 without connecting', async () => {
  const s = await sink();
  const r = await deliverToDomain(opts({ domain: 'nullmx.example', port: s.port }));
  assert.equal(r.mx, 'nullmx');
  assert.deepEqual(statuses(r), ['mjl@example.com:permanent:556:5.1.10']);
  assert.equal(r.attempts.length, 0);
  assert.equal(s.connections.length, 0);
});

test('NXDOMAIN is permanent (5.1.2), SERVFAIL is temporary (4.4.3); no connections', async () => {
  const s = await sink();
  const nx = await deliverToDomain(opts({ domain: 'doesnotexist.example', port: s.port }));
  assert.deepEqual(statuses(nx), ['mjl@example.com:permanent::5.1.2']);
  assert.match(nx.recipients[0]!.message, /NXDOMAIN/);
  const sf = await deliverToDomain(opts({ domain: 'servfail.example', port: s.port }));
  assert.deepEqual(statuses(sf), ['mjl@example.com:temporary::4.4.3']);
  assert.equal(nx.attempts.length + sf.attempts.length, 0);
  assert.equal(s.connections.length, 0);
});

test('an MX host without addresses is a temporary failure', async () => {
  const r = await deliverToDomain(opts({ domain: 'dangling.example', port: 1 }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary::4.4.3']);
  assert.match(r.recipients[0]!.message, /no IP addresses for nowhere\.dangling\.example/);
});

test('falls back to the second MX host when the first refuses the connection', async () => {
  const s2 = await sink();
  const refused = await closedPort();
  const ports: Record<string, number> = { 'mx1.two.example': refused, 'mx2.two.example': s2.port };
  const r = await deliverToDomain(opts({ domain: 'two.example', portFor: (h) => ports[h]! }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.recipients[0]!.remoteHost, 'mx2.two.example');
  assert.deepEqual(r.attempts.map((a) => [a.host, a.port]), [['mx1.two.example', refused], ['mx2.two.example', s2.port]]);
  assert.match(r.attempts[0]!.error!, /ECONNREFUSED/);
  assert.equal(r.attempts[1]!.error, undefined);
});

test('falls back to the second MX host on a 421 greeting, and on a 4xx to MAIL', async () => {
  const s1 = await sink({ greeting: '421 4.3.2 too busy' });
  const s2 = await sink();
  let r = await deliverToDomain(opts({ domain: 'two.example', portFor: (h) => (h === 'mx1.two.example' ? s1.port : s2.port) }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.match(r.attempts[0]!.error!, /greeting: 421 4\.3\.2 too busy/);
  assert.deepEqual(s1.commands, []);

  const m1 = await sink({ mail: () => '451 4.3.0 try later' });
  r = await deliverToDomain(opts({ domain: 'two.example', portFor: (h) => (h === 'mx1.two.example' ? m1.port : s2.port) }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.recipients[0]!.remoteHost, 'mx2.two.example');
  assert.equal(s2.connections.length, 2);
});

test('every host failing temporarily gives the last temporary failure', async () => {
  const s1 = await sink({ greeting: '421 4.3.2 busy one' });
  const s2 = await sink({ greeting: '554 5.7.1 no service here' });
  const r = await deliverToDomain(opts({ domain: 'two.example', portFor: (h) => (h === 'mx1.two.example' ? s1.port : s2.port) }));
  // One host said 4xx: not permanent.
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary:421:4.3.2']);
  assert.equal(r.recipients[0]!.remoteHost, 'mx1.two.example');
  // Both 5xx: permanent.
  const r2 = await deliverToDomain(opts({ domain: 'two.example', port: s2.port }));
  assert.deepEqual(statuses(r2), ['mjl@example.com:permanent:554:5.7.1']);
  assert.equal(r2.attempts.length, 2);
});

test('STARTTLS handshake failure: reconnects to the same IP and delivers in plaintext', async () => {
  const s = await sink({ starttls: 'garbage' });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.attempts.length, 2);
  assert.match(r.attempts[0]!.error!, /TLS handshake/);
  assert.equal(r.attempts[1]!.tls, undefined);
  assert.equal(r.attempts[0]!.ip, r.attempts[1]!.ip);
  assert.ok(s.connections[0]!.commands.includes('STARTTLS'));
  assert.ok(!s.connections[1]!.commands.includes('STARTTLS'));
  assert.equal(s.connections[1]!.messages[0]!.toString(), MSG);
});

test('STARTTLS to a sink with a self-signed certificate: opportunistic (unverified) TLS is used', async () => {
  const s = await sink({ tls: sinkCert });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.attempts[0]!.tls!.authorized, false);
  assert.equal(s.connections[0]!.tls, true);
  // EHLO again after STARTTLS (rfc3207:4.2).
  assert.deepEqual(s.connections[0]!.commands.filter((c) => c.startsWith('EHLO')).length, 2);
});

test('requireTLS: a server without STARTTLS, or a failing handshake, is a temporary failure, no plaintext', async () => {
  const plain = await sink();
  let r = await deliverToDomain(opts({ domain: 'sink.example', port: plain.port, requireTLS: true }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary::4.7.10']);
  assert.match(r.recipients[0]!.message, /does not offer STARTTLS/);
  assert.ok(!plain.commands.some((c) => c.startsWith('MAIL')));

  const broken = await sink({ starttls: 'garbage' });
  r = await deliverToDomain(opts({ domain: 'sink.example', port: broken.port, requireTLS: true }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary::4.7.10']);
  assert.equal(broken.connections.length, 1);

  // The policy hook (MTA-STS/DANE later) can require TLS per host.
  r = await deliverToDomain(opts({ domain: 'sink.example', port: plain.port, tlsPolicy: () => ({ require: true }) }));
  assert.equal(r.recipients[0]!.status, 'temporary');
});

test('STARTTLS refused with 454: continues in plaintext, unless TLS is required', async () => {
  const s = await sink({ starttls: 'refuse' });
  let r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.equal(r.attempts.length, 1);
  assert.equal(s.connections[0]!.messages.length, 1);
  r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, requireTLS: true }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary::4.7.10']);
  assert.match(r.recipients[0]!.message, /454 4\.7\.0/);
});

test('a 552 to RCPT is treated as temporary (rfc5321:4.5.3.1.10); a connection lost after RCPT is temporary for the rest', async () => {
  const s = await sink({ rcpt: (a) => (a.startsWith('ok') ? '250 2.1.5 ok' : '552 5.5.3 too many recipients') });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, recipients: [{ address: 'ok@sink.example' }, { address: 'more@sink.example' }] }));
  assert.deepEqual(statuses(r), ['ok@sink.example:delivered:250:2.0.0', 'more@sink.example:temporary:552:5.5.3']);

  const d = await sink({ rcpt: partialRcpt, data: '421 4.3.2 shutting down' });
  const r2 = await deliverToDomain(opts({ domain: 'sink.example', port: d.port, recipients: [{ address: 'ok@sink.example' }, { address: 'bad@sink.example' }] }));
  assert.deepEqual(statuses(r2), ['ok@sink.example:temporary:421:4.3.2', 'bad@sink.example:permanent:550:5.1.1']);
});

test('connection lost during the RCPTs: rejected recipients stay permanent, the rest become temporary; no other host', async () => {
  for (const pipelining of [true, false]) {
    const s1 = await sink({ rcpt: partialRcpt, ehlo: pipelining ? ['PIPELINING'] : [], closeOn: (l, c) => l.startsWith('RCPT') && c.commands.filter((x) => x.startsWith('RCPT')).length === 3 });
    const s2 = await sink();
    const r = await deliverToDomain(
      opts({
        domain: 'two.example',
        recipients: [{ address: 'ok1@two.example' }, { address: 'bad@two.example' }, { address: 'ok2@two.example' }],
        portFor: (h) => (h === 'mx1.two.example' ? s1.port : s2.port),
      }),
    );
    assert.deepEqual(
      r.recipients.map((x) => `${x.address}:${x.status}`),
      ['ok1@two.example:temporary', 'bad@two.example:permanent', 'ok2@two.example:temporary'],
      `pipelining ${pipelining}`,
    );
    assert.match(r.recipients[0]!.message, /connection closed by remote/);
    assert.equal(s2.connections.length, 0);
  }
});

test('the dial hook replaces the TCP connect (e.g. a SOCKS proxy or a fixed test port)', async () => {
  const s = await sink();
  const dialed: string[] = [];
  const { connect } = await import('node:net');
  const r = await deliverToDomain(
    opts({
      domain: 'sink.example',
      dial: (host, ip, port) => {
        dialed.push(`${host} ${ip} ${port}`);
        const c = connect(s.port, '127.0.0.1');
        return new Promise((res, rej) => c.once('connect', () => res(c)).once('error', rej));
      },
    }),
  );
  assert.equal(r.recipients[0]!.status, 'delivered');
  assert.deepEqual(dialed, ['mx.sink.example 127.0.0.1 25']);
});

const partialRcpt = (addr: string) => (addr.startsWith('ok') ? '250 2.1.5 ok' : addr.startsWith('later') ? '450 4.2.1 mailbox busy' : '550 5.1.1 no such user');

for (const pipelining of [true, false]) {
  test(`per-recipient results in one transaction: 250 / 450 / 550 (${pipelining ? 'pipelined' : 'no pipelining'})`, async () => {
    const s = await sink({ rcpt: partialRcpt, ehlo: pipelining ? undefined : ['SIZE 1000000', '8BITMIME'] });
    const r = await deliverToDomain(
      opts({ domain: 'sink.example', port: s.port, recipients: [{ address: 'ok1@sink.example' }, { address: 'later@sink.example' }, { address: 'bad@sink.example' }, { address: 'ok2@sink.example' }] }),
    );
    assert.deepEqual(statuses(r), ['ok1@sink.example:delivered:250:2.0.0', 'later@sink.example:temporary:450:4.2.1', 'bad@sink.example:permanent:550:5.1.1', 'ok2@sink.example:delivered:250:2.0.0']);
    assert.match(r.recipients[1]!.message, /mailbox busy/);
    assert.equal(s.connections.length, 1);
    assert.equal(s.connections[0]!.messages.length, 1);
    assert.equal(r.attempts[0]!.error, undefined);
  });
}

test('many recipients pipelined: 300 RCPT replies arrive at once and are matched in order', async () => {
  const s = await sink({ rcpt: (a) => (Number(a.split('@')[0]!.slice(1)) % 2 ? '550 5.1.1 no' : '250 2.1.5 ok') });
  const recipients = Array.from({ length: 300 }, (_, i) => ({ address: `r${i}@sink.example` }));
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, recipients }));
  assert.deepEqual(
    r.recipients.map((x) => x.status),
    recipients.map((_, i) => (i % 2 ? 'permanent' : 'delivered')),
  );
  assert.equal(s.connections[0]!.messages.length, 1);
});

test('all recipients rejected: no message sent, results per recipient', async () => {
  const s = await sink({ rcpt: partialRcpt });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, recipients: [{ address: 'later@sink.example' }, { address: 'bad@sink.example' }] }));
  assert.deepEqual(statuses(r), ['later@sink.example:temporary:450:4.2.1', 'bad@sink.example:permanent:550:5.1.1']);
  assert.equal(s.connections[0]!.messages.length, 0);
  assert.match(r.attempts[0]!.error!, /450|550/);
});

test('5xx to MAIL is permanent for all recipients and no other host is tried', async () => {
  const s1 = await sink({ mail: () => '550 5.7.1 sender rejected' });
  const s2 = await sink();
  const r = await deliverToDomain(
    opts({ domain: 'two.example', recipients: [{ address: 'a@two.example' }, { address: 'b@two.example' }], portFor: (h) => (h === 'mx1.two.example' ? s1.port : s2.port) }),
  );
  assert.deepEqual(statuses(r), ['a@two.example:permanent:550:5.7.1', 'b@two.example:permanent:550:5.7.1']);
  assert.equal(s2.connections.length, 0);
  assert.equal(s1.connections[0]!.messages.length, 0);
});

test('4xx at the end of DATA is temporary for the accepted recipients; 5xx permanent', async () => {
  const s = await sink({ rcpt: partialRcpt, dataEnd: '451 4.3.0 queue full' });
  let r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, recipients: [{ address: 'ok1@sink.example' }, { address: 'bad@sink.example' }] }));
  assert.deepEqual(statuses(r), ['ok1@sink.example:temporary:451:4.3.0', 'bad@sink.example:permanent:550:5.1.1']);
  assert.match(r.recipients[0]!.message, /end of data: 451 4\.3\.0 queue full/);

  const s5 = await sink({ dataEnd: '554 5.6.0 message refused' });
  r = await deliverToDomain(opts({ domain: 'sink.example', port: s5.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:permanent:554:5.6.0']);

  const d = await sink({ data: '452 4.3.1 no space' });
  r = await deliverToDomain(opts({ domain: 'sink.example', port: d.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary:452:4.3.1']);
});

test('SIZE: a message over the advertised maximum fails permanently without MAIL; SIZE= sent otherwise', async () => {
  const s = await sink({ ehlo: ['PIPELINING', 'SIZE 50'] });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port }));
  assert.deepEqual(statuses(r), ['mjl@example.com:permanent::5.3.4']);
  assert.match(r.recipients[0]!.message, /exceeds the maximum of 50/);
  assert.ok(!s.commands.some((c) => c.startsWith('MAIL')));

  const ok = await sink({ ehlo: ['SIZE 100000'] });
  await deliverToDomain(opts({ domain: 'sink.example', port: ok.port }));
  assert.ok(ok.commands.includes(`MAIL FROM:<sender@remote.example> SIZE=${MSG.length}`), ok.commands.join('|'));
});

test('SMTPUTF8 needed but not offered: permanent 5.6.7 without MAIL; sent when offered', async () => {
  const s = await sink({ ehlo: ['PIPELINING', '8BITMIME'] });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, smtputf8: true, mailFrom: 'jöran@remote.example' }));
  assert.deepEqual(statuses(r), ['mjl@example.com:permanent::5.6.7']);
  assert.ok(!s.commands.some((c) => c.startsWith('MAIL')));

  const u = await sink();
  const r2 = await deliverToDomain(opts({ domain: 'sink.example', port: u.port, smtputf8: true, has8bit: true, mailFrom: 'jöran@remote.example' }));
  assert.equal(r2.recipients[0]!.status, 'delivered');
  assert.ok(u.commands.includes(`MAIL FROM:<jöran@remote.example> SIZE=${MSG.length} BODY=8BITMIME SMTPUTF8`), u.commands.join('|'));
});

test('DSN parameters only when DSN is advertised', async () => {
  const dsnOpts = {
    domain: 'sink.example',
    recipients: [{ address: 'ok1@sink.example', notify: ['success', 'failure'], orcpt: 'Ok1+x@sink.example' }, { address: 'ok2@sink.example', notify: 'NEVER' }],
    envid: 'env id=1',
    ret: 'HDRS' as const,
  };
  const withDsn = await sink({ ehlo: ['DSN'] });
  await deliverToDomain(opts({ ...dsnOpts, port: withDsn.port }));
  assert.deepEqual(withDsn.commands.filter((c) => /^(MAIL|RCPT)/.test(c)), [
    'MAIL FROM:<sender@remote.example> RET=HDRS ENVID=env+20id+3D1',
    'RCPT TO:<ok1@sink.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Ok1+2Bx@sink.example',
    'RCPT TO:<ok2@sink.example> NOTIFY=NEVER',
  ]);
  const noDsn = await sink({ ehlo: ['PIPELINING'] });
  await deliverToDomain(opts({ ...dsnOpts, port: noDsn.port }));
  assert.deepEqual(noDsn.commands.filter((c) => /^(MAIL|RCPT)/.test(c)), ['MAIL FROM:<sender@remote.example>', 'RCPT TO:<ok1@sink.example>', 'RCPT TO:<ok2@sink.example>']);
});

test('EHLO refused: falls back to HELO and sends without extensions', async () => {
  const s = await sink({ ehloReply: '502 5.5.1 EHLO not implemented' });
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, has8bit: true }));
  assert.equal(r.recipients[0]!.status, 'delivered');
  assert.ok(s.commands.includes('HELO client.remote.example'));
  assert.ok(s.commands.includes('MAIL FROM:<sender@remote.example>'));
});

test('timeouts: a silent server moves on to the next host; a silent end of data is final and temporary', async () => {
  const silent = await sink({ greeting: null });
  const good = await sink();
  // Short enough to keep the test quick, long enough for the good host's replies on a loaded machine.
  let r = await deliverToDomain(opts({ domain: 'two.example', commandTimeoutMs: 1000, portFor: (h) => (h === 'mx1.two.example' ? silent.port : good.port) }));
  assert.deepEqual(statuses(r), ['mjl@example.com:delivered:250:2.0.0']);
  assert.match(r.attempts[0]!.error!, /timeout waiting for reply to greeting/);

  const stuck = await sink({ dataEnd: null });
  const good2 = await sink();
  r = await deliverToDomain(opts({ domain: 'two.example', dataTimeoutMs: 1000, portFor: (h) => (h === 'mx1.two.example' ? stuck.port : good2.port) }));
  assert.deepEqual(statuses(r), ['mjl@example.com:temporary::4.4.1']);
  assert.match(r.recipients[0]!.message, /timeout waiting for reply to end of data/);
  assert.equal(good2.connections.length, 0, 'no second delivery after the message was sent');
});

test('a message file is streamed and arrives byte for byte (with the prefix)', async () => {
  // ~3 MB of lines, many beginning with "." or "..", plus random bytes without bare CR/LF issues.
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) lines.push(i % 3 === 0 ? `.line ${i} ${randomBytes(20).toString('base64')}` : i % 7 === 0 ? '..' : `line ${i} ${randomBytes(30).toString('hex')}`);
  const body = Buffer.from(`Subject: big\r\n\r\n${lines.join('\r\n')}\r\n`);
  const path = join(tmp, 'big.eml');
  writeFileSync(path, body);
  const prefix = Buffer.from('Received: from queue; Sat, 21 Nov 2026 00:00:00 +0000\r\n');
  const s = await sink();
  const r = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, message: path, messagePrefix: prefix, size: prefix.length + body.length }));
  assert.equal(r.recipients[0]!.status, 'delivered');
  const got = s.connections[0]!.messages[0]!;
  assert.equal(got.length, prefix.length + body.length);
  assert.ok(got.equals(Buffer.concat([prefix, body])));

  // The same file to moxts.
  const n = inbox().msgs.length;
  const r2 = await deliverToDomain(opts({ domain: 'example.com', port: ts.smtpPort, message: path, size: body.length }));
  assert.equal(r2.recipients[0]!.status, 'delivered', JSON.stringify(r2.recipients));
  const { a, msgs } = inbox();
  assert.equal(msgs.length, n + 1);
  assert.ok((await a.readMessage(msgs[msgs.length - 1]!.id)).subarray(-body.length).equals(body));

  // A missing file is a temporary local failure without connecting.
  const before = s.connections.length;
  const r3 = await deliverToDomain(opts({ domain: 'sink.example', port: s.port, message: join(tmp, 'missing.eml') }));
  assert.equal(r3.recipients[0]!.status, 'temporary');
  assert.equal(s.connections.length, before);
});
