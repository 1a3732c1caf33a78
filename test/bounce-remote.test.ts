/**
 * The whole loop with real delivery: a message submitted with nodemailer is delivered by our
 * queue's scheduler over SMTP to a second moxts (the remote MX, found through a dns2 MX record),
 * which accepts it (outgoing webhook `delivered`). Later the remote bounces it: a DSN built from the
 * copy the remote actually stored (its Return-Path carries our fromid, its header our Message-ID)
 * comes back to our port 25. The application gets `failed` with DSN: true and Suppressing, the
 * address is suppressed, and the next message to it fails at delivery time as `suppressed` without
 * reaching the remote. The same without fromid: the DSN goes to the plain address and is matched by
 * the returned Message-ID; and by ENVID alone, as passed on to an MX that offers DSN (a scripted
 * sink) and returned in a report without the original's headers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTransport } from 'nodemailer';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { remoteDsn, failedRecipient } from './helpers/reports.js';
import { closedPort, startSink, type Sink } from '../smtp/client/testsink.js';
import { parseHeader } from '../message/header.js';

const PASSWORD = 'test1234';
let ts: TestServer;
let remote: TestServer;
let rx: WebhookReceiver;
/** A scripted MX for sink.example that offers DSN and accepts everything. */
let sink: Sink;

before(async () => {
  rx = await WebhookReceiver.start();
  remote = await startTestServer({
    hostname: 'mx.remote.example',
    domains: { 'remote.example': {} },
    accounts: { bob: { Domain: 'remote.example', Destinations: { 'bob@remote.example': {}, 'carol@remote.example': {} } } },
  });
  const refused = await closedPort();
  sink = await startSink();
  ts = await startTestServer({
    listener: { Submission: { Enabled: true, Port: 0 } },
    zone: {
      'remote.example': { MX: [{ exchange: 'mx.remote.example', priority: 10 }] },
      'mx.remote.example': { A: ['127.0.0.1'] },
      'sink.example': { MX: [{ exchange: 'mx.sink.example', priority: 10 }] },
      'mx.sink.example': { A: ['127.0.0.1'] },
    } as never,
    delivery: {
      portFor: (host: string) => (host === 'mx.remote.example' ? remote.smtpPort : host === 'mx.sink.example' ? sink.port : refused),
      connectTimeoutMs: 2000,
      commandTimeoutMs: 5000,
      dataTimeoutMs: 5000,
    },
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: { 'mjl@example.com': {}, 'fid@example.com': {} },
        FromIDLoginAddresses: ['fid@example.com'],
        KeepRetiredMessagePeriod: '24h',
        OutgoingWebhook: { URL: `${rx.url}/out` },
      },
    },
    passwords: { mjl: PASSWORD },
  });
});

after(async () => {
  await ts.stop();
  await remote.stop();
  await sink.close();
  await rx.close();
});

async function submit(user: string, to: string, subject: string, envid?: string): Promise<number> {
  const t = createTransport({ host: '127.0.0.1', port: ts.submissionPort, requireTLS: true, tls: { ca: [ts.certPem], servername: 'localhost' }, auth: { user, pass: PASSWORD } });
  try {
    const info = await t.sendMail({ from: 'mjl@example.com', to, subject, text: 'hello', ...(envid ? { dsn: { id: envid, return: 'headers' as const, notify: 'failure' as const } } : {}) });
    const m = /id (\d+)/.exec(info.response);
    assert.ok(m, info.response);
    return Number(m[1]);
  } finally {
    t.close();
  }
}

/** The next outgoing webhook for a queue message with the given event. */
async function hook(queueMsgId: number, event: string): Promise<Record<string, any>> {
  for (;;) {
    const p = rx.requests.map((r) => JSON.parse(r.body) as Record<string, any>).find((p) => p.QueueMsgID === queueMsgId && p.Event === event);
    if (p) return p;
    await rx.waitFor(rx.requests.length + 1);
  }
}

/** The copy the remote stored for `account` with this subject. */
async function remoteCopy(account: string, subject: string): Promise<Buffer> {
  const a = remote.server.store.account(account);
  const m = a.listMessages(a.mailbox('Inbox')!.id).find((m) => m.subject === subject);
  assert.ok(m, `remote has "${subject}"`);
  return a.readMessage(m.id);
}

async function bounceBack(returnPath: string, dsn: Buffer): Promise<void> {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  await c.cmd('EHLO mx.remote.example');
  const r = await sendRaw(c, '', [returnPath], dsn.toString('utf8'));
  assert.equal(r.code, 250, r.text);
  c.close();
}

test('delivered to the remote with a fromid, bounced later: failed (DSN), suppressed, next message suppressed at delivery', async () => {
  const id = await submit('fid@example.com', 'bob@remote.example', 'first contact');
  const delivered = await hook(id, 'delivered');
  assert.equal(delivered.DSN, false);
  const copy = await remoteCopy('bob', 'first contact');
  const h = parseHeader(copy.subarray(0, copy.indexOf('\r\n\r\n') + 2));
  const returnPath = /<([^>]*)>/.exec(h.get('return-path') ?? '')![1]!;
  assert.equal(returnPath, `mjl+${delivered.FromID}@example.com`, 'the remote saw our fromid MAIL FROM');

  await bounceBack(returnPath, remoteDsn({ to: returnPath, recipients: [failedRecipient('bob@remote.example', '550 5.1.1 bob has left')], original: copy }));
  const failed = await hook(id, 'failed');
  assert.equal(failed.DSN, true);
  assert.equal(failed.Suppressing, true);
  assert.equal(failed.FromID, delivered.FromID);
  assert.equal(failed.SMTPCode, 550);
  assert.equal(failed.SMTPEnhancedCode, '5.1.1');
  assert.equal(ts.server.queue.getRetired(id)!.outcome, 'failed');
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'bob@remote.example'));

  // The next message to bob is not sent: suppressed at delivery time (mox §3.9).
  const before = remote.server.store.account('bob').listMessages(remote.server.store.account('bob').mailbox('Inbox')!.id).length;
  const id2 = await submit('fid@example.com', 'bob@remote.example', 'second try');
  const sup = await hook(id2, 'suppressed');
  assert.equal(sup.DSN, false);
  assert.equal(remote.server.store.account('bob').listMessages(remote.server.store.account('bob').mailbox('Inbox')!.id).length, before);
});

test('delivered without fromid, bounced to the plain address: matched by the returned Message-ID', async () => {
  const id = await submit('mjl@example.com', 'carol@remote.example', 'plain sender');
  const delivered = await hook(id, 'delivered');
  assert.equal(delivered.FromID, '');
  const copy = await remoteCopy('bob', 'plain sender');
  await bounceBack('mjl@example.com', remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('carol@remote.example', '550 5.7.1 not welcome here')], original: copy }));
  const failed = await hook(id, 'failed');
  assert.equal(failed.DSN, true);
  assert.equal(failed.MessageID, delivered.MessageID);
  assert.equal(failed.SMTPEnhancedCode, '5.7.1');
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'carol@remote.example'));
});

test('ENVID given at submission, passed on to the next hop, returned alone in a DSN: matched by ENVID', async () => {
  const id = await submit('mjl@example.com', 'dora@sink.example', 'with envid', 'order-4711');
  await hook(id, 'delivered');
  const mail = sink.commands.find((c) => c.startsWith('MAIL FROM:<mjl@example.com>') && /ENVID=/.test(c));
  assert.ok(mail, `the MX got an ENVID: ${sink.commands.join(' | ')}`);
  const envid = /ENVID=(\S+)/.exec(mail)![1]!.replace(/\+([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  assert.equal(envid, 'order-4711');
  // A report with no returned headers: only the ENVID ties it to the message.
  await bounceBack('mjl@example.com', remoteDsn({ to: 'mjl@example.com', envid, recipients: [failedRecipient('dora@sink.example', '554 5.7.1 spam suspected')] }));
  const failed = await hook(id, 'failed');
  assert.equal(failed.DSN, true);
  assert.equal(failed.SMTPCode, 554);
  assert.match(ts.server.queue.getRetired(id)!.results.at(-1)!.error, /incoming dsn: failed: 554 5\.7\.1/);
});
