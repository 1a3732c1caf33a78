/**
 * Real SMTP clients against the incoming server: swaks and Python's smtplib (Debian packages,
 * installed by .ci/run) and nodemailer. Each sends through STARTTLS where the client supports it,
 * and the message must arrive byte-for-byte.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;

before(async () => {
  ts = await startTestServer();
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

async function lastMessage(): Promise<string> {
  const a = ts.server.store.account('mjl');
  const msgs = a.listMessages(a.mailbox('Inbox')!.id);
  return (await a.readMessage(msgs[msgs.length - 1]!.id)).toString();
}

function count(): number {
  const a = ts.server.store.account('mjl');
  return a.listMessages(a.mailbox('Inbox')!.id).length;
}

test('swaks delivers over STARTTLS with pipelining', async () => {
  const n = count();
  const body = 'Subject: from swaks\r\nX-Test: swaks\r\n\r\nline one\r\n.leading dot\r\n';
  const file = join(ts.dir, 'swaks.eml');
  writeFileSync(file, body);
  const r = await run('swaks', [
    '--server', '127.0.0.1', '--port', String(ts.smtpPort),
    '--from', 'sender@remote.example', '--to', 'mjl@example.com',
    '--helo', 'swaks.remote.example', '--tls', '--pipeline', '--data', file,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /<~\s+250 2\.0\.0 message delivered, id/);
  assert.equal(count(), n + 1);
  const m = await lastMessage();
  // swaks sends an empty line before the final dot (its transcript shows it), so that line is part of the message.
  assert.ok(m.endsWith(body + '\r\n'), 'dot-stuffed line restored, bytes intact');
  assert.match(m, /with ESMTPS id/);
});

test('swaks sees a 550 5.1.1 for an unknown user', async () => {
  const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(ts.smtpPort), '--from', 's@remote.example', '--to', 'nobody@example.com', '--helo', 'swaks.remote.example']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /<\*\*\s+550 5\.1\.1 no such user/);
});

test("Python's smtplib delivers with starttls and SMTPUTF8", async () => {
  const n = count();
  const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='py.remote.example')
s.starttls(context=ctx)
s.ehlo('py.remote.example')
assert s.has_extn('smtputf8') and s.has_extn('pipelining') and s.has_extn('enhancedstatuscodes')
msg = 'From: <jürgen@remote.example>\\r\\nSubject: via python\\r\\n\\r\\nHällo\\r\\n'.encode('utf-8')
refused = s.sendmail('jürgen@remote.example', ['mjl@example.com'], msg, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
assert refused == {}, refused
try:
    s.sendmail('x@remote.example', ['nobody@example.com'], b'Subject: x\\r\\n\\r\\nx\\r\\n')
    print('unexpected success')
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients['nobody@example.com']
    print('refused', code, text.decode())
s.quit()
`;
  writeFileSync(join(ts.dir, 'cert-for-py.pem'), ts.certPem);
  const r = await run('python3', ['-c', script, String(ts.smtpPort), join(ts.dir, 'cert-for-py.pem')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /refused 550 5\.1\.1 no such user/);
  assert.equal(count(), n + 1);
  const m = await lastMessage();
  assert.ok(m.endsWith('From: <jürgen@remote.example>\r\nSubject: via python\r\n\r\nHällo\r\n'));
  assert.match(m, /with UTF8SMTPS id/);
});

test('nodemailer delivers, and reports per-recipient rejections', async () => {
  const n = count();
  const t = createTransport({
    host: '127.0.0.1',
    port: ts.smtpPort,
    secure: false,
    name: 'nodemailer.remote.example',
    tls: { ca: [ts.certPem], servername: 'localhost' },
    requireTLS: true,
  });
  const info = await t.sendMail({
    envelope: { from: 'app@remote.example', to: ['mjl@example.com', 'nobody@example.com'] },
    from: 'App <app@remote.example>',
    to: 'mjl@example.com',
    subject: 'nodemailer test',
    text: 'Hello from nodemailer',
    attachments: [{ filename: 'a.txt', content: 'attachment body' }],
  });
  assert.deepEqual(info.accepted, ['mjl@example.com']);
  assert.deepEqual(info.rejected, ['nobody@example.com']);
  assert.match(info.response, /^250 2\.0\.0 message delivered/);
  assert.equal(count(), n + 1);
  const a = ts.server.store.account('mjl');
  const msgs = a.listMessages(a.mailbox('Inbox')!.id);
  const full = a.getMessage(msgs[msgs.length - 1]!.id)!;
  const parsed = full.parsed as { mediaType: string; mediaSubType: string; parts: unknown[] };
  assert.equal(`${parsed.mediaType}/${parsed.mediaSubType}`, 'MULTIPART/MIXED');
  assert.equal(parsed.parts.length, 2);
  t.close();
});
