import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from './store.js';
import { IdempotencyStore, IDEMPOTENCY_TTL_MS } from './idempotency.js';

test('idempotency rows: begin, finish, abort, expiry, recovery from the queue by Message-ID', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-idem-'));
  let now = 1_800_000_000_000;
  const q = await QueueStore.open({ dataDir: dir, clock: () => new Date(now) });
  const s = new IdempotencyStore(q.db, () => now);
  try {
    assert.equal(s.get('a', 'k1'), undefined);
    s.begin({ account: 'a', key: 'k1', requestHash: 'h', messageId: '<m1@x>', addresses: ['X@Y.example', 'z@y.example'] });
    const pending = s.get('a', 'k1')!;
    assert.equal(pending.result, null);
    assert.deepEqual(pending.addresses, ['X@Y.example', 'z@y.example']);
    assert.deepEqual(s.recover(pending), []);
    const queued = await q.add({ account: 'a', mailFrom: { localpart: 'a', domain: 'x' }, recipients: [{ localpart: 'x', domain: 'y.example', fromId: 'f1' }, { localpart: 'z', domain: 'y.example' }], message: Buffer.from('Subject: x\r\n\r\nx\r\n'), messageId: '<m1@x>' });
    // Another account's message with the same Message-ID does not count.
    await q.add({ account: 'b', mailFrom: { localpart: 'b', domain: 'x' }, recipients: [{ localpart: 'q', domain: 'y.example' }], message: Buffer.from('x'), messageId: '<m1@x>' });
    assert.deepEqual(s.recover(pending), [
      { id: queued[0]!.id, fromId: 'f1', recipient: 'x@y.example' },
      { id: queued[1]!.id, fromId: null, recipient: 'z@y.example' },
    ]);
    s.finish('a', 'k1', '{"ok":1}');
    assert.equal(s.get('a', 'k1')!.result, '{"ok":1}');
    assert.equal(s.get('b', 'k1'), undefined);
    s.begin({ account: 'a', key: 'k2', requestHash: 'h', messageId: '<m2@x>', addresses: [] });
    s.abort('a', 'k2');
    assert.equal(s.get('a', 'k2'), undefined);
    now += IDEMPOTENCY_TTL_MS + 1;
    assert.equal(s.get('a', 'k1'), undefined);
    assert.equal(s.cleanup(), 1);
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
