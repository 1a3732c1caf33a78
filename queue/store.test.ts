import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueError, DEFAULT_QUEUE_INLINE_MAX_SIZE, type AddInput, type QueueStoreOptions } from './store.js';
import { WalSyncer } from '../store/walsync.js';

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

function inlineCount(q: QueueStore): number {
  return q.db.prepare('SELECT count(*) FROM msg_body').pluck().get() as number;
}

/** Both ways a message is stored: inline in queue.db (the default for small ones) and as a file. */
const MODES = [
  { name: 'inline', opts: {} as Partial<QueueStoreOptions> },
  { name: 'files', opts: { inlineMaxSize: 0 } as Partial<QueueStoreOptions> },
] as const;

/** How many messages are stored, checking that all are of the mode's kind. */
function stored(q: QueueStore, dataDir: string, mode: (typeof MODES)[number]['name']): number {
  const f = files(dataDir).length;
  const i = inlineCount(q);
  if (mode === 'inline') assert.equal(f, 0, 'no files for inline messages');
  else assert.equal(i, 0, 'nothing inline with inlineMaxSize 0');
  return f + i;
}

for (const mode of MODES)
test(`add (${mode.name}): one row per recipient sharing one durable message; prefix stored per row`, async () => {
  await withQueue(async (q, dataDir) => {
    const prefix = Buffer.from('DKIM-Signature: v=1; d=example.com\r\n');
    const msgs = await q.add(input({ prefix, extra: { customer: 'c1' }, envid: 'env1', recipients: [{ localpart: 'a', domain: 'gmail.com', notify: ['FAILURE'] }, { localpart: 'b', domain: 'yahoo.com' }] }));
    assert.equal(msgs.length, 2);
    assert.equal(msgs[0]!.baseId, msgs[0]!.id);
    assert.equal(msgs[1]!.baseId, msgs[0]!.id);
    assert.equal(stored(q, dataDir, mode.name), 1, 'one shared message');
    assert.equal(msgs[0]!.nextAttempt.getTime(), now, 'first attempt immediately');
    assert.equal(msgs[0]!.maxAttempts, 8);
    assert.deepEqual(msgs[0]!.extra, { customer: 'c1' });
    assert.deepEqual(msgs[0]!.dsn, { notify: ['FAILURE'], envid: 'env1' });
    const bytes = await q.messageBytes(msgs[1]!.id);
    assert.ok(bytes.toString().startsWith('DKIM-Signature: v=1; d=example.com\r\nFrom: <mjl@example.com>'));
    assert.equal(msgs[1]!.size, bytes.length);
  }, mode.opts);
});

for (const mode of MODES)
test(`group commit (${mode.name}): many concurrent submissions, all durable and distinct, byte for byte`, async () => {
  await withQueue(async (q, dataDir) => {
    const body = (i: number) => Buffer.from(`From: <mjl@example.com>\r\nSubject: m${i}\r\n\r\n${'x'.repeat(i)}\r\n`);
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => q.add(input({ messageId: `<m${i}@example.com>`, message: body(i) }))));
    const ids = all.flat().map((m) => m.id);
    assert.equal(new Set(ids).size, 400);
    assert.equal(q.count(), 400);
    assert.equal(stored(q, dataDir, mode.name), 200);
    for (const [i, ms] of all.entries()) {
      for (const m of ms) assert.deepEqual(await q.messageBytes(m.id), body(i));
    }
  }, mode.opts);
});

test('inline up to inlineMaxSize given as bytes; larger messages and temp files are files', async () => {
  await withQueue(async (q, dataDir) => {
    const big = (n: number) => Buffer.concat([Buffer.from('From: <mjl@example.com>\r\n\r\n'), Buffer.alloc(n - 27, 'a')]);
    const [atMax] = await q.add(input({ message: big(DEFAULT_QUEUE_INLINE_MAX_SIZE) }));
    assert.equal(atMax!.size, DEFAULT_QUEUE_INLINE_MAX_SIZE);
    assert.ok(Buffer.isBuffer(q.message(atMax!)), 'at the limit: inline');
    assert.deepEqual(q.message(atMax!), big(DEFAULT_QUEUE_INLINE_MAX_SIZE));
    const [over] = await q.add(input({ message: big(DEFAULT_QUEUE_INLINE_MAX_SIZE + 1) }));
    assert.equal(typeof q.message(over!), 'string', 'over the limit: a file');
    const tmp = join(dataDir, 'spool');
    writeFileSync(tmp, 'From: <mjl@example.com>\r\n\r\nsmall but spooled\r\n');
    const [spooled] = await q.add(input({ message: { tempPath: tmp, size: 45 } }));
    assert.equal(typeof q.message(spooled!), 'string', 'a temp file is linked, not read in');
    assert.equal(inlineCount(q), 1);
    assert.equal(files(dataDir).length, 2);
    assert.deepEqual(await q.messageBytes(over!.id), big(DEFAULT_QUEUE_INLINE_MAX_SIZE + 1));
  });
});

test('group commit: no submission is acknowledged before the WAL fdatasync of its batch returns; a failed fsync fails the batch', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-queue-'));
  const real = new WalSyncer(join(dataDir, 'queue.db-wal'));
  let release!: (err?: Error) => void;
  let syncs = 0;
  const walSyncer = {
    async sync() {
      // Held until the test lets it finish (or fail).
      const gate = new Promise<Error | undefined>((r) => (release = r));
      syncs++;
      await real.sync();
      const err = await gate;
      if (err) throw err;
    },
    close: () => real.close(),
  };
  const q = await QueueStore.open({ dataDir, clock, walSyncer });
  try {
    let acked = 0;
    const ps = Array.from({ length: 20 }, (_, i) => q.add(input({ messageId: `<g${i}@example.com>` })).then((m) => (acked++, m)));
    // Wait until the batch is committed and its fsync has started.
    while (syncs === 0) await new Promise((r) => setImmediate(r));
    assert.equal(syncs, 1, 'one fsync for the whole batch');
    assert.equal(q.count(), 40, 'rows committed (at synchronous=NORMAL)');
    assert.equal(inlineCount(q), 20, 'bodies in the same transaction');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(acked, 0, 'nothing acknowledged while the fsync runs');
    // A submission arriving meanwhile waits for the next batch (and its own fsync).
    const late = q.add(input({ messageId: '<late@example.com>' }));
    release();
    const msgs = await Promise.all(ps);
    assert.equal(msgs.flat().length, 40);
    while (syncs === 1) await new Promise((r) => setImmediate(r));
    release(new Error('EIO: simulated fsync failure'));
    await assert.rejects(late, /EIO/, 'not acknowledged when its fsync failed');
  } finally {
    // Later fsyncs succeed at once.
    const done = q.close();
    release?.();
    await done;
    rmSync(dataDir, { recursive: true, force: true });
  }
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

test('a submission failing in a group commit fails alone: the others of the batch are queued (fromid race)', async () => {
  await withQueue(async (q) => {
    // Added in the same tick, so both pass the fromid check before either is committed, and share a batch.
    const results = await Promise.allSettled([
      q.add(input({ recipients: [{ localpart: 'a', domain: 'gmail.com', fromId: 'same' }] })),
      q.add(input({ recipients: [{ localpart: 'b', domain: 'gmail.com' }] })),
      q.add(input({ recipients: [{ localpart: 'c', domain: 'gmail.com', fromId: 'same' }] })),
      q.add(input({ recipients: [{ localpart: 'd', domain: 'gmail.com' }] })),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok((results[2] as PromiseRejectedResult).reason instanceof QueueError);
    assert.equal((results[2] as PromiseRejectedResult).reason.code, 'duplicate-fromid');
    assert.deepEqual(
      q.list({}, { field: 'queued' }, 10).map((m) => m.recipientLocalpart).sort(),
      ['a', 'b', 'd'],
    );
    // The failed one's inline body and outgoing rows went with it.
    assert.equal(inlineCount(q), 3);
  });
});

test('hold rules apply to the rows committed after them; the returned rows say so', async () => {
  await withQueue(async (q) => {
    const [free] = await q.add(input({ recipients: [{ localpart: 'a', domain: 'gmail.com' }] }));
    assert.equal(free!.hold, false);
    q.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'gmail.com' });
    const [held, other] = await q.add(input({ recipients: [{ localpart: 'b', domain: 'Gmail.com' }, { localpart: 'c', domain: 'yahoo.com' }] }));
    assert.equal(held!.hold, true);
    assert.equal(other!.hold, false);
    assert.equal(q.get(held!.id)!.hold, true);
    assert.equal(q.get(other!.id)!.hold, false);
    // (Adding the rule also held the queued message it matches.)
    assert.equal(q.get(free!.id)!.hold, true);
  });
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
    // "schedule -now 10m": from the store's (injected) clock, not the system's.
    q.schedule({ ids: [msgs[0]!.id] }, { fromNowMs: 600_000 });
    assert.equal(q.get(msgs[0]!.id)!.nextAttempt.getTime(), now + 600_000);
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

test('hold rules added by another process apply to the next submission (rules are cached per data_version)', async () => {
  await withQueue(async (q, dataDir) => {
    assert.deepEqual((await q.add(input())).map((m) => m.hold), [false, false]);
    // `moxts queue holdrules add` run directly on the data dir: its own connection.
    const other = await QueueStore.open({ dataDir, clock });
    const { rule } = other.addHoldRule({ account: '', senderDomain: '', recipientDomain: 'gmail.com' });
    assert.deepEqual((await q.add(input())).map((m) => m.hold), [true, false]);
    other.removeHoldRule(rule.id);
    await other.close();
    assert.deepEqual((await q.add(input())).map((m) => m.hold), [false, false]);
    assert.deepEqual(q.listHoldRules(), []);
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

for (const mode of MODES)
test(`retire (${mode.name}): message removed after the last recipient, retired kept per account period, cleanup`, async () => {
  await withQueue(
    async (q, dataDir) => {
      const [a, b] = await q.add(input());
      const r1 = await q.retire({ ids: [a!.id] }, 'delivered');
      assert.equal(r1.length, 1);
      assert.equal(stored(q, dataDir, mode.name), 1, 'message still used by the other recipient');
      const r2 = await q.retire({ ids: [b!.id] }, 'failed', { success: false, code: 550, enhanced: '5.1.1', error: 'no such user' });
      assert.equal(r2[0]!.outcome, 'failed');
      assert.equal(r2[0]!.results.at(-1)!.code, 550);
      assert.equal(stored(q, dataDir, mode.name), 0, 'message removed with the last row');
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
    { keepRetiredFor: (acct) => (acct === 'mjl' ? 3_600_000 : 0), ...mode.opts },
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
