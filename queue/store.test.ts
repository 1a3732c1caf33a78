import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueError, type AddInput, type QueueStoreOptions } from './store.js';

let now = Date.UTC(2026, 10, 21, 12, 0, 0);
const clock = () => new Date(now);

async function withQueue(fn: (q: QueueStore, dataDir: string) => Promise<void>, opts: Partial<QueueStoreOptions> = {}): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-queue-'));
  const q = await QueueStore.open({ dataDir, clock, ...opts });
  try {
    await fn(q, dataDir);
  } finally {
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function input(over: Partial<AddInput> = {}): AddInput {
  return {
    account: 'mjl',
    mailFrom: { localpart: 'mjl', domain: 'example.com' },
    recipients: [
      { localpart: 'a', domain: 'gmail.com' },
      { localpart: 'b', domain: 'Yahoo.com' },
    ],
    message: Buffer.from('From: <mjl@example.com>\r\nSubject: hi\r\n\r\nhello\r\n'),
    messageId: '<m1@example.com>',
    subject: 'hi',
    ...over,
  };
}

function files(dataDir: string): string[] {
  const root = join(dataDir, 'queue', 'msg');
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)).map((f) => `${d}/${f}`));
}

test('add: one row per recipient sharing one durable file; prefix stored per row', async () => {
  await withQueue(async (q, dataDir) => {
    const prefix = Buffer.from('DKIM-Signature: v=1; d=example.com\r\n');
    const msgs = await q.add(input({ prefix, extra: { customer: 'c1' }, envid: 'env1', recipients: [{ localpart: 'a', domain: 'gmail.com', notify: ['FAILURE'] }, { localpart: 'b', domain: 'yahoo.com' }] }));
    assert.equal(msgs.length, 2);
    assert.equal(msgs[0]!.baseId, msgs[0]!.id);
    assert.equal(msgs[1]!.baseId, msgs[0]!.id);
    assert.equal(files(dataDir).length, 1, 'one shared file');
    assert.equal(msgs[0]!.nextAttempt.getTime(), now, 'first attempt immediately');
    assert.equal(msgs[0]!.maxAttempts, 8);
    assert.deepEqual(msgs[0]!.extra, { customer: 'c1' });
    assert.deepEqual(msgs[0]!.dsn, { notify: ['FAILURE'], envid: 'env1' });
    const bytes = await q.messageBytes(msgs[1]!.id);
    assert.ok(bytes.toString().startsWith('DKIM-Signature: v=1; d=example.com\r\nFrom: <mjl@example.com>'));
    assert.equal(msgs[1]!.size, bytes.length);
  });
});

test('group commit: many concurrent submissions, all durable and distinct', async () => {
  await withQueue(async (q, dataDir) => {
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => q.add(input({ messageId: `<m${i}@example.com>` }))));
    const ids = all.flat().map((m) => m.id);
    assert.equal(new Set(ids).size, 400);
    assert.equal(q.count(), 400);
    assert.equal(files(dataDir).length, 200);
  });
});

test('fromid must be unique across queued and retired messages', async () => {
  await withQueue(
    async (q) => {
      const [m] = await q.add(input({ recipients: [{ localpart: 'a', domain: 'gmail.com', fromId: 'abc' }] }));
      await assert.rejects(q.add(input({ recipients: [{ localpart: 'x', domain: 'x.example', fromId: 'abc' }] })), QueueError);
      await q.retire({ ids: [m!.id] }, 'delivered');
      await assert.rejects(q.add(input({ recipients: [{ localpart: 'x', domain: 'x.example', fromId: 'abc' }] })), /already used/);
      assert.equal(q.retiredByFromId('abc')?.id, m!.id);
    },
    { keepRetiredFor: () => 3_600_000 },
  );
});

test('filters and keyset pagination', async () => {
  await withQueue(async (q) => {
    for (let i = 0; i < 5; i++) {
      await q.add(input({ recipients: [{ localpart: `r${i}`, domain: i % 2 ? 'odd.example' : 'even.example' }], futureRelease: { at: new Date(now + i * 60_000), request: `for;${i * 60}` } }));
    }
    await q.add(input({ account: 'other', mailFrom: { localpart: 'x', domain: 'other.example' }, recipients: [{ localpart: 'z', domain: 'even.example' }] }));
    assert.equal(q.count({ to: '@odd.example' }), 2);
    assert.equal(q.count({ to: 'R3@' }), 1, 'case-insensitive substring');
    assert.equal(q.count({ from: 'x@other' }), 1);
    assert.equal(q.count({ account: 'mjl' }), 5);
    assert.equal(q.count({ nextAttempt: { op: '<', ms: 90_000 } }), 3, 'due within 90 s (incl. now)');
    assert.equal(q.count({ nextAttempt: { op: '>', ms: 90_000 } }), 3);
    now += 10 * 60_000;
    assert.equal(q.count({ submitted: { op: '<', ms: 60_000 } }), 0);
    assert.equal(q.count({ submitted: { op: '>', ms: 60_000 } }), 6);
    // Pages of 2 in next-attempt order cover everything exactly once.
    const seen: number[] = [];
    let after: { id: number; value: Date } | undefined;
    for (;;) {
      const page = q.list({}, { field: 'nextAttempt', after }, 2);
      if (!page.length) break;
      seen.push(...page.map((m) => m.id));
      const last = page[page.length - 1]!;
      after = { id: last.id, value: last.nextAttempt };
    }
    assert.equal(seen.length, 6);
    assert.equal(new Set(seen).size, 6);
    const desc = q.list({}, { field: 'queued', asc: false }, 10).map((m) => m.id);
    assert.deepEqual(desc, [...desc].sort((a, b) => b - a));
  });
});

test('admin changes: hold, schedule, transport, requiretls', async () => {
  await withQueue(async (q) => {
    const msgs = await q.add(input());
    assert.equal(q.hold({ to: '@gmail.com' }, true), 1);
    assert.equal(q.count({ hold: true }), 1);
    assert.equal(q.schedule({ ids: [msgs[1]!.id] }, { addMs: 3_600_000 }), 1);
    assert.equal(q.get(msgs[1]!.id)!.nextAttempt.getTime(), now + 3_600_000);
    q.schedule({}, { at: new Date(now + 5) });
    assert.equal(q.get(msgs[0]!.id)!.nextAttempt.getTime(), now + 5);
    assert.equal(q.setTransport({ ids: [msgs[0]!.id] }, 'smarthost'), 1);
    assert.equal(q.count({ transport: 'smarthost' }), 1);
    assert.equal(q.count({ transport: null }), 1);
    q.setRequireTLS({}, true);
    assert.equal(q.get(msgs[0]!.id)!.requireTLS, true);
    q.setRequireTLS({}, null);
    assert.equal(q.get(msgs[0]!.id)!.requireTLS, null);
    assert.equal(q.hold({ hold: true }, false), 1);
  });
});

test('hold rules apply the same matching to new and existing messages', async () => {
  await withQueue(async (q) => {
    const existing = await q.add(input());
    const { rule, held } = q.addHoldRule({ account: 'mjl', senderDomain: '', recipientDomain: 'YAHOO.com' });
    assert.equal(held, 1, 'only the yahoo recipient of mjl');
    assert.equal(q.get(existing[1]!.id)!.hold, true);
    assert.equal(q.get(existing[0]!.id)!.hold, false);
    const fresh = await q.add(input());
    assert.deepEqual(fresh.map((m) => m.hold), [false, true]);
    const other = await q.add(input({ account: 'other' }));
    assert.deepEqual(other.map((m) => m.hold), [false, false], 'all non-empty fields must match');
    assert.ok(q.removeHoldRule(rule.id));
    assert.equal(q.get(existing[1]!.id)!.hold, true, 'removing a rule does not release');
    const all = q.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
    assert.equal(q.count({ hold: false }), 0, 'empty rule holds everything');
    assert.ok(all.held > 0);
    assert.deepEqual((await q.add(input())).map((m) => m.hold), [true, true]);
  });
});

test('retire: files removed after the last recipient, retired kept per account period, cleanup', async () => {
  await withQueue(
    async (q, dataDir) => {
      const [a, b] = await q.add(input());
      const r1 = await q.retire({ ids: [a!.id] }, 'delivered');
      assert.equal(r1.length, 1);
      assert.equal(files(dataDir).length, 1, 'file still used by the other recipient');
      const r2 = await q.retire({ ids: [b!.id] }, 'failed', { success: false, code: 550, enhanced: '5.1.1', error: 'no such user' });
      assert.equal(r2[0]!.outcome, 'failed');
      assert.equal(r2[0]!.results.at(-1)!.code, 550);
      assert.equal(files(dataDir).length, 0, 'file removed with the last row');
      assert.equal(q.count(), 0);
      assert.equal(q.getRetired(a!.id)!.success, true);
      assert.equal(q.listRetired({ account: 'mjl' }).length, 2);
      assert.equal(q.listRetired({ success: false })[0]!.recipientAddress, 'b@yahoo.com');
      // Another account keeps nothing.
      const [c] = await q.add(input({ account: 'nokeep' }));
      await q.retire({ ids: [c!.id] }, 'canceled');
      assert.equal(q.getRetired(c!.id), undefined);
      now += 2 * 3_600_000;
      assert.equal(q.cleanupRetired(), 2);
      assert.equal(q.listRetired().length, 0);
    },
    { keepRetiredFor: (acct) => (acct === 'mjl' ? 3_600_000 : 0) },
  );
});

test('recent outcomes to an address drive the three-strikes suppression', async () => {
  await withQueue(
    async (q) => {
      for (const outcome of ['failed', 'delivered', 'failed', 'failed'] as const) {
        const [m] = await q.add(input({ recipients: [{ localpart: 'X', domain: 'Bounce.example' }] }));
        await q.retire({ ids: [m!.id] }, outcome);
        now += 1000;
      }
      assert.deepEqual(q.recentOutcomes('mjl', 'x@bounce.example'), [false, false]);
      assert.deepEqual(q.recentOutcomes('mjl', 'x@bounce.example', 4), [false, false, true, false]);
    },
    { keepRetiredFor: () => 86_400_000 },
  );
});

test('suppression list by base address, per account', async () => {
  await withQueue(async (q) => {
    assert.ok(q.addSuppression('mjl', 'John.Doe+news@Example.com', { manual: true, reason: 'asked' }));
    assert.equal(q.addSuppression('mjl', 'johndoe@example.com', { manual: false, reason: 'dup' }), false, 'same base address');
    assert.equal(q.lookupSuppression('mjl', 'j.o.h.n.doe-x@example.com')?.reason, 'asked');
    assert.equal(q.lookupSuppression('other', 'johndoe@example.com'), undefined);
    assert.equal(q.listSuppressions('mjl')[0]!.originalAddress, 'John.Doe+news@Example.com');
    assert.ok(q.removeSuppression('mjl', 'JOHNDOE@example.com'));
    assert.equal(q.listSuppressions().length, 0);
  });
});

test('reopen: unreferenced message files (never acknowledged) are swept, queued ones kept', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-queue-'));
  let q = await QueueStore.open({ dataDir, clock });
  const [m] = await q.add(input());
  await q.close();
  const orphanDir = join(dataDir, 'queue', 'msg', 'zz');
  mkdirSync(orphanDir, { recursive: true });
  writeFileSync(join(orphanDir, '999999'), 'half-written');
  q = await QueueStore.open({ dataDir, clock });
  assert.equal(existsSync(join(orphanDir, '999999')), false);
  assert.ok((await q.messageBytes(m!.id)).toString().includes('hello'));
  const [n] = await q.add(input());
  assert.ok(n!.id > m!.id + 1, 'ids keep increasing after reopen');
  await q.close();
  await assert.rejects(q.add(input()), /closed/);
  rmSync(dataDir, { recursive: true, force: true });
});
