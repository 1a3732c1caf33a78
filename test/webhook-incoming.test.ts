/**
 * Incoming-message webhooks for real SMTP deliveries (RawSmtp on port 25 of a test server): mox's
 * Incoming payload (addresses, ids, Text/HTML, Structure, Meta with the stored message's id), the
 * hook queued durably before the 250, none for an account without IncomingWebhook, and the
 * Automated flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from './helpers/server.js';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { verifyWebhook } from '../webhook/sign.js';

const MSG = [
  'From: "Alice Ä" <alice@remote.example>',
  'To: mjl@example.com, Bob <bob@example.com>',
  'Cc: =?utf-8?q?Carol_=C3=A9?= <carol@remote.example>',
  'Reply-To: replies@remote.example',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=',
  'Message-ID: <hello-1@remote.example>',
  'In-Reply-To: <earlier@example.com>',
  'References: <first@example.com> <earlier@example.com>',
  'Date: Sat, 21 Nov 2026 12:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: multipart/alternative; boundary="b2"',
  '',
  '--b2',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Hello =C3=A4,',
  'second line',
  '--b2',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Hello</p>',
  '--b2--',
  '--b1',
  'Content-Type: application/pdf; name="x.pdf"',
  'Content-Disposition: attachment; filename="report.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0xLjQK',
  '--b1--',
  '',
].join('\r\n');

test('a message delivered over SMTP gives mox Incoming payload with correct Meta, queued before the 250', async () => {
  const rx = await WebhookReceiver.start();
  const ts = await startTestServer({
    accounts: {
      mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} }, IncomingWebhook: { URL: `${rx.url}/in`, Authorization: 'Basic eDp5' }, KeepRetiredWebhookPeriod: '1h' },
      bob: { Domain: 'example.com', Destinations: { 'bob@example.com': {} } },
    },
  });
  try {
    rx.respond = () => ({ status: 500 }); // keep it queued so we can look at it
    const c = await RawSmtp.connect(ts.smtpPort);
    await c.reply();
    await c.cmd('EHLO client.remote.example');
    const r = await sendRaw(c, 'sender@remote.example', ['mjl@example.com', 'bob@example.com'], MSG);
    assert.equal(r.code, 250);
    // Acknowledged means the hook is already stored (durably) for mjl, and none for bob.
    const hooks = ts.server.webhooks.store.list();
    assert.equal(hooks.length, 1);
    assert.equal(hooks[0]!.isIncoming, true);
    assert.equal(hooks[0]!.account, 'mjl');
    await rx.waitFor(1);
    const req = rx.requests[0]!;
    assert.equal(req.path, '/in');
    assert.equal(req.headers['authorization'], 'Basic eDp5');
    verifyWebhook(ts.server.webhooks.store.secrets('mjl').current, req.headers, req.body);
    const p = JSON.parse(req.body) as Record<string, any>;
    const acc = ts.server.store.account('mjl');
    const [stored] = acc.listMessages(acc.mailbox('Inbox')!.id);
    assert.ok(stored);
    assert.deepEqual(Object.keys(p), ['Version', 'From', 'To', 'CC', 'BCC', 'ReplyTo', 'Subject', 'MessageID', 'InReplyTo', 'References', 'Date', 'Text', 'HTML', 'Structure', 'Meta']);
    assert.equal(p.Version, 0);
    assert.deepEqual(p.From, [{ Name: 'Alice Ä', Address: 'alice@remote.example' }]);
    assert.deepEqual(p.To, [
      { Name: '', Address: 'mjl@example.com' },
      { Name: 'Bob', Address: 'bob@example.com' },
    ]);
    assert.deepEqual(p.CC, [{ Name: 'Carol é', Address: 'carol@remote.example' }]);
    assert.deepEqual(p.BCC, []);
    assert.deepEqual(p.ReplyTo, [{ Name: '', Address: 'replies@remote.example' }]);
    assert.equal(p.Subject, 'Grüße');
    assert.equal(p.MessageID, '<hello-1@remote.example>');
    assert.equal(p.InReplyTo, '<earlier@example.com>');
    assert.deepEqual(p.References, ['<first@example.com>', '<earlier@example.com>']);
    assert.equal(p.Date, '2026-11-21T11:00:00.000Z');
    assert.equal(p.Text, 'Hello ä,\nsecond line');
    assert.equal(p.HTML, '<p>Hello</p>');
    assert.equal(p.Structure.ContentType, 'multipart/mixed');
    assert.deepEqual(
      p.Structure.Parts.map((x: any) => x.ContentType),
      ['multipart/alternative', 'application/pdf'],
    );
    assert.deepEqual(p.Structure.Parts[1], {
      ContentType: 'application/pdf',
      ContentTypeParams: { name: 'x.pdf' },
      ContentID: '',
      ContentDisposition: 'attachment',
      Filename: 'report.pdf',
      DecodedSize: 9,
      Parts: [],
    });
    assert.deepEqual(p.Meta, {
      MsgID: stored.id,
      MailFrom: 'sender@remote.example',
      MailFromValidated: false,
      MsgFromValidated: false,
      RcptTo: 'mjl@example.com',
      DKIMVerifiedDomains: [],
      RemoteIP: '127.0.0.1',
      Received: stored.receivedAt.toISOString(),
      MailboxName: 'Inbox',
      Automated: false,
    });
    assert.equal(JSON.stringify(p).includes('JVBERi0xLjQK'), false, 'no attachment data');

    // An automated message (null sender) is marked so.
    rx.respond = () => ({ status: 200 });
    const r2 = await sendRaw(c, '', ['mjl@example.com'], 'From: <list@remote.example>\r\nTo: mjl@example.com\r\nSubject: auto\r\n\r\nbody\r\n');
    assert.equal(r2.code, 250);
    ts.server.webhooks.worker.kick();
    await rx.waitFor(2);
    const auto = rx.requests.find((x) => JSON.parse(x.body).Subject === 'auto')!;
    assert.equal(JSON.parse(auto.body).Meta.Automated, true);
    assert.equal(JSON.parse(auto.body).Meta.MailFrom, '');
    c.close();
  } finally {
    await ts.stop();
    await rx.close();
  }
});
