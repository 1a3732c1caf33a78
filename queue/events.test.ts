import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from './store.js';
import { recordEvent, readEvents, deleteEvents } from './events.js';

test('events: recorded inside a transaction, read in order, deleted by the consumer; rolled back with the outcome', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-events-'));
  const q = await QueueStore.open({ dataDir: dir });
  try {
    const now = new Date('2026-11-21T10:00:00Z');
    q.db.transaction(() => {
      recordEvent(q.db, { account: 'mjl', event: 'delivered', queueMsgId: 7, messageId: '<a@x>', smtpCode: 250, extra: { k: 'v' } }, now);
      recordEvent(q.db, { account: 'mjl', event: 'failed', queueMsgId: 8, smtpCode: 550, enhancedCode: '5.1.1', error: 'no such user', suppressing: true }, now);
    })();
    assert.throws(() =>
      q.db.transaction(() => {
        recordEvent(q.db, { account: 'mjl', event: 'delayed', queueMsgId: 9 }, now);
        throw new Error('outcome failed');
      })(),
    );
    const evs = readEvents(q.db);
    assert.deepEqual(evs.map((e) => [e.queueMsgId, e.event]), [[7, 'delivered'], [8, 'failed']]);
    assert.equal(evs[0]!.payload.SMTPCode, 0, 'delivered has SMTPCode 0');
    assert.deepEqual(evs[0]!.payload.Extra, { k: 'v' });
    assert.equal(evs[1]!.payload.SMTPEnhancedCode, '5.1.1');
    assert.equal(evs[1]!.payload.Suppressing, true);
    assert.deepEqual(evs[1]!.payload.Extra, {}, 'Extra is an object, never null');
    assert.equal(evs[1]!.payload.WebhookQueued, now.toISOString());
    deleteEvents(q.db, [evs[0]!.id]);
    assert.deepEqual(readEvents(q.db).map((e) => e.queueMsgId), [8]);
    assert.deepEqual(readEvents(q.db, evs[1]!.id), []);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
