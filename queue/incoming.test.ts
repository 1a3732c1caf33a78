import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, type AddInput, type RetiredMsg } from './store.js';
import { IncomingReports, fromIdOf, COMPLAINT_REASON, type IncomingReportInput } from './incoming.js';
import { readEvents } from './events.js';
import { remoteDsn, failedRecipient, originalMessage, qmailBounce, arfComplaint, personalReply } from '../test/helpers/reports.js';

let now = Date.UTC(2026, 10, 21, 12, 0, 0);
const clock = () => new Date(now);
const DAY = 86_400_000;

async function withQueue(fn: (q: QueueStore, r: IncomingReports) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-incoming-'));
  const q = await QueueStore.open({ dataDir, clock, keepRetiredFor: (a) => (a === 'noretire' ? 0 : DAY) });
  try {
    await fn(q, new IncomingReports({ queue: q, clock }));
  } finally {
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Queue a submission and retire its rows as delivered (the remote accepted it). */
async function sent(q: QueueStore, over: Partial<AddInput> = {}): Promise<RetiredMsg[]> {
  const rows = await q.add({
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: [{ localpart: 'a', domain: 'gmail.com', fromId: 'FROMIDa' }],
    message: originalMessage({ from: 'mjl@example.com', to: 'a@gmail.com', messageId: '<m1@example.com>' }),
    messageId: '<m1@example.com>',
    subject: 'hi',
    extra: { campaign: 'c1' },
    ...over,
  });
  now += 1000;
  return q.retire({ ids: rows.map((r) => r.id) }, 'delivered', { success: true, code: 250, error: '' });
}

function input(over: Partial<IncomingReportInput>): IncomingReportInput {
  return { account: 'mjl', rcptTo: [{ localpart: 'mjl', domain: 'example.com' }], mailFrom: '', message: Buffer.alloc(0), separators: () => ['+'], ...over };
}

const original = originalMessage({ from: 'mjl+FROMIDa@example.com', to: 'a@gmail.com', messageId: '<m1@example.com>' });

test('fromIdOf: the part after the first catchall separator', () => {
  assert.equal(fromIdOf('mjl+abc', ['+']), 'abc');
  assert.equal(fromIdOf('mjl+abc+def', ['+', '-']), 'abc+def');
  assert.equal(fromIdOf('mjl-abc', ['+', '-']), undefined, 'only the first separator (mox)');
  assert.equal(fromIdOf('mjl+', ['+']), undefined);
  assert.equal(fromIdOf('+abc', ['+']), undefined);
  assert.equal(fromIdOf('mjl+abc', []), undefined);
});

test('incoming: failed DSN to a fromid address → failed event (DSN), history, suppression, in one go', async () => {
  await withQueue(async (q, r) => {
    const [rm] = await sent(q);
    now += 60_000;
    const res = r.process(
      input({ rcptTo: [{ localpart: 'mjl+FROMIDa', domain: 'example.com' }], message: remoteDsn({ to: 'mjl+FROMIDa@example.com', recipients: [failedRecipient('a@gmail.com')], original }) }),
    );
    assert.equal(res.outgoing, true);
    assert.equal(res.via, 'fromid');
    assert.equal(res.events.length, 1);
    assert.equal(res.events[0]!.event, 'failed');
    assert.equal(res.events[0]!.suppressing, true);

    const ev = readEvents(q.db).at(-1); // after the "delivered" event of retiring
    assert.equal(ev!.event, 'failed');
    assert.equal(ev!.account, 'mjl');
    assert.equal(ev!.queueMsgId, rm!.id);
    const p = ev!.payload;
    assert.equal(p.DSN, true);
    assert.equal(p.Suppressing, true);
    assert.equal(p.FromID, 'FROMIDa');
    assert.equal(p.MessageID, '<m1@example.com>');
    assert.equal(p.Subject, 'hi');
    assert.equal(p.SMTPCode, 550);
    assert.equal(p.SMTPEnhancedCode, '5.1.1');
    assert.deepEqual(p.Extra, { campaign: 'c1' });
    assert.match(p.Error, /incoming dsn: failed: 550 5\.1\.1/);

    const after = q.getRetired(rm!.id)!;
    assert.equal(after.outcome, 'failed');
    assert.equal(after.success, false);
    assert.equal(after.lastActivity.getTime(), now);
    assert.equal(after.results.length, 2);
    assert.deepEqual({ ...after.results[1]!, error: undefined }, { start: now, durationMs: 0, success: false, code: 550, enhanced: '5.1.1', error: undefined });

    const sup = q.lookupSuppression('mjl', 'a@gmail.com')!;
    assert.equal(sup.reason, 'delivery failure from DSN with smtp code 550 5.1.1');
    assert.equal(sup.manual, false);
  });
});

test('incoming: delayed, delivered, relayed, expanded DSNs give the same event and no suppression', async () => {
  await withQueue(async (q, r) => {
    const actions = ['delayed', 'delivered', 'relayed', 'expanded'] as const;
    for (const [i, action] of actions.entries()) {
      const fromId = `FID${i}`;
      const [rm] = await sent(q, { recipients: [{ localpart: 'a', domain: 'gmail.com', fromId }], messageId: `<m${i}@example.com>` });
      const status = action === 'delayed' ? '4.4.1' : '2.0.0';
      const reply = action === 'delayed' ? '451 4.4.1 try later' : '250 2.0.0 ok';
      const res = r.process(
        input({
          rcptTo: [{ localpart: `mjl+${fromId}`, domain: 'example.com' }],
          message: remoteDsn({ to: `mjl+${fromId}@example.com`, recipients: [{ finalRecipient: 'a@gmail.com', action, status, diagnosticCode: reply }] }),
        }),
      );
      assert.equal(res.outgoing, true, action);
      assert.equal(res.events[0]!.event, action);
      const ev = readEvents(q.db).at(-1)!;
      assert.equal(ev.payload.Event, action);
      assert.equal(ev.payload.DSN, true);
      assert.equal(ev.payload.Suppressing, false);
      assert.equal(ev.payload.SMTPCode, action === 'delayed' ? 451 : 0, 'SMTPCode 0 for delivered (mox)');
      const after = q.getRetired(rm!.id)!;
      assert.equal(after.success, true, 'still a success');
      assert.equal(after.results.at(-1)!.success, action !== 'delayed');
    }
    assert.equal(q.listSuppressions('mjl').length, 0);
  });
});

test('incoming: a non-report to a fromid address → unrecognized (DSN false); unknown fromid or other account → no match', async () => {
  await withQueue(async (q, r) => {
    const [rm] = await sent(q);
    const res = r.process(input({ mailFrom: 'a@gmail.com', rcptTo: [{ localpart: 'mjl+FROMIDa', domain: 'example.com' }], message: personalReply({ to: 'mjl+FROMIDa@example.com', inReplyTo: '<m1@example.com>' }) }));
    assert.equal(res.outgoing, true);
    assert.equal(res.events[0]!.event, 'unrecognized');
    const ev = readEvents(q.db).at(-1)!;
    assert.equal(ev.payload.DSN, false);
    assert.equal(ev.queueMsgId, rm!.id);
    assert.equal(q.getRetired(rm!.id)!.results.at(-1)!.error, 'incoming message not a dsn');
    assert.equal(q.getRetired(rm!.id)!.outcome, 'delivered', 'outcome unchanged');

    const n = readEvents(q.db).length;
    const dsn = remoteDsn({ to: 'mjl+NOPE@example.com', recipients: [failedRecipient('zz@gmail.com')] });
    assert.equal(r.process(input({ rcptTo: [{ localpart: 'mjl+NOPE', domain: 'example.com' }], message: dsn })).outgoing, false, 'unknown fromid');
    assert.equal(r.process(input({ account: 'other', rcptTo: [{ localpart: 'x+FROMIDa', domain: 'example.com' }], message: dsn })).outgoing, false, "another account's fromid");
    assert.equal(r.process(input({ rcptTo: [{ localpart: 'mjl+FROMIDa', domain: 'example.com' }], message: dsn, separators: () => [] })).outgoing, false, 'domain without separators');
    assert.equal(readEvents(q.db).length, n);
  });
});

test('incoming: DSN with several recipients to a fromid address: the one for our recipient; none of ours → unrecognized', async () => {
  await withQueue(async (q, r) => {
    await sent(q);
    const res = r.process(
      input({
        rcptTo: [{ localpart: 'mjl+FROMIDa', domain: 'example.com' }],
        message: remoteDsn({ to: 'mjl+FROMIDa@example.com', recipients: [failedRecipient('other@gmail.com', '552 5.2.2 full'), failedRecipient('a@gmail.com', '550 5.1.1 unknown')] }),
      }),
    );
    assert.equal(res.events[0]!.event, 'failed');
    assert.equal(readEvents(q.db).at(-1)!.payload.SMTPEnhancedCode, '5.1.1');

    await sent(q, { recipients: [{ localpart: 'b', domain: 'gmail.com', fromId: 'FROMIDb' }], messageId: '<m2@example.com>' });
    const res2 = r.process(
      input({
        rcptTo: [{ localpart: 'mjl+FROMIDb', domain: 'example.com' }],
        message: remoteDsn({ to: 'mjl+FROMIDb@example.com', recipients: [failedRecipient('x@gmail.com'), failedRecipient('y@gmail.com')] }),
      }),
    );
    assert.equal(res2.outgoing, true);
    assert.equal(res2.events[0]!.event, 'unrecognized');
    assert.equal(readEvents(q.db).at(-1)!.payload.DSN, true);
  });
});

test('incoming: matched by ENVID and recipient address', async () => {
  await withQueue(async (q, r) => {
    const rows = await sent(q, {
      recipients: [
        { localpart: 'a', domain: 'gmail.com' },
        { localpart: 'b', domain: 'gmail.com' },
      ],
      envid: 'env-42',
      messageId: '<other@example.com>',
    });
    const res = r.process(input({ message: remoteDsn({ to: 'mjl@example.com', envid: 'env-42', recipients: [failedRecipient('B@gmail.com')] }) }));
    assert.equal(res.outgoing, true);
    assert.equal(res.via, 'envid');
    assert.deepEqual(
      res.events.map((e) => [e.queueMsgId, e.event, e.recipient]),
      [[rows[1]!.id, 'failed', 'b@gmail.com']],
    );
    assert.equal(q.getRetired(rows[0]!.id)!.outcome, 'delivered', 'the other recipient is untouched');
    // Another account's ENVID never matches.
    assert.equal(r.process(input({ account: 'other', message: remoteDsn({ to: 'x@example.com', envid: 'env-42', recipients: [failedRecipient('a@gmail.com')] }) })).outgoing, false);
  });
});

test('incoming: matched by the returned Message-ID, per recipient of a multi-recipient submission', async () => {
  await withQueue(async (q, r) => {
    const rows = await sent(q, {
      recipients: [
        { localpart: 'a', domain: 'gmail.com' },
        { localpart: 'b', domain: 'gmail.com' },
      ],
    });
    const orig = originalMessage({ from: 'mjl@example.com', to: 'a@gmail.com', messageId: '<m1@example.com>' });
    const res = r.process(input({ message: remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('a@gmail.com')], original: orig }) }));
    assert.equal(res.via, 'message-id');
    assert.deepEqual(
      res.events.map((e) => [e.queueMsgId, e.event]),
      [[rows[0]!.id, 'failed']],
    );
    assert.ok(q.lookupSuppression('mjl', 'a@gmail.com'));
    assert.equal(q.lookupSuppression('mjl', 'b@gmail.com'), undefined);

    // A report whose recipient is not one we sent to, with two candidates: no match.
    const res2 = r.process(input({ message: remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('alias@gmail.com')], original: orig }) }));
    assert.equal(res2.outgoing, false);

    // A personal reply referencing our Message-ID is no report: an ordinary incoming message.
    const res3 = r.process(input({ mailFrom: 'a@gmail.com', message: personalReply({ to: 'mjl@example.com', inReplyTo: '<m1@example.com>' }) }));
    assert.deepEqual(res3, { outgoing: false, events: [] });
  });
});

test('incoming: a plain-text (qmail) bounce matched by Message-ID → failed with the stated codes', async () => {
  await withQueue(async (q, r) => {
    const [rm] = await sent(q, { recipients: [{ localpart: 'a', domain: 'gmail.com' }] });
    const res = r.process(input({ message: qmailBounce({ to: 'mjl@example.com', recipient: 'a@gmail.com', original }) }));
    assert.equal(res.outgoing, true);
    assert.equal(res.via, 'message-id');
    assert.equal(res.kind, 'bounce');
    const ev = readEvents(q.db).at(-1)!;
    assert.equal(ev.queueMsgId, rm!.id);
    assert.equal(ev.payload.Event, 'failed');
    assert.equal(ev.payload.DSN, true);
    assert.equal(ev.payload.SMTPCode, 550);
    assert.equal(ev.payload.SMTPEnhancedCode, '5.1.1');
    assert.match(ev.payload.Error, /bounce \(qmail\)/);
    assert.ok(q.lookupSuppression('mjl', 'a@gmail.com'));
  });
});

test('incoming: suppression rules: soft failures suppress only after three in a row; codes come from Status when the diagnostic has none', async () => {
  await withQueue(async (q, r) => {
    const full = (i: number) =>
      r.process(
        input({
          rcptTo: [{ localpart: `mjl+F${i}`, domain: 'example.com' }],
          message: remoteDsn({ to: `mjl+F${i}@example.com`, recipients: [failedRecipient('a@gmail.com', '552 5.2.2 mailbox full')] }),
        }),
      );
    for (const i of [1, 2, 3]) {
      await sent(q, { recipients: [{ localpart: 'a', domain: 'gmail.com', fromId: `F${i}` }], messageId: `<f${i}@example.com>` });
      now += 1000;
      const res = full(i);
      assert.equal(res.events[0]!.event, 'failed');
      assert.equal(res.events[0]!.suppressing, i === 3, `failure ${i}`);
    }
    assert.match(q.lookupSuppression('mjl', 'a@gmail.com')!.reason, /552 5\.2\.2/);

    // Status only (no Diagnostic-Code): code 500 with the Status as enhanced code (mox).
    await sent(q, { recipients: [{ localpart: 'c', domain: 'gmail.com', fromId: 'F9' }], messageId: '<f9@example.com>' });
    r.process(
      input({
        rcptTo: [{ localpart: 'mjl+F9', domain: 'example.com' }],
        message: remoteDsn({ to: 'mjl+F9@example.com', recipients: [{ finalRecipient: 'c@gmail.com', action: 'failed', status: '5.1.1' }] }),
      }),
    );
    const ev = readEvents(q.db).at(-1)!;
    assert.equal(ev.payload.SMTPCode, 500);
    assert.equal(ev.payload.SMTPEnhancedCode, '5.1.1');
    assert.equal(ev.payload.Suppressing, true, 'x.1.1 suppresses at once');
  });
});

test('incoming: ARF complaint matched by Message-ID → complained, suppression reason "complaint"; auth-failure reports are no complaint', async () => {
  await withQueue(async (q, r) => {
    const rows = await sent(q, {
      recipients: [
        { localpart: 'a', domain: 'gmail.com' },
        { localpart: 'b', domain: 'gmail.com' },
      ],
    });
    const res = r.process(input({ mailFrom: 'fbl@isp.example', message: arfComplaint({ to: 'fbl@example.com', recipient: 'b@gmail.com', original }) }));
    assert.equal(res.outgoing, true);
    assert.equal(res.kind, 'complaint');
    assert.deepEqual(
      res.events.map((e) => [e.queueMsgId, e.event, e.suppressing]),
      [[rows[1]!.id, 'complained', true]],
    );
    const ev = readEvents(q.db).at(-1)!;
    assert.equal(ev.payload.Event, 'complained');
    assert.equal(ev.payload.DSN, false);
    assert.equal(ev.payload.Suppressing, true);
    assert.match(ev.payload.Error, /incoming complaint \(abuse\) from fbl\.isp\.example/);
    assert.equal(q.lookupSuppression('mjl', 'b@gmail.com')!.reason, COMPLAINT_REASON);
    assert.equal(q.getRetired(rows[1]!.id)!.outcome, 'delivered', 'a complaint does not make the delivery a failure');

    // The same complaint again: event, but the address was already listed.
    const again = r.process(input({ mailFrom: 'fbl@isp.example', message: arfComplaint({ to: 'fbl@example.com', recipient: 'b@gmail.com', original }) }));
    assert.equal(again.events[0]!.suppressing, false);

    // A redacted complainant with two candidate recipients cannot be attributed.
    const redacted = originalMessage({ from: 'mjl@example.com', to: 'xxxxxxx@isp.example', messageId: '<m1@example.com>' });
    assert.equal(r.process(input({ mailFrom: 'fbl@isp.example', message: arfComplaint({ to: 'fbl@example.com', original: redacted }) })).outgoing, false);

    // auth-failure (rfc6591) is about authentication, not the recipient's wish: no suppression.
    const [one] = await sent(q, { recipients: [{ localpart: 'd', domain: 'gmail.com', fromId: 'FD' }], messageId: '<d@example.com>' });
    const af = r.process(input({ rcptTo: [{ localpart: 'mjl+FD', domain: 'example.com' }], message: arfComplaint({ to: 'mjl+FD@example.com', recipient: 'd@gmail.com', original, feedbackType: 'auth-failure' }) }));
    assert.equal(af.events[0]!.event, 'unrecognized');
    assert.equal(af.events[0]!.queueMsgId, one!.id);
    assert.equal(q.lookupSuppression('mjl', 'd@gmail.com'), undefined);
  });
});

test('incoming: accounts without retired messages never match; atomic: a failing event write leaves history and suppression untouched', async () => {
  await withQueue(async (q, r) => {
    assert.equal(r.hasRetired('mjl'), false);
    const dsn = remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('a@gmail.com')], original });
    assert.equal(r.process(input({ message: dsn })).outgoing, false);
    await sent(q, { account: 'noretire', recipients: [{ localpart: 'a', domain: 'gmail.com', fromId: 'NR' }] });
    assert.equal(r.hasRetired('noretire'), false, 'KeepRetiredMessagePeriod 0 keeps none');

    const [rm] = await sent(q);
    q.db.exec("CREATE TRIGGER no_events BEFORE INSERT ON event BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    assert.throws(() => r.process(input({ rcptTo: [{ localpart: 'mjl+FROMIDa', domain: 'example.com' }], message: dsn })), /disk full/);
    q.db.exec('DROP TRIGGER no_events');
    assert.equal(q.getRetired(rm!.id)!.results.length, 1);
    assert.equal(q.getRetired(rm!.id)!.outcome, 'delivered');
    assert.equal(q.lookupSuppression('mjl', 'a@gmail.com'), undefined);
  });
});

test('incoming: arbitrary or truncated messages never throw; to a fromid address they become one event, else nothing', async () => {
  await withQueue(async (q, r) => {
    const rows = await sent(q, {
      recipients: Array.from({ length: 40 }, (_, i) => ({ localpart: `r${i}`, domain: 'gmail.com', fromId: `P${i}` })),
    });
    const dsn = remoteDsn({ to: 'mjl@example.com', recipients: [failedRecipient('r1@gmail.com')], original });
    let i = 0;
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: dsn.length }).map((n) => dsn.subarray(0, n))), fc.boolean(), (bytes, toFromId) => {
        const fid = `P${i++ % rows.length}`;
        const before = readEvents(q.db, 0, 100_000).length;
        const res = r.process(input({ rcptTo: [{ localpart: toFromId ? `mjl+${fid}` : 'mjl', domain: 'example.com' }], message: Buffer.from(bytes) }));
        const added = readEvents(q.db, 0, 100_000).length - before;
        assert.equal(added, res.events.length);
        if (toFromId) {
          assert.equal(res.outgoing, true);
          assert.equal(res.events.length, 1);
        } else assert.ok(res.events.length <= 1);
      }),
      { numRuns: 300 },
    );
  });
});
