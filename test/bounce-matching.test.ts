/**
 * Reports coming back about messages we sent, delivered over SMTP (port 25) to a real server:
 * a remote accepted our message (queue rows added and retired as delivered) and later sends a DSN
 * to the fromid address, a DSN matched only by the returned Message-ID, one matched by ENVID, a
 * large spilled DSN, an ARF complaint, and a reply to a fromid address. Each produces the outgoing
 * event (queue/events.ts, read back as the outgoing webhook it becomes) and suppression entry mox would (plus `complained`), and the report
 * itself stays in the Inbox.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawSmtp, sendRaw } from './helpers/smtp-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { remoteDsn, failedRecipient, originalMessage, arfComplaint, personalReply } from './helpers/reports.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import type { OutgoingPayload } from '../queue/events.js';
import type { AddInput, RetiredMsg } from '../queue/store.js';

let ts: TestServer;
let rx: WebhookReceiver;

before(async () => {
  rx = await WebhookReceiver.start();
  ts = await startTestServer({
    accounts: {
      mjl: {
        Domain: 'example.com',
        Destinations: { 'mjl@example.com': {} },
        KeepRetiredMessagePeriod: '24h',
        // The outgoing events are read back from the webhooks they become (webhook/ consumes the event log).
        OutgoingWebhook: { URL: `${rx.url}/out` },
        KeepRetiredWebhookPeriod: '24h',
      },
      other: { Domain: 'example.com', Destinations: { 'other@example.com': {} } },
    },
    noQueueScheduler: true, // the queue's outcomes are simulated by retiring rows directly
  });
  // The rows these tests add stand for messages the remote already accepted: keep the queue from
  // trying to deliver them between add and retire.
  ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
});

after(async () => {
  await ts.stop();
  await rx.close();
});

/** What our queue did: a submission accepted by the remote (retired as delivered). */
async function sentAndAccepted(over: Partial<AddInput> = {}): Promise<RetiredMsg[]> {
  const q = ts.server.queue;
  const messageId = over.messageId ?? `<${Math.random().toString(36).slice(2)}@example.com>`;
  const rows = await q.add({
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: [{ localpart: 'a', domain: 'remote.example' }],
    message: originalMessage({ from: 'mjl@example.com', to: 'a@remote.example', messageId }),
    messageId,
    subject: 'hi',
    ...over,
  });
  return q.retire({ ids: rows.map((r) => r.id) }, 'delivered', { success: true, code: 250, error: '', host: 'mx.remote.example' });
}

async function deliver(from: string, to: string, message: Buffer | string): Promise<void> {
  const c = await RawSmtp.connect(ts.smtpPort);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd('EHLO mx.remote.example')).code, 250);
  const r = await sendRaw(c, from, [to], message.toString());
  assert.equal(r.code, 250, r.text);
  await c.cmd('QUIT');
  c.close();
}

/** All outgoing webhooks of mjl (queued or done), once the event log has been consumed. */
async function allHooks(): Promise<Array<{ queueMsgId: number; event: string; payload: OutgoingPayload }>> {
  const w = ts.server.webhooks;
  while (w.store.hasEvents()) {
    w.worker.kick();
    await w.worker.idle();
  }
  return [...w.store.list({}, undefined, 10_000), ...w.store.listRetired({}, 10_000)]
    .filter((h) => !h.isIncoming && h.account === 'mjl')
    .sort((a, b) => a.id - b.id)
    .map((h) => ({ queueMsgId: h.queueMsgId, event: h.outgoingEvent, payload: JSON.parse(h.payload) as OutgoingPayload }));
}

/** Events about a message caused by the incoming report (retiring as delivered gave a "delivered" one, left out). */
async function eventsFor(queueMsgId: number) {
  return (await allHooks()).filter((e) => e.queueMsgId === queueMsgId && e.event !== 'delivered');
}

function inboxSubjects(account: string): string[] {
  const a = ts.server.store.account(account);
  return a.listMessages(a.mailbox('Inbox')!.id).map((m) => m.subject ?? '');
}

test('a DSN over SMTP to the fromid address: failed event with DSN true, suppression entry, DSN kept in the Inbox', async () => {
  const [rm] = await sentAndAccepted({ recipients: [{ localpart: 'gone', domain: 'remote.example', fromId: 'FidFailed0000000000001' }] });
  const original = originalMessage({ from: 'mjl+FidFailed0000000000001@example.com', to: 'gone@remote.example', messageId: rm!.messageId });
  const dsn = remoteDsn({ to: 'mjl+FidFailed0000000000001@example.com', recipients: [failedRecipient('gone@remote.example')], original });
  const before = inboxSubjects('mjl').length;
  await deliver('', 'mjl+FidFailed0000000000001@example.com', dsn);

  const evs = await eventsFor(rm!.id);
  assert.equal(evs.length, 1);
  const p = evs[0]!.payload;
  assert.equal(p.Event, 'failed');
  assert.equal(p.DSN, true);
  assert.equal(p.Suppressing, true);
  assert.equal(p.FromID, 'FidFailed0000000000001');
  assert.equal(p.MessageID, rm!.messageId);
  assert.equal(p.SMTPCode, 550);
  assert.equal(p.SMTPEnhancedCode, '5.1.1');
  const sup = ts.server.queue.lookupSuppression('mjl', 'gone@remote.example');
  assert.ok(sup);
  assert.match(sup.reason, /DSN with smtp code 550 5\.1\.1/);
  const retired = ts.server.queue.getRetired(rm!.id)!;
  assert.equal(retired.outcome, 'failed');
  assert.match(retired.results.at(-1)!.error, /incoming dsn: failed/);
  // mox: the DSN itself is delivered into the account as well.
  const subjects = inboxSubjects('mjl');
  assert.equal(subjects.length, before + 1);
  assert.match(subjects.at(-1)!, /Delivery failure/);
});

test('a DSN matched only by the Message-ID of the returned headers (no fromid, no ENVID)', async () => {
  const rows = await sentAndAccepted({
    recipients: [
      { localpart: 'one', domain: 'remote.example' },
      { localpart: 'two', domain: 'remote.example' },
    ],
  });
  const original = originalMessage({ from: 'mjl@example.com', to: 'one@remote.example', messageId: rows[0]!.messageId });
  await deliver('', 'mjl@example.com', remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('two@remote.example', '550 5.7.1 rejected by policy')], original }));
  assert.equal((await eventsFor(rows[0]!.id)).length, 0, 'the other recipient has no event');
  const [ev] = await eventsFor(rows[1]!.id);
  assert.equal(ev?.payload.Event, 'failed');
  assert.equal(ev.payload.DSN, true);
  assert.equal(ev.payload.SMTPEnhancedCode, '5.7.1');
  assert.equal(ev.payload.Suppressing, true, 'x.7.1 suppresses at once (mox §3.9)');
  assert.ok(ts.server.queue.lookupSuppression('mjl', 'two@remote.example'));
  assert.equal(ts.server.queue.lookupSuppression('mjl', 'one@remote.example'), undefined);
});

test('a delayed DSN matched by ENVID gives delayed and no suppression; a large (spilled) DSN with the full original still matches', async () => {
  const [rm] = await sentAndAccepted({ recipients: [{ localpart: 'slow', domain: 'remote.example' }], envid: 'ENV-slow-1' });
  const delayed = remoteDsn({
    to: 'mjl@example.com',
    envid: 'ENV-slow-1',
    recipients: [{ finalRecipient: 'slow@remote.example', action: 'delayed', status: '4.4.1', diagnosticCode: '451 4.4.1 mailbox temporarily unavailable' }],
  });
  await deliver('', 'mjl@example.com', delayed);
  const [ev] = await eventsFor(rm!.id);
  assert.equal(ev?.payload.Event, 'delayed');
  assert.equal(ev.payload.SMTPCode, 451);
  assert.equal(ts.server.queue.lookupSuppression('mjl', 'slow@remote.example'), undefined);

  // 600 KB returned message: the SMTP server spills it to disk; the report is at the start.
  const [big] = await sentAndAccepted({ recipients: [{ localpart: 'big', domain: 'remote.example', fromId: 'FidBig0000000000000001' }] });
  const bigOriginal = Buffer.concat([originalMessage({ from: 'mjl@example.com', to: 'big@remote.example', messageId: big!.messageId }), Buffer.from('x'.repeat(70).concat('\r\n').repeat(8500))]);
  const bigDsn = (await import('../dsn/compose.js')).composeDsn({
    hostname: 'mx.remote.example',
    to: 'mjl+FidBig0000000000000001@example.com',
    recipients: [failedRecipient('big@remote.example', '552 5.3.4 message too big')],
    original: bigOriginal,
    ret: 'FULL',
    maxFullSize: 2 * 1024 * 1024,
  });
  assert.ok(bigDsn.length > 512 * 1024);
  await deliver('', 'mjl+FidBig0000000000000001@example.com', bigDsn);
  const [bev] = await eventsFor(big!.id);
  assert.equal(bev?.payload.Event, 'failed');
  assert.equal(bev.payload.SMTPCode, 552);
  assert.equal(bev.payload.Suppressing, false, '552 5.3.4 is no reason to suppress at once');
});

test('an ARF complaint about our message produces complained and a suppression entry with reason "complaint"', async () => {
  const [rm] = await sentAndAccepted({ recipients: [{ localpart: 'angry', domain: 'remote.example' }] });
  const original = originalMessage({ from: 'mjl@example.com', to: 'angry@remote.example', messageId: rm!.messageId });
  await deliver('fbl@isp.example', 'mjl@example.com', arfComplaint({ to: 'mjl@example.com', recipient: 'angry@remote.example', original }));
  const [ev] = await eventsFor(rm!.id);
  assert.equal(ev?.event, 'complained');
  assert.equal(ev.payload.Event, 'complained');
  assert.equal(ev.payload.Suppressing, true);
  assert.equal(ts.server.queue.lookupSuppression('mjl', 'angry@remote.example')?.reason, 'complaint');
});

test('a reply to a fromid address is unrecognized (DSN false); ordinary mail and other accounts produce no events', async () => {
  const [rm] = await sentAndAccepted({ recipients: [{ localpart: 'friend', domain: 'remote.example', fromId: 'FidReply00000000000001' }] });
  await deliver('friend@remote.example', 'mjl+FidReply00000000000001@example.com', personalReply({ to: 'mjl+FidReply00000000000001@example.com', inReplyTo: rm!.messageId }));
  const [ev] = await eventsFor(rm!.id);
  assert.equal(ev?.payload.Event, 'unrecognized');
  assert.equal(ev.payload.DSN, false);

  const n = (await allHooks()).length;
  await deliver('friend@remote.example', 'mjl@example.com', personalReply({ to: 'mjl@example.com', inReplyTo: rm!.messageId }));
  await deliver('', 'other@example.com', remoteDsn({ to: 'other@example.com', recipients: [failedRecipient('friend@remote.example')], original: originalMessage({ from: 'mjl@example.com', to: 'friend@remote.example', messageId: rm!.messageId }) }));
  assert.equal((await allHooks()).length, n);
});

test('SMTP DSN extension on port 25: RET, ENVID, NOTIFY, ORCPT accepted; bad values get 501 5.5.4', async () => {
  const c = await RawSmtp.connect(ts.smtpPort);
  await c.reply();
  const e = await c.cmd('EHLO mx.remote.example');
  assert.ok(e.lines.some((l) => l.slice(4) === 'DSN'));
  assert.equal((await c.cmd('MAIL FROM:<a@remote.example> RET=HDRS ENVID=abc+2Bdef')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<mjl@example.com> NOTIFY=FAILURE,DELAY ORCPT=rfc822;mjl+40example.com')).code, 250);
  assert.equal((await c.cmd('RSET')).code, 250);
  for (const bad of ['MAIL FROM:<a@remote.example> RET=SOME', 'MAIL FROM:<a@remote.example> ENVID=a+zz', 'MAIL FROM:<a@remote.example> RET=FULL RET=HDRS']) {
    const r = await c.cmd(bad);
    assert.equal(r.code, 501, bad);
    assert.equal(r.enhanced, '5.5.4', bad);
  }
  assert.equal((await c.cmd('MAIL FROM:<a@remote.example>')).code, 250);
  for (const bad of ['RCPT TO:<mjl@example.com> NOTIFY=NEVER,FAILURE', 'RCPT TO:<mjl@example.com> NOTIFY=SOMETIMES', 'RCPT TO:<mjl@example.com> ORCPT=nosemicolon']) {
    const r = await c.cmd(bad);
    assert.equal(r.code, 501, bad);
  }
  c.close();
});
