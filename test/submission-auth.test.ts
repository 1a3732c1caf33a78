/**
 * SMTP submission listeners and authentication against a real server: 587 with required STARTTLS
 * (nothing before TLS), 465 with implicit TLS, a NoRequireSTARTTLS listener (localserve-style),
 * AUTH PLAIN/LOGIN/SCRAM-SHA-256/SCRAM-SHA-1(-PLUS) with RawSmtp, nodemailer, swaks and Python's
 * smtplib, failures recorded in auth.db, and the shared failed-login limiter answering 421 4.7.0.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createTransport } from 'nodemailer';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { saslClient, tlsExporterBinding } from '../auth/sasl.js';

let ts: TestServer;
const PASSWORD = 'test1234';
const MSG = 'From: <mjl@example.com>\r\nTo: <rcpt@remote.example>\r\nSubject: hi\r\n\r\nhello\r\n';

before(async () => {
  ts = await startTestServer({
    listener: { Submission: { Enabled: true, Port: 0 }, Submissions: { Enabled: true, Port: 0 } },
    passwords: { mjl: PASSWORD },
  });
});
after(async () => {
  await ts.stop();
});

function run(cmd: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
    c.stdin.end(stdin);
  });
}

/** Run a SASL exchange over RawSmtp; returns the final reply. */
async function auth(c: RawSmtp, mech: string, username: string, password: string, opts: { plus?: boolean } = {}) {
  const client = saslClient(mech, { username, password, channelBinding: opts.plus ? tlsExporterBinding(c.socket as TLSSocket) : undefined });
  const ir = await client.initialResponse();
  let r = await c.cmd(`AUTH ${mech}${ir ? ` ${ir.length ? ir.toString('base64') : '='}` : ''}`);
  while (r.code === 334) {
    const challenge = Buffer.from(r.lines[0]!.slice(4), 'base64');
    const resp = await client.respond(challenge);
    r = await c.cmd(resp.toString('base64'));
  }
  return { reply: r, serverVerified: client.serverVerified };
}

async function tlsSession(): Promise<RawSmtp> {
  const c = await RawSmtp.connect(ts.submissionPort);
  await c.reply();
  await c.cmd('EHLO client.example');
  assert.equal((await c.starttls([ts.certPem])).code, 220);
  return c;
}

test('587: nothing before STARTTLS; after it AUTH, REQUIRETLS and FUTURERELEASE are offered', async () => {
  const c = await RawSmtp.connect(ts.submissionPort);
  try {
    assert.equal((await c.reply()).code, 220);
    const e = await c.cmd('EHLO client.example');
    assert.ok(e.lines.some((l) => l.endsWith('STARTTLS')));
    assert.ok(!e.lines.some((l) => /AUTH/.test(l)), 'no AUTH before TLS');
    const a = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0mjl@example.com\0${PASSWORD}`).toString('base64')}`);
    assert.equal(a.code, 530);
    assert.equal(a.enhanced, '5.7.0');
    const m = await c.cmd('MAIL FROM:<mjl@example.com>');
    assert.equal(m.code, 530);
    assert.equal((await c.starttls([ts.certPem])).code, 220);
    const e2 = await c.cmd('EHLO client.example');
    const authLine = e2.lines.find((l) => /^250[- ]AUTH /.test(l));
    assert.ok(authLine, e2.text);
    // TLS 1.3: channel binding available, so the -PLUS variants are listed first.
    assert.match(authLine, /AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN$/);
    assert.ok(e2.lines.some((l) => /^250[- ]REQUIRETLS$/.test(l)));
    assert.ok(e2.lines.some((l) => /^250[- ]FUTURERELEASE 5184000 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(l)));
    assert.ok(e2.lines.some((l) => /^250[- ]DSN$/.test(l)));
    assert.ok(!e2.lines.some((l) => /STARTTLS/.test(l)));
  } finally {
    c.close();
  }
});

test('587: MAIL before AUTH is refused; AUTH PLAIN then a submission is queued with its id in the 250', async () => {
  const c = await tlsSession();
  try {
    await c.cmd('EHLO client.example');
    const m = await c.cmd('MAIL FROM:<mjl@example.com>');
    assert.equal(m.code, 530);
    assert.equal(m.enhanced, '5.7.0');
    const { reply } = await auth(c, 'PLAIN', 'mjl@example.com', PASSWORD);
    assert.equal(reply.code, 235);
    assert.equal(reply.enhanced, '2.7.0');
    assert.equal((await c.cmd('AUTH PLAIN')).code, 503, 'a second AUTH is refused');
    const d = await sendRaw(c, 'mjl@example.com', ['rcpt@remote.example'], MSG);
    assert.equal(d.code, 250, d.text);
    const id = Number(/message queued, id (\d+)/.exec(d.text)![1]);
    const q = ts.server.queue.get(id)!;
    assert.equal(q.senderAccount, 'mjl');
    assert.equal(`${q.recipientLocalpart}@${q.recipientDomain}`, 'rcpt@remote.example');
    const bytes = (await ts.server.queue.messageBytes(id)).toString();
    assert.match(bytes, /^Received: from client\.example .*\r\n\tby mail\.example\.com with ESMTPSA id /);
    assert.ok(bytes.endsWith(MSG));
  } finally {
    c.close();
  }
});

test('587: LOGIN, SCRAM-SHA-256, SCRAM-SHA-1 and SCRAM-SHA-256-PLUS (tls-exporter) log in; attempts recorded', async () => {
  for (const [mech, plus] of [
    ['LOGIN', false],
    ['SCRAM-SHA-256', false],
    ['SCRAM-SHA-1', false],
    ['SCRAM-SHA-256-PLUS', true],
    ['SCRAM-SHA-1-PLUS', true],
  ] as const) {
    const c = await tlsSession();
    try {
      await c.cmd('EHLO client.example');
      const { reply, serverVerified } = await auth(c, mech, 'mjl@example.com', PASSWORD, { plus });
      assert.equal(reply.code, 235, `${mech}: ${reply.text}`);
      if (mech.startsWith('SCRAM')) assert.ok(serverVerified, `${mech}: server proved its key`);
    } finally {
      c.close();
    }
  }
  const attempts = ts.server.authDb.recentAttempts({ limit: 20 }).attempts.filter((a) => a.protocol === 'smtp-submission' && a.result === 'ok');
  const mechs = new Set(attempts.map((a) => a.mechanism));
  for (const m of ['LOGIN', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']) assert.ok(mechs.has(m), m);
  assert.ok(attempts.every((a) => a.account === 'mjl' && a.remoteIP === '127.0.0.1' && a.tls?.startsWith('TLSv1.3')));
});

test('587: wrong password 535 5.7.8 (recorded), unknown mechanism 504, aborted exchange 501', async () => {
  const c = await tlsSession();
  try {
    await c.cmd('EHLO client.example');
    const { reply } = await auth(c, 'SCRAM-SHA-256', 'mjl@example.com', 'wrong').catch(() => ({ reply: { code: 0, enhanced: '' } }));
    assert.equal(reply.code, 535);
    assert.equal(reply.enhanced, '5.7.8');
    const bad = ts.server.authDb.recentAttempts({ limit: 1 }).attempts[0]!;
    assert.equal(bad.result, 'badcreds');
    assert.equal(bad.protocol, 'smtp-submission');
    assert.equal(bad.account, 'mjl');
    assert.equal((await c.cmd('AUTH DIGEST-MD5')).code, 504);
    assert.equal((await c.cmd('AUTH LOGIN')).code, 334);
    const ab = await c.cmd('*');
    assert.equal(ab.code, 501);
    // Still usable afterwards.
    assert.equal((await auth(c, 'PLAIN', 'mjl@example.com', PASSWORD)).reply.code, 235);
  } finally {
    c.close();
  }
  // The failures above counted toward the limiter; a success reset it.
  assert.ok('allowed' in ts.server.loginGuard.checkLogin('127.0.0.1'));
});

test('465 implicit TLS with nodemailer (AUTH PLAIN and LOGIN)', async () => {
  for (const method of ['PLAIN', 'LOGIN']) {
    const t = createTransport({
      host: '127.0.0.1',
      port: ts.submissionsPort,
      secure: true,
      tls: { ca: [ts.certPem], servername: 'localhost' },
      auth: { user: 'mjl@example.com', pass: PASSWORD, method },
    });
    try {
      const info = await t.sendMail({ envelope: { from: 'mjl@example.com', to: ['a@remote.example', 'b@remote.example'] }, raw: MSG });
      assert.deepEqual(info.accepted, ['a@remote.example', 'b@remote.example']);
      assert.match(info.response, /^250 2\.0\.0 message queued, id \d+-\d+$/);
    } finally {
      t.close();
    }
  }
  const bad = createTransport({ host: '127.0.0.1', port: ts.submissionsPort, secure: true, tls: { ca: [ts.certPem], servername: 'localhost' }, auth: { user: 'mjl@example.com', pass: 'nope' } });
  await assert.rejects(bad.sendMail({ envelope: { from: 'mjl@example.com', to: ['a@remote.example'] }, raw: MSG }), (e: { responseCode?: number }) => e.responseCode === 535);
  bad.close();
});

test('587 with swaks (STARTTLS, AUTH PLAIN) and Python smtplib (starttls, login)', async () => {
  const file = join(ts.dir, 'sub-swaks.eml');
  writeFileSync(file, MSG);
  const r = await run('swaks', [
    '--server', '127.0.0.1', '--port', String(ts.submissionPort), '--from', 'mjl@example.com', '--to', 'x@remote.example',
    '--helo', 'swaks.example', '--tls', '--auth', 'PLAIN', '--auth-user', 'mjl@example.com', '--auth-password', PASSWORD, '--data', file,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /<~\s+235 2\.7\.0/);
  assert.match(r.stdout, /<~\s+250 2\.0\.0 message queued, id \d+/);

  writeFileSync(join(ts.dir, 'sub-ca.pem'), ts.certPem);
  const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.example')
s.ehlo()
assert not s.has_extn('auth'), 'AUTH before TLS'
s.starttls(context=ctx)
s.ehlo()
assert s.has_extn('auth') and s.has_extn('futurerelease')
try:
    s.login('mjl@example.com', 'wrong')
    print('unexpected login')
except smtplib.SMTPAuthenticationError as e:
    print('badlogin', e.smtp_code)
s.login('mjl@example.com', sys.argv[3])
refused = s.sendmail('mjl@example.com', ['y@remote.example'], b'From: <mjl@example.com>\\r\\nSubject: py\\r\\n\\r\\nbody\\r\\n')
assert refused == {}, refused
print('sent')
s.quit()
`;
  const p = await run('python3', ['-c', script, String(ts.submissionPort), join(ts.dir, 'sub-ca.pem'), PASSWORD]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /badlogin 535/);
  assert.match(p.stdout, /sent/);
});

test('failed-login limiter: over the limit AUTH answers 421 4.7.0 and closes; other protocols share it', async () => {
  const t2 = await startTestServer({ listener: { Submission: { Enabled: true, Port: 0, NoRequireSTARTTLS: true } }, passwords: { mjl: PASSWORD } });
  try {
    // A few failures per connection (a connection with many bad commands is closed on its own).
    let last;
    let c: RawSmtp | undefined;
    for (let conn = 0; conn < 10 && last?.code !== 421; conn++) {
      c?.close();
      c = await RawSmtp.connect(t2.submissionPort);
      await c.reply();
      const e = await c.cmd('EHLO client.example');
      // NoRequireSTARTTLS: AUTH is offered in plaintext, PLAIN included (localserve-style).
      assert.ok(e.lines.some((l) => /AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN$/.test(l)), e.text);
      for (let i = 0; i < 3; i++) {
        last = await c.cmd(`AUTH PLAIN ${Buffer.from(`\0mjl@example.com\0wrong${i}`).toString('base64')}`);
        if (last.code !== 535) break;
      }
    }
    assert.equal(last!.code, 421);
    assert.equal(last!.enhanced, '4.7.0');
    assert.match(last!.text, /too many authentication failures/);
    await c!.closedByServer();
    // The limiter is the server's one LoginGuard: an IMAP/webapi login from this IP is refused too.
    const other = await t2.server.loginGuard.authenticatePassword({ protocol: 'imap', mechanism: 'imap-login', ip: '127.0.0.1', username: 'mjl@example.com', password: PASSWORD });
    assert.deepEqual(other, { ok: false, reason: 'ratelimited', message: 'too many authentication failures' });
    const rl = t2.server.authDb.recentAttempts({ limit: 5 }).attempts.find((a) => a.protocol === 'smtp-submission' && a.result === 'ratelimited');
    assert.ok(rl, 'the refused attempt is recorded');
  } finally {
    await t2.stop();
  }
});

test('NoRequireSTARTTLS: plaintext AUTH PLAIN and submission work; a LoginDisabled account gets 535 5.7.13 with its text', async () => {
  const t3 = await startTestServer({
    listener: { Submission: { Enabled: true, Port: 0, NoRequireSTARTTLS: true } },
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} } },
      off: { Domain: 'example.com', Destinations: { 'off@example.com': {} }, LoginDisabled: 'account suspended, call the helpdesk' },
    },
    passwords: { mjl: PASSWORD, off: PASSWORD },
  });
  try {
    const c = await RawSmtp.connect(t3.submissionPort);
    await c.reply();
    await c.cmd('EHLO client.example');
    assert.equal((await auth(c, 'PLAIN', 'mjl@example.com', PASSWORD)).reply.code, 235);
    const d = await sendRaw(c, 'mjl@example.com', ['r@remote.example'], MSG);
    assert.equal(d.code, 250, d.text);
    // REQUIRETLS is refused without TLS.
    const m = await c.cmd('MAIL FROM:<mjl@example.com> REQUIRETLS');
    assert.equal(m.code, 523);
    c.close();
    const o = await RawSmtp.connect(t3.submissionPort);
    await o.reply();
    await o.cmd('EHLO client.example');
    const r = (await auth(o, 'PLAIN', 'off@example.com', PASSWORD)).reply;
    assert.equal(r.code, 535);
    assert.equal(r.enhanced, '5.7.13');
    assert.match(r.text, /account suspended, call the helpdesk/);
    o.close();
  } finally {
    await t3.stop();
  }
});
