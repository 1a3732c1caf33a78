import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from './store.js';
import { checkSendLimits, SEND_LIMIT_WINDOW_MS } from './sendlimits.js';

test('send limits: the cached upper bound gives the same answers as counting the window every time', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-sendlimits-'));
  let now = Date.UTC(2026, 10, 21, 12, 0, 0);
  const q = await QueueStore.open({ dataDir, clock: () => new Date(now) });
  const exactCount = q.db.prepare('SELECT count(*) FROM outgoing WHERE account = ? AND submitted > ?').pluck();
  // A small deterministic generator, so a failure can be replayed.
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n);
  };
  const limits = { maxMessagesPerDay: 25, maxFirstTimeRecipientsPerDay: 0 };
  let refused = 0;
  try {
    for (let i = 0; i < 400; i++) {
      now += rnd(4) === 0 ? rnd(6 * 3600_000) : rnd(60_000);
      const rcpts = Array.from({ length: 1 + rnd(3) }, (_, k) => `r${i}-${k}@x.example`);
      const pending = rnd(3);
      const got = checkSendLimits(q.db, 'mjl', rcpts, limits, now, pending);
      const n = (exactCount.get('mjl', now - SEND_LIMIT_WINDOW_MS) as number) + pending;
      const want = n + rcpts.length > limits.maxMessagesPerDay ? { ok: false, limit: 'messages', max: limits.maxMessagesPerDay } : { ok: true };
      assert.deepEqual(got, want, `step ${i}: ${n} in the window, ${rcpts.length} more`);
      if (!got.ok) {
        refused++;
        continue;
      }
      await q.add({
        account: 'mjl',
        mailFrom: { localpart: 'mjl', domain: 'example.com' },
        recipients: rcpts.map((r) => ({ localpart: r.split('@')[0]!, domain: 'x.example' })),
        message: Buffer.from('From: <mjl@example.com>\r\n\r\nhi\r\n'),
        recordOutgoing: true,
      });
    }
    assert.ok(refused > 10 && refused < 390, `both answers exercised (${refused} refused)`);
  } finally {
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
