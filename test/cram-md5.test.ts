/**
 * CRAM-MD5 (rfc2195) end to end with real clients: Python imaplib's login_cram_md5 over IMAPS,
 * Python smtplib and swaks (-a CRAM-MD5) on submission after STARTTLS; advertised only where PLAIN
 * is (not on 143 before STARTTLS, not in EHLO before TLS); every attempt goes through the shared
 * LoginGuard and is recorded; an account whose password record predates CRAM-MD5 fails until the
 * password is set again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.js';
import { hashPassword } from '../auth/password.js';

let ts: TestServer;
const PASS = 'cram pass';

before(async () => {
  ts = await startTestServer({
    imap: true,
    imapRequireTLS: true,
    listener: { Submission: { Enabled: true, Port: 0 } },
    passwords: { mjl: PASS },
  });
  writeFileSync(join(ts.dir, 'cram-ca.pem'), ts.certPem);
});
after(async () => {
  await ts.stop();
});

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'pipe' });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? 1, out, err }));
    c.stdin.end();
  });
}

const imapScript = `
import imaplib, ssl, sys, json
port, starttls_port, ca, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
out = {}
s = imaplib.IMAP4('127.0.0.1', starttls_port)
out['plain_caps'] = sorted(s.capabilities)
s.logout()
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
out['tls_caps'] = sorted(m.capabilities)
try:
    m.login_cram_md5('mjl@example.com', 'wrong')
    out['wrong'] = 'OK'
except imaplib.IMAP4.error as e:
    out['wrong'] = str(e)
m.logout()
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
typ, _ = m.login_cram_md5('mjl@example.com', pw)
out['login'] = typ
typ, data = m.select('INBOX')
out['select'] = typ
m.logout()
print(json.dumps(out))
`;

test('IMAP: AUTH=CRAM-MD5 only with TLS; imaplib login_cram_md5 logs in, a wrong password is refused; attempts recorded', async () => {
  const r = await run('python3', ['-c', imapScript, String(ts.imapsPort), String(ts.imapPort), join(ts.dir, 'cram-ca.pem'), PASS]);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as Record<string, unknown>;
  assert.ok(!(out.plain_caps as string[]).includes('AUTH=CRAM-MD5'), 'not offered on 143 before STARTTLS');
  assert.ok((out.plain_caps as string[]).includes('LOGINDISABLED'));
  assert.ok((out.tls_caps as string[]).includes('AUTH=CRAM-MD5'));
  assert.match(out.wrong as string, /AUTHENTICATIONFAILED/);
  assert.equal(out.login, 'OK');
  assert.equal(out.select, 'OK');
  const attempts = ts.server.authDb.recentAttempts({ limit: 50 }).attempts.filter((a) => a.protocol === 'imap' && a.mechanism === 'CRAM-MD5');
  assert.deepEqual(attempts.map((a) => a.result).sort(), ['badcreds', 'ok'].sort());
  assert.ok(attempts.every((a) => a.loginName === 'mjl@example.com' && a.account === 'mjl'));
});

const smtpScript = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.example')
s.ehlo()
assert not s.has_extn('auth'), 'AUTH before TLS'
s.starttls(context=ctx)
s.ehlo()
assert 'CRAM-MD5' in s.esmtp_features['auth'].split(), s.esmtp_features['auth']
s.user, s.password = 'mjl@example.com', 'wrong'
try:
    s.auth('CRAM-MD5', s.auth_cram_md5)
    print('unexpected login')
except smtplib.SMTPAuthenticationError as e:
    print('badlogin', e.smtp_code)
s.user, s.password = 'mjl@example.com', sys.argv[3]
code, _ = s.auth('CRAM-MD5', s.auth_cram_md5)
print('auth', code)
refused = s.sendmail('mjl@example.com', ['y@remote.example'], b'From: <mjl@example.com>\\r\\nSubject: cram\\r\\n\\r\\nbody\\r\\n')
assert refused == {}, refused
print('sent')
s.quit()
`;

test('submission: smtplib and swaks authenticate with CRAM-MD5 after STARTTLS and submit', async () => {
  const p = await run('python3', ['-c', smtpScript, String(ts.submissionPort), join(ts.dir, 'cram-ca.pem'), PASS]);
  assert.equal(p.code, 0, p.err + p.out);
  assert.match(p.out, /badlogin 535/);
  assert.match(p.out, /auth 235/);
  assert.match(p.out, /sent/);

  const file = join(ts.dir, 'cram-swaks.eml');
  writeFileSync(file, 'From: <mjl@example.com>\r\nTo: <x@remote.example>\r\nSubject: swaks cram\r\n\r\nhello\r\n');
  const r = await run('swaks', [
    '--server', '127.0.0.1', '--port', String(ts.submissionPort), '--from', 'mjl@example.com', '--to', 'x@remote.example',
    '--helo', 'swaks.example', '--tls', '-a', 'CRAM-MD5', '--auth-user', 'mjl@example.com', '--auth-password', PASS, '--data', file,
  ]);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /~> AUTH CRAM-MD5/);
  assert.match(r.out, /<~\s+235 2\.7\.0/);
  assert.match(r.out, /<~\s+250 2\.0\.0 message queued/);
  const attempts = ts.server.authDb.recentAttempts({ limit: 50 }).attempts.filter((a) => a.protocol === 'smtp-submission' && a.mechanism === 'CRAM-MD5');
  assert.equal(attempts.filter((a) => a.result === 'ok').length, 2);
  assert.equal(attempts.filter((a) => a.result === 'badcreds').length, 1);
});

test('a password record from before CRAM-MD5 support: CRAM-MD5 fails (PLAIN works) until the password is set again', async () => {
  const acct = ts.server.store.account('mjl');
  const { cramMd5: _drop, ...old } = (await hashPassword(PASS)) as Awaited<ReturnType<typeof hashPassword>>;
  acct.setPassword(old);
  const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.example')
s.starttls(context=ctx)
s.ehlo()
s.user, s.password = 'mjl@example.com', sys.argv[3]
try:
    s.auth('CRAM-MD5', s.auth_cram_md5)
    print('cram ok')
except smtplib.SMTPAuthenticationError as e:
    print('cram', e.smtp_code)
code, _ = s.auth('PLAIN', s.auth_plain)
print('plain', code)
s.quit()
`;
  const before = await run('python3', ['-c', script, String(ts.submissionPort), join(ts.dir, 'cram-ca.pem'), PASS]);
  assert.equal(before.code, 0, before.err);
  assert.match(before.out, /cram 535/);
  assert.match(before.out, /plain 235/);
  acct.setPassword(await hashPassword(PASS));
  const afterSet = await run('python3', ['-c', script, String(ts.submissionPort), join(ts.dir, 'cram-ca.pem'), PASS]);
  assert.equal(afterSet.code, 0, afterSet.err);
  assert.match(afterSet.out, /cram ok/);
});
