/**
 * IMAP scenarios with imapflow (a real client library) and raw commands: login, LIST, SELECT,
 * APPEND, FETCH, STORE, COPY/MOVE, EXPUNGE, STATUS, mailbox management, STARTTLS and IMAPS.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from './helpers/server.js';
import { RawImap } from './helpers/imap-client.js';

let ts: TestServer;
const PASS = 'test password 1';
const USER = 'mjl@example.com';

before(async () => {
  ts = await startTestServer({ imap: true, passwords: { mjl: PASS } });
});
after(async () => {
  await ts.stop();
});

function client(o: { secure?: boolean; port?: number } = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: o.port ?? (o.secure ? ts.imapsPort : ts.imapPort),
    secure: o.secure ?? false,
    auth: { user: USER, pass: PASS },
    logger: false,
    tls: { ca: [ts.certPem], servername: 'localhost' },
  });
}

const msg = (subject: string, body = 'hello\r\n') =>
  `From: Someone <someone@example.org>\r\nTo: mjl@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\n${body}`;

test('imapflow: login over STARTTLS, list, append, fetch, flags, copy, move, expunge', async () => {
  const c = client();
  await c.connect();
  try {
    const boxes = await c.list();
    const names = boxes.map((b) => b.path).sort();
    assert.deepEqual(names, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    assert.equal(boxes.find((b) => b.path === 'Sent')?.specialUse, '\\Sent');

    await c.mailboxCreate('Work/Projects');
    const r1 = await c.append('Work/Projects', msg('first'), ['\\Seen']);
    const r2 = await c.append('Work/Projects', msg('second'));
    assert.ok(r1 && r2 && r1.uid === 1 && r2.uid === 2);

    const mb = await c.mailboxOpen('Work/Projects');
    assert.equal(mb.exists, 2);
    const got: Array<{ uid: number; subject?: string; seen: boolean }> = [];
    for await (const m of c.fetch('1:*', { uid: true, envelope: true, flags: true })) {
      got.push({ uid: m.uid, subject: m.envelope?.subject, seen: m.flags?.has('\\Seen') ?? false });
    }
    assert.deepEqual(got, [
      { uid: 1, subject: 'first', seen: true },
      { uid: 2, subject: 'second', seen: false },
    ]);
    const one = await c.fetchOne('2', { source: true });
    assert.ok(one && one.source?.toString().includes('Subject: second'));

    await c.messageFlagsAdd('2', ['\\Flagged', '$Label1']);
    const f = await c.fetchOne('2', { flags: true });
    assert.ok(f && f.flags?.has('\\Flagged') && f.flags.has('$label1'));

    const copied = await c.messageCopy('1', 'Archive');
    assert.ok(copied && copied.uidMap?.size === 1);
    const moved = await c.messageMove('2', 'Trash');
    assert.ok(moved);
    const st = await c.status('Work/Projects', { messages: true });
    assert.ok(st);
    assert.equal(st.messages, 1);

    await c.messageFlagsAdd('1', ['\\Deleted']);
    await c.messageDelete('1');
    const st2 = await c.status('Work/Projects', { messages: true, uidNext: true });
    assert.ok(st2);
    assert.equal(st2.messages, 0);
    assert.equal(st2.uidNext, 3);

    await c.mailboxRename('Work/Projects', 'Work/Done');
    await c.mailboxDelete('Work/Done');
    const after = (await c.list()).map((b) => b.path);
    assert.ok(!after.includes('Work/Done') && after.includes('Work'));
  } finally {
    await c.logout();
  }
});

test('imapflow over implicit TLS (IMAPS)', async () => {
  const c = client({ secure: true });
  await c.connect();
  try {
    const mb = await c.mailboxOpen('INBOX');
    assert.ok(mb.uidValidity > 0n);
  } finally {
    await c.logout();
  }
});

test('raw: greeting, LOGINDISABLED rules, wrong state, bad syntax keeps the connection', async () => {
  const c = await RawImap.connect(ts.imapPort);
  const greeting = await c.line();
  assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev2 IMAP4rev1 .*STARTTLS.*\] /);
  let r = await c.cmd('SELECT INBOX');
  assert.equal(r.status, 'BAD');
  r = await c.cmd('FETCH (((');
  assert.equal(r.status, 'BAD');
  c.write('\r\n');
  assert.match(await c.line(), /^\* BAD /);
  r = await c.cmd('LOGIN mjl@example.com "wrong"');
  assert.equal(r.status, 'NO');
  assert.match(r.text, /AUTHENTICATIONFAILED/);
  r = await c.cmd(`LOGIN ${USER} "${PASS}"`);
  assert.equal(r.status, 'OK');
  r = await c.cmd('LOGIN x y');
  assert.equal(r.status, 'BAD');
  r = await c.cmd('NOSUCHCOMMAND');
  assert.equal(r.status, 'BAD');
  r = await c.cmd('NOOP');
  assert.equal(r.status, 'OK');
  c.close();
});
