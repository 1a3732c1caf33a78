/**
 * Python's imaplib against the IMAP server (IMAPS and STARTTLS): the commands a classic rev1
 * client uses, checked from the Python side, and the result checked in the store.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;
const PASS = 'python pass';

before(async () => {
  ts = await startTestServer({ imap: true, imapRequireTLS: true, passwords: { mjl: PASS } });
});
after(async () => {
  await ts.stop();
});

function run(args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('python3', args, { stdio: 'pipe' });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? 1, out, err }));
    if (input) c.stdin.end(input);
    else c.stdin.end();
  });
}

const script = `
import imaplib, ssl, sys, json
port, starttls_port, ca, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
out = {}
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
out['caps'] = sorted(m.capabilities)
typ, _ = m.login('mjl@example.com', pw)
out['login'] = typ
typ, data = m.list()
out['list'] = [d.decode() for d in data]
typ, _ = m.create('Py/Folder')
out['create'] = typ
msg = b'From: py@example.org\\r\\nSubject: from python\\r\\n\\r\\nHello from imaplib\\r\\n'
typ, data = m.append('Py/Folder', '(\\\\Flagged)', imaplib.Time2Internaldate(1700000000), msg)
out['append'] = [typ, data[0].decode()]
typ, data = m.select('Py/Folder')
out['select'] = [typ, data[0].decode()]
typ, data = m.fetch('1', '(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822)')
out['fetch'] = [typ, data[0][0].decode(), data[0][1].decode(), data[1][0].decode(), data[1][1].decode()]
typ, data = m.store('1', '+FLAGS', '(\\\\Deleted)')
out['store'] = [typ, data[0].decode()]
typ, data = m.copy('1', 'Archive')
out['copy'] = typ
typ, data = m.expunge()
out['expunge'] = [typ, [d.decode() for d in data if d]]
typ, data = m.status('Py/Folder', '(MESSAGES UIDNEXT UNSEEN)')
out['status'] = [typ, data[0].decode()]
m.close()
m.logout()
s = imaplib.IMAP4('127.0.0.1', starttls_port)
out['before_tls'] = 'LOGINDISABLED' in s.capabilities
s.starttls(ssl_context=ctx)
typ, _ = s.login('mjl@example.com', pw)
out['starttls_login'] = typ
typ, data = s.select('Archive', readonly=True)
out['archive'] = [typ, data[0].decode()]
s.logout()
print(json.dumps(out))
`;

test('python imaplib over IMAPS and STARTTLS', async () => {
  const ca = join(ts.dir, 'ca-for-py.pem');
  writeFileSync(ca, ts.certPem);
  const r = await run(['-c', script, String(ts.imapsPort), String(ts.imapPort), ca, PASS]);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.ok(out.caps.includes('IMAP4REV1') && out.caps.includes('IDLE'));
  assert.equal(out.login, 'OK');
  assert.ok(out.list.includes('(\\HasNoChildren) "/" "INBOX"'));
  assert.equal(out.create, 'OK');
  assert.equal(out.append[0], 'OK');
  assert.match(out.append[1], /APPENDUID \d+ 1/);
  assert.deepEqual(out.select, ['OK', '1']);
  assert.equal(out.fetch[0], 'OK');
  assert.match(out.fetch[1], /FLAGS \(\\Seen \\Flagged\)/); // RFC822 sets \\Seen first
  assert.match(out.fetch[1], /INTERNALDATE "14-Nov-2023 22:13:20 \+0000"/);
  assert.equal(out.fetch[2], 'Subject: from python\r\n\r\n');
  assert.match(out.fetch[3], /RFC822 \{\d+\}$/);
  assert.equal(out.fetch[4], 'From: py@example.org\r\nSubject: from python\r\n\r\nHello from imaplib\r\n');
  assert.match(out.store[1], /FLAGS \(\\Seen \\Flagged \\Deleted( \\Recent)?\)/);
  assert.equal(out.copy, 'OK');
  assert.deepEqual(out.expunge, ['OK', ['1']]);
  assert.match(out.status[1], /MESSAGES 0 UIDNEXT 2 UNSEEN 0/);
  assert.equal(out.before_tls, true);
  assert.equal(out.starttls_login, 'OK');
  assert.equal(out.archive[0], 'OK');
  const acct = ts.server.store.account('mjl');
  const archive = acct.mailbox('Archive')!;
  const msgs = acct.listMessages(archive.id);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.subject, 'from python');
  assert.ok(msgs[0]!.flags.deleted && msgs[0]!.flags.flagged && msgs[0]!.flags.seen);
});
