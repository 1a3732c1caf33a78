/**
 * Webapi Send against a real server on 127.0.0.1:0 with undici: the queued messages (one row per
 * recipient, headers, MIME layout, Extra, RequireTLS, FutureRelease, fromid), multipart file
 * uploads, SaveSent, every Send error code, and Idempotency-Key retries.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWebapiServer, post, form, basic, PASSWORD, type WebapiTestServer } from './helpers/webapi.js';
import { WebapiError } from '../webapi/client.js';
import { parseBuffer, type Part } from '../message/part.js';
import { parseHeader } from '../message/header.js';
import { decodeTransfer } from '../message/decode.js';

let ts: WebapiTestServer;

before(async () => {
  ts = await startWebapiServer({
    domains: {
      'example.com': { LocalpartCatchallSeparator: '+', Aliases: { sales: { Addresses: ['mjl@example.com'], AllowMsgFrom: true } } },
      'disabled.example': { Disabled: true },
    },
    accounts: {
      mjl: { Domain: 'example.com', FullName: 'Mjl Example', Destinations: { 'mjl@example.com': {}, 'x@disabled.example': {} } },
      other: { Domain: 'example.com', Destinations: { 'other@example.com': {} } },
      fromid: { Domain: 'example.com', Destinations: { 'app@example.com': {} }, FromIDLoginAddresses: ['app@example.com'] },
      limited: { Domain: 'example.com', Destinations: { 'limited@example.com': {} }, MaxOutgoingMessagesPerDay: 4, MaxFirstTimeRecipientsPerDay: 3 },
      small: { Domain: 'example.com', Destinations: { 'small@example.com': {} }, QuotaMessageSize: 600 },
    },
    passwords: { other: 'otherpass', fromid: 'fromidpass', limited: 'limitedpass', small: 'smallpass' },
    listener: { SMTPMaxMessageSize: 50_000 },
  });
});

after(async () => {
  await ts.stop();
});

async function queued(id: number): Promise<{ bytes: Buffer; root: Part; header: ReturnType<typeof parseHeader> }> {
  const bytes = await ts.server.queue.messageBytes(id);
  const root = parseBuffer(bytes);
  return { bytes, root, header: parseHeader(bytes.subarray(0, root.bodyOffset)) };
}

test('Send: one queue row per recipient in To, CC, BCC order; headers as composed', async () => {
  const c = ts.client();
  const r = await c.send({
    To: [{ Name: 'Rcpt One', Address: 'One@Remote.Example' }],
    CC: [{ Address: 'two@remote.example' }],
    BCC: [{ Address: 'hidden@remote.example' }],
    ReplyTo: [{ Address: 'reply@example.com' }],
    Subject: 'Grüße',
    Text: 'hello\nworld\n',
    References: ['<a@x>', '<b@x>'],
    Headers: [['X-App', 'yes']],
    Extra: { 'order-id': '42' },
  });
  assert.match(r.MessageID, /^<[A-Za-z0-9_-]+@mail\.example\.com>$/);
  assert.deepEqual(r.Submissions.map((s) => [s.Address, s.FromID]), [
    ['One@Remote.Example', ''],
    ['two@remote.example', ''],
    ['hidden@remote.example', ''],
  ]);
  const rows = r.Submissions.map((s) => ts.server.queue.get(s.QueueMsgID)!);
  assert.deepEqual(rows.map((m) => `${m.recipientLocalpart}@${m.recipientDomain}`), ['One@remote.example', 'two@remote.example', 'hidden@remote.example']);
  for (const m of rows) {
    assert.equal(m.senderAccount, 'mjl');
    assert.equal(`${m.senderLocalpart}@${m.senderDomain}`, 'mjl@example.com');
    assert.equal(m.messageId, r.MessageID);
    assert.deepEqual(m.extra, { 'order-id': '42' });
    assert.equal(m.requireTLS, null);
  }
  const { header, root, bytes } = await queued(r.Submissions[0]!.QueueMsgID);
  assert.equal(header.get('from'), 'Mjl Example <mjl@example.com>');
  assert.equal(header.get('to'), 'Rcpt One <One@remote.example>');
  assert.equal(header.get('cc'), '<two@remote.example>');
  assert.equal(header.has('bcc'), false);
  assert.ok(!bytes.toString('latin1').includes('hidden@remote.example'));
  assert.equal(header.get('reply-to'), '<reply@example.com>');
  assert.equal(header.get('message-id'), r.MessageID);
  assert.equal(header.get('in-reply-to'), '<b@x>');
  assert.equal(header.get('x-app'), 'yes');
  assert.match(header.get('user-agent')!, /^moxts\//);
  assert.match(header.get('received')!, /via webapi with HTTP/);
  assert.equal(`${root.mediaType}/${root.mediaSubType}`, 'TEXT/PLAIN');
  assert.equal(decodeTransfer(root.contentTransferEncoding, bytes.subarray(root.bodyOffset)).toString(), 'hello\r\nworld\r\n');
});

test('Send: From alias with AllowMsgFrom, RequireTLS, FutureRelease, past FutureRelease, own MessageID and Date', async () => {
  const c = ts.client();
  const at = new Date(Date.now() + 3600_000);
  const r = await c.send({
    From: [{ Address: 'sales@example.com' }],
    To: [{ Address: 'a@remote.example' }],
    HTML: '<p>hi</p>',
    RequireTLS: false,
    FutureRelease: at.toISOString(),
    MessageID: '<mine@example.com>',
    Date: '2026-01-02T03:04:05Z',
  });
  assert.equal(r.MessageID, '<mine@example.com>');
  const m = ts.server.queue.get(r.Submissions[0]!.QueueMsgID)!;
  assert.equal(m.requireTLS, false);
  assert.ok(Math.abs(m.nextAttempt.getTime() - at.getTime()) < 1000);
  assert.match(m.futureRelease!, /^until;/);
  const { header } = await queued(m.id);
  assert.equal(header.get('from'), '<sales@example.com>');
  assert.equal(header.get('date'), 'Fri, 2 Jan 2026 03:04:05 +0000');
  const past = await c.send({ To: [{ Address: 'a@remote.example' }], Text: 'x', FutureRelease: '2020-01-01T00:00:00Z', RequireTLS: true });
  const pm = ts.server.queue.get(past.Submissions[0]!.QueueMsgID)!;
  assert.equal(pm.futureRelease, null);
  assert.equal(pm.requireTLS, true);
  assert.ok(pm.nextAttempt.getTime() <= Date.now());
});

test('Send: files as base64 JSON and as multipart uploads; layout mixed › related › alternative', async () => {
  const c = ts.client();
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(300, 1)]);
  const r = await c.send(
    {
      To: [{ Address: 'a@remote.example' }],
      Text: 'see attached',
      HTML: '<img src="cid:logo@x">',
      AttachedFiles: [{ Name: 'notes.txt', Data: Buffer.from('some notes\n').toString('base64') }],
    },
    {
      files: [
        { field: 'inlinefile', filename: 'logo.png', contentType: 'image/png', data: png },
        { field: 'attachedfile', filename: 'report.pdf', data: Buffer.from('%PDF-1.4 fake') },
      ],
    },
  );
  const { root, bytes } = await queued(r.Submissions[0]!.QueueMsgID);
  const shape = (p: Part): string => (p.mediaType === 'MULTIPART' ? `${p.mediaSubType}(${p.parts.map(shape).join(',')})` : `${p.mediaType}/${p.mediaSubType}`).toLowerCase();
  assert.equal(shape(root), 'mixed(related(alternative(text/plain,text/html),image/png),text/plain,application/pdf)');
  const img = root.parts[0]!.parts[1]!;
  assert.ok(decodeTransfer(img.contentTransferEncoding, bytes.subarray(img.bodyOffset, img.endOffset)).equals(png));
  assert.equal(img.contentDispositionParams['filename'], 'logo.png');
  const notes = root.parts[1]!;
  assert.equal(notes.contentDisposition, 'ATTACHMENT');
  assert.equal(decodeTransfer(notes.contentTransferEncoding, bytes.subarray(notes.bodyOffset, notes.endOffset)).toString(), 'some notes\n');
  assert.equal(root.parts[2]!.contentDispositionParams['filename'], 'report.pdf');

  // A raw multipart request keeps each file's Content-ID part header (mox).
  const b = 'BoUnDaRy';
  const mp = [
    `--${b}`,
    'Content-Disposition: form-data; name="request"',
    '',
    JSON.stringify({ To: [{ Address: 'a@remote.example' }], HTML: '<img src="cid:pic1">' }),
    `--${b}`,
    'Content-Disposition: form-data; name="inlinefile"; filename="p.gif"',
    'Content-Type: image/gif',
    'Content-ID: <pic1>',
    '',
    'GIF89a....',
    `--${b}--`,
    '',
  ].join('\r\n');
  const res = await post(`${ts.base}v0/Send`, mp, { 'content-type': `multipart/form-data; boundary=${b}`, authorization: basic('mjl@example.com', PASSWORD) });
  assert.equal(res.status, 200, res.text);
  const q = await queued((JSON.parse(res.text) as { Submissions: Array<{ QueueMsgID: number }> }).Submissions[0]!.QueueMsgID);
  assert.equal(q.root.parts[1]!.contentId, '<pic1>');
  assert.equal(q.root.parts[1]!.mediaSubType, 'GIF');
});

test('Send: SaveSent stores a copy with Bcc in Sent, \\Seen and $notjunk', async () => {
  const c = ts.client();
  const r = await c.send({ To: [{ Address: 'a@remote.example' }], BCC: [{ Address: 'secret@remote.example' }], Text: 'copy', SaveSent: true });
  const acc = ts.server.store.account('mjl');
  const sent = acc.mailbox('Sent')!;
  const msgs = acc.listMessages(sent.id);
  const m = msgs[msgs.length - 1]!;
  assert.equal(m.flags.seen, true);
  assert.deepEqual(m.keywords, ['$notjunk']);
  const bytes = await acc.readMessage(m.id);
  const h = parseHeader(bytes);
  assert.equal(h.get('bcc'), 'secret@remote.example');
  assert.equal(h.get('message-id'), r.MessageID);
});

test('Send: error codes', async () => {
  const c = ts.client();
  const code = async (p: Promise<unknown>, want: string) => {
    await assert.rejects(p, (e: WebapiError) => {
      assert.equal(e.code, want, e.message);
      assert.equal(e.status, 400);
      return true;
    });
  };
  const to = [{ Address: 'a@remote.example' }];
  await code(c.send({ To: [{ Address: 'not-an-address' }], Text: 'x' }), 'badAddress');
  await code(c.send({ To: to, CC: [{ Address: '@nolocal.example' }], Text: 'x' }), 'badAddress');
  await code(c.send({ To: to }), 'missingBody');
  await code(c.send({ To: to, Text: '' , HTML: '' }), 'missingBody');
  await code(c.send({ From: [{ Address: 'mjl@example.com' }, { Address: 'mjl@example.com' }], To: to, Text: 'x' }), 'multipleFrom');
  await code(c.send({ From: [{ Address: 'other@example.com' }], To: to, Text: 'x' }), 'badFrom');
  await code(c.send({ From: [{ Address: 'someone@remote.example' }], To: to, Text: 'x' }), 'badFrom');
  await code(c.send({ From: [{ Address: 'x@disabled.example' }], To: to, Text: 'x' }), 'domainDisabled');
  await code(c.send({ Text: 'x' }), 'noRecipients');
  await code(c.send({ To: to, Text: 'x', MessageID: 'no-brackets@x' }), 'malformedMessageID');
  await code(c.send({ To: to, Text: 'x'.repeat(60_000) }), 'messageTooLarge');
  await code(c.send({ To: to, Text: 'x', AttachedFiles: [{ Data: Buffer.alloc(45_000).toString('base64') }] }), 'messageTooLarge');
  await code(c.send({ To: to, Text: 'x', FutureRelease: new Date(Date.now() + 61 * 86400_000).toISOString() }), 'user');
  await code(c.send({ To: to, Text: 'x', AttachedFiles: [{ Data: 'not base64!' }] }), 'user');
  await code(c.send({ To: to, Text: 'x', Headers: [['Bad Header', 'x']] }), 'user');
  await code(c.send({ To: to, Subject: 'a\nBcc: injected@x', Text: 'x' }), 'user');
  // A request body far past the size limit.
  const huge = await post(`${ts.base}v0/Send`, 'request=' + 'x'.repeat(2_000_000), { ...form({}).headers, authorization: basic('mjl@example.com', PASSWORD) });
  assert.equal(huge.status, 400);
  assert.equal(huge.json().Code, 'messageTooLarge');

  // Send limits: 4 messages (one per recipient, as mox counts) per day, 3 first-time recipients.
  const l = ts.client('limited@example.com', 'limitedpass');
  await l.send({ To: [{ Address: 'r1@remote.example' }, { Address: 'r2@remote.example' }], Text: 'x' });
  await code(l.send({ To: [{ Address: 'r3@remote.example' }, { Address: 'r4@remote.example' }], Text: 'x' }), 'recipientLimitReached');
  await l.send({ To: [{ Address: 'r1@remote.example' }], Text: 'x' });
  await l.send({ To: [{ Address: 'r2@remote.example' }], Text: 'x' });
  await code(l.send({ To: [{ Address: 'r1@remote.example' }], Text: 'x' }), 'messageLimitReached');

  // SaveSent over quota: sent anyway, then sentOverQuota.
  const s = ts.client('small@example.com', 'smallpass');
  const before = ts.server.queue.count({ account: 'small' });
  await code(s.send({ To: to, Text: 'y'.repeat(700), SaveSent: true }), 'sentOverQuota');
  assert.equal(ts.server.queue.count({ account: 'small' }), before + 1);
});

test('Send: fromid for FromIDLoginAddresses, unique per recipient', async () => {
  const c = ts.client('app@example.com', 'fromidpass');
  const r = await c.send({ To: [{ Address: 'a@remote.example' }, { Address: 'b@remote.example' }], Text: 'x' });
  const ids = r.Submissions.map((s) => s.FromID);
  assert.ok(ids.every((id) => id.length >= 16));
  assert.notEqual(ids[0], ids[1]);
  for (const s of r.Submissions) {
    const m = ts.server.queue.get(s.QueueMsgID)!;
    assert.equal(m.fromId, s.FromID);
    assert.equal(m.senderLocalpart, `app+${s.FromID}`);
  }
});

test('Send: Idempotency-Key: a repeat returns the first result and queues nothing', async () => {
  const c = ts.client('other@example.com', 'otherpass');
  const req = { To: [{ Address: 'a@remote.example' }, { Address: 'b@remote.example' }], Subject: 'once', Text: 'only once' };
  const count = () => ts.server.queue.count({ account: 'other' });
  const n0 = count();
  const first = await c.send(req, { idempotencyKey: 'order-1' });
  assert.equal(count(), n0 + 2);
  const again = await c.send(req, { idempotencyKey: 'order-1' });
  assert.deepEqual(again, first);
  assert.equal(count(), n0 + 2);
  // The replay is marked.
  const raw = await post(`${ts.base}v0/Send`, form(req).body, { ...form(req).headers, authorization: basic('other@example.com', 'otherpass'), 'idempotency-key': 'order-1' });
  assert.equal(raw.headers['idempotent-replayed'], 'true');
  assert.deepEqual(JSON.parse(raw.text), first);
  // Same key, other request: refused. Other key or other account: a new message.
  await assert.rejects(c.send({ ...req, Text: 'changed' }, { idempotencyKey: 'order-1' }), (e: WebapiError) => e.code === 'user');
  const other = await c.send(req, { idempotencyKey: 'order-2' });
  assert.notEqual(other.MessageID, first.MessageID);
  assert.equal(count(), n0 + 4);
  const mine = await ts.client().send(req, { idempotencyKey: 'order-1' });
  assert.notEqual(mine.MessageID, first.MessageID);
  // Concurrent repeats: one submission.
  const results = await Promise.all(Array.from({ length: 5 }, () => c.send(req, { idempotencyKey: 'order-3' })));
  assert.equal(new Set(results.map((r) => r.MessageID)).size, 1);
  assert.equal(count(), n0 + 6);
  // A failed request is not remembered: fixing it and retrying with the same key works.
  await assert.rejects(c.send({ To: req.To }, { idempotencyKey: 'order-4' }), (e: WebapiError) => e.code === 'missingBody');
  const fixed = await c.send(req, { idempotencyKey: 'order-4' });
  assert.equal(fixed.Submissions.length, 2);
  await assert.rejects(c.send(req, { idempotencyKey: 'x'.repeat(300) }), (e: WebapiError) => e.code === 'protocol');
});
