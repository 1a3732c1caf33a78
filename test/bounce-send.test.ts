/**
 * Send → bounce, end to end: a message submitted with nodemailer on the submission port (as the
 * account's FromIDLoginAddresses address, so its MAIL FROM carries a fromid; or as the plain
 * address, with an ENVID), accepted by the remote (the queue row is retired as delivered, which is
 * what the queue does on a 250), and later bounced: a DSN arrives over SMTP on port 25 to the
 * fromid address, or to the plain address and is matched by Message-ID; an ARF complaint arrives.
 * The application sees it as mox would: an outgoing webhook (failed with DSN: true and
 * Suppressing, or our complained), the suppression list entry, and no incoming webhook for the
 * report. An all-empty hold rule keeps the queue from trying real delivery meanwhile.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTransport } from 'nodemailer';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { WebhookReceiver, type Received } from './helpers/webhook-receiver.js';
import { remoteDsn, failedRecipient, arfComplaint } from './helpers/reports.js';
import type { QueuedMsg } from '../queue/store.js';

const PASSWORD = 'test1234';
let ts: TestServer;
let rx: WebhookReceiver;

before(async () => {
  rx = await WebhookReceiver.start();
  ts = await startTestServer({
    listener: { Submission: { Enabled: true, Port: 0 } },
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: { 'mjl@example.com': {}, 'fid@example.com': {} },
        FromIDLoginAddresses: ['fid@example.com'],
        KeepRetiredMessagePeriod: '24h',
        KeepRetiredWebhookPeriod: '24h',
        OutgoingWebhook: { URL: `${rx.url}/out` },
        IncomingWebhook: { URL: `${rx.url}/in` },
      },
    },
    passwords: { mjl: PASSWORD },
  });
  ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
});

after(async () => {
  await ts.stop();
  await rx.close();
});

/** Submit with nodemailer; returns the queued rows (one per recipient). */
async function submit(user: string, to: string, opts: { subject: string; envid?: string }): Promise<QueuedMsg[]> {
  const t = createTransport({ host: '127.0.0.1', port: ts.submissionPort, requireTLS: true, tls: { ca: [ts.certPem], servername: 'localhost' }, auth: { user, pass: PASSWORD } });
  try {
    const info = await t.sendMail({
      from: 'mjl@example.com',
      to,
      subject: opts.subject,
      text: 'hello',
      headers: { 'X-Mox-Extra-Campaign': 'spring' },
      ...(opts.envid ? { dsn: { id: opts.envid, return: 'headers' as const, notify: ['failure' as const, 'delay' as const] } } : {}),
    });
    const m = /id (\d+)/.exec(info.response);
    assert.ok(m, info.response);
    return [ts.server.queue.get(Number(m[1]))!];
  } finally {
    t.close();
  }
}

/** What the queue does when the remote answers 250: retire the row as delivered. */
async function acceptedByRemote(rows: QueuedMsg[]): Promise<Buffer> {
  const original = await ts.server.queue.messageBytes(rows[0]!.id);
  await ts.server.queue.retire({ ids: rows.map((r) => r.id) }, 'delivered', { success: true, code: 250, error: '', host: 'mx.remote.example' });
  return original;
}

async function deliverToUs(mailFrom: string, rcptTo: string, message: Buffer): Promise<void> {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO mx.remote.example');
  const r = await sendRaw(c, mailFrom, [rcptTo], message.toString('utf8'));
  assert.equal(r.code, 250, r.text);
  c.close();
}

/** Outgoing webhooks about a message caused by the bounce (the 250 itself gave a "delivered" one, left out). */
function outgoingFor(queueMsgId: number): Array<Record<string, any>> {
  return rx.requests
    .filter((r: Received) => r.path === '/out')
    .map((r) => JSON.parse(r.body) as Record<string, any>)
    .filter((p) => p.QueueMsgID === queueMsgId && p.Event !== 'delivered');
}

function incomingHooks(): number {
  const s = ts.server.webhooks.store;
  return [...s.list({}, undefined, 1000), ...s.listRetired({}, 1000)].filter((h) => h.isIncoming).length;
}

async function waitOutgoing(queueMsgId: number): Promise<Record<string, any>> {
  for (;;) {
    const got = outgoingFor(queueMsgId);
    if (got.length) return got[0]!;
    await rx.waitFor(rx.requests.length + 1);
  }
}

test('sent with a fromid, bounced by a DSN to the fromid address: failed webhook with DSN and Suppressing, suppression entry, no incoming webhook', async () => {
  const rows = await submit('fid@example.com', 'gone@remote.example', { subject: 'spring sale' });
  const row = rows[0]!;
  assert.match(row.fromId!, /^[A-Za-z0-9_-]{22}$/);
  const original = await acceptedByRemote(rows);
  const returnPath = `mjl+${row.fromId}@example.com`;

  await deliverToUs('', returnPath, remoteDsn({ to: returnPath, recipients: [failedRecipient('gone@remote.example')], original }));
  const p = await waitOutgoing(row.id);
  assert.equal(p.Event, 'failed');
  assert.equal(p.DSN, true);
  assert.equal(p.Suppressing, true);
  assert.equal(p.FromID, row.fromId);
  assert.equal(p.MessageID, row.messageId);
  assert.equal(p.Subject, 'spring sale');
  assert.equal(p.SMTPCode, 550);
  assert.equal(p.SMTPEnhancedCode, '5.1.1');
  assert.deepEqual(p.Extra, { Campaign: 'spring' });
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'gone@remote.example'));
  assert.equal(incomingHooks(), 0, 'the DSN is about outgoing mail: no incoming webhook');
  const acc = ts.server.store.account('mjl');
  assert.ok(acc.listMessages(acc.mailbox('Inbox')!.id).some((m) => /Delivery failure/.test(m.subject ?? '')), 'the DSN is in the Inbox');

  // The next message to the suppressed address is refused at delivery time by the queue (mox §3.9);
  // here we only check the list says so.
  assert.match(ts.server.queue.lookupSuppression('mjl', 'Gone@Remote.example')!.reason, /DSN/);
});

test('sent without fromid (ENVID given), bounced to the plain address: matched by ENVID, failed webhook', async () => {
  const rows = await submit('mjl@example.com', 'full@remote.example', { subject: 'newsletter', envid: 'nl-2026-11' });
  const row = rows[0]!;
  assert.equal(row.fromId, null);
  assert.equal(row.dsn.envid, 'nl-2026-11');
  const original = await acceptedByRemote(rows);
  await deliverToUs('', 'mjl@example.com', remoteDsn({ to: 'mjl@example.com', envid: 'nl-2026-11', recipients: [failedRecipient('full@remote.example', '552 5.2.2 mailbox full')], original }));
  const p = await waitOutgoing(row.id);
  assert.equal(p.Event, 'failed');
  assert.equal(p.DSN, true);
  assert.equal(p.Suppressing, false, 'a full mailbox is not suppressed at once');
  assert.equal(p.SMTPEnhancedCode, '5.2.2');
  assert.equal(incomingHooks(), 0);
});

test('sent without fromid, bounced without ENVID: matched by the returned Message-ID', async () => {
  const rows = await submit('mjl@example.com', 'nobody@remote.example', { subject: 'invoice' });
  const row = rows[0]!;
  const original = await acceptedByRemote(rows);
  await deliverToUs('', 'mjl@example.com', remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('nobody@remote.example')], original }));
  const p = await waitOutgoing(row.id);
  assert.equal(p.Event, 'failed');
  assert.equal(p.MessageID, row.messageId);
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'nobody@remote.example'));
  assert.equal(incomingHooks(), 0);
});

test('an ARF complaint about a sent message: complained webhook, suppression with reason "complaint"', async () => {
  const rows = await submit('fid@example.com', 'annoyed@remote.example', { subject: 'offer' });
  const row = rows[0]!;
  const original = await acceptedByRemote(rows);
  await deliverToUs('fbl@isp.example', 'mjl@example.com', arfComplaint({ to: 'mjl@example.com', recipient: 'annoyed@remote.example', original }));
  const p = await waitOutgoing(row.id);
  assert.equal(p.Event, 'complained');
  assert.equal(p.Suppressing, true);
  assert.equal(p.FromID, row.fromId);
  assert.equal(ts.server.queue.lookupSuppression('mjl', 'annoyed@remote.example')?.reason, 'complaint');
  assert.equal(incomingHooks(), 0);

  // An ordinary message still gets its incoming webhook.
  await deliverToUs('friend@remote.example', 'mjl@example.com', Buffer.from('From: <friend@remote.example>\r\nTo: <mjl@example.com>\r\nSubject: lunch?\r\nMessage-ID: <lunch@remote.example>\r\n\r\nHi.\r\n'));
  assert.equal(incomingHooks(), 1);
});
