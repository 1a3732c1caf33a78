/**
 * Full-text indexing is deferred while deliveries come in (store/README.md "Deferred indexing"):
 * a message acknowledged over SMTP a moment ago is not in the index yet, and IMAP SEARCH
 * TEXT/BODY still finds it, because SEARCH brings the index up to date before it queries.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;

before(async () => {
  ts = await startTestServer({
    imap: true,
    passwords: { mjl: 'testtest1234' },
    // Background indexing needs an hour without deliveries: in this test only SEARCH indexes.
    storeTuning: { indexIdleMs: 3_600_000, indexMaxDelayMs: 3_600_000, indexMaxBacklog: 1e9 },
  });
});

after(async () => {
  await ts.stop();
});

test('IMAP SEARCH TEXT and BODY find a message delivered over SMTP a moment ago, before background indexing', async () => {
  const c = await RawSmtp.connect(ts.smtpPort);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO client.remote.example')).code, 250);
  const word = 'xylophonist';
  const msg = `From: <sender@remote.example>\r\nTo: <mjl@example.com>\r\nSubject: concert\r\nMessage-ID: <s1@remote.example>\r\n\r\nThe ${word} plays tonight.\r\n`;
  const r = await sendRaw(c, 'sender@remote.example', ['mjl@example.com'], msg);
  assert.equal(r.code, 250, r.text);
  c.close();

  const account = ts.server.store.account('mjl');
  const inbox = account.mailbox('Inbox')!;
  assert.equal(account.unindexedCount(inbox.id), 1, 'the delivered message is not indexed yet');

  const imap = new ImapFlow({ host: '127.0.0.1', port: ts.imapPort, secure: false, auth: { user: 'mjl@example.com', pass: 'testtest1234' }, logger: false, tls: { ca: [ts.certPem] }, doSTARTTLS: false });
  await imap.connect();
  try {
    await imap.mailboxOpen('INBOX');
    assert.deepEqual(await imap.search({ body: word }, { uid: true }), [1], 'SEARCH BODY');
    assert.deepEqual(await imap.search({ text: 'XYLOPHON' }, { uid: true }), [1], 'SEARCH TEXT, substring, any case');
    assert.deepEqual(await imap.search({ body: 'concert' }, { uid: true }), [], 'the subject is not in the body');
    assert.equal(account.unindexedCount(inbox.id), 0);
  } finally {
    await imap.logout();
  }
});
