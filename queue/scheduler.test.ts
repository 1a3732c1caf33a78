import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, type QueuedMsg, type RetiredMsg } from './store.js';
import { Scheduler, type RecipientOutcome } from './scheduler.js';

interface Harness {
  q: QueueStore;
  s: Scheduler;
  calls: QueuedMsg[][];
  dsns: Array<{ action: string; ids: number[] }>;
  setNow(ms: number): void;
  now(): number;
  script: (m: QueuedMsg) => Omit<RecipientOutcome, 'id'>;
}

async function harness(fn: (h: Harness) => Promise<void>, opts: { maxConcurrent?: number; deliver?: (msgs: QueuedMsg[]) => Promise<RecipientOutcome[]> } = {}): Promise<void> {
  let now = Date.UTC(2026, 10, 21, 12, 0, 0);
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-sched-'));
  const clock = () => new Date(now);
  const q = await QueueStore.open({ dataDir, clock, keepRetiredFor: () => 86_400_000 });
  const h = {
    q,
    calls: [] as QueuedMsg[][],
    dsns: [] as Array<{ action: string; ids: number[] }>,
    setNow: (ms: number) => (now = ms),
    now: () => now,
    script: (() => ({ status: 'delivered', message: 'ok', code: 250 })) as Harness['script'],
  } as unknown as Harness;
  h.s = new Scheduler({
    queue: q,
    clock,
    random: () => 0.5, // no jitter
    maxConcurrent: opts.maxConcurrent,
    deliver:
      opts.deliver ??
      (async (msgs) => {
        h.calls.push(msgs);
        return msgs.map((m) => ({ id: m.id, ...h.script(m) }));
      }),
    composeDsn: (msgs: ReadonlyArray<QueuedMsg | RetiredMsg>, action) => {
      h.dsns.push({ action, ids: msgs.map((m) => m.id) });
      return [];
    },
  });
  h.s.start();
  try {
    await fn(h);
  } finally {
    await h.s.stop();
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const base = {
  account: 'mjl',
  mailFrom: { localpart: 'mjl', domain: 'example.com' },
  message: Buffer.from('Subject: x\r\n\r\nx\r\n'),
};

test('recipients of one submission and domain share an attempt; delivered ones are retired', async () => {
  await harness(async (h) => {
    await h.q.add({ ...base, recipients: [{ localpart: 'a', domain: 'one.example' }, { localpart: 'b', domain: 'one.example' }, { localpart: 'c', domain: 'two.example' }] });
    h.s.kick();
    await h.s.idle();
    assert.deepEqual(h.calls.map((c) => c.map((m) => m.recipientLocalpart).sort()).sort(), [['a', 'b'], ['c']]);
    assert.equal(h.q.count(), 0);
    assert.equal(h.q.listRetired({ success: true }).length, 3);
    assert.equal(h.q.listRetired()[0]!.results.at(-1)!.success, true);
  });
});

test('temporary failures follow the backoff schedule; one delayed DSN after the 5th; failed after the 8th', async () => {
  await harness(async (h) => {
    h.script = () => ({ status: 'temporary', code: 451, enhanced: '4.3.0', message: 'try later' });
    const [m] = await h.q.add({ ...base, recipients: [{ localpart: 'a', domain: 'slow.example' }] });
    const gaps: number[] = [];
    for (let i = 1; i <= 8; i++) {
      h.s.kick();
      await h.s.idle();
      const cur = h.q.get(m!.id);
      if (i < 8) {
        assert.equal(cur!.attempts, i);
        gaps.push((cur!.nextAttempt.getTime() - h.now()) / 60_000);
        assert.equal(cur!.results.length, i);
        h.setNow(cur!.nextAttempt.getTime()); // wait (injected clock) until due
      }
    }
    assert.deepEqual(gaps, [7.5, 15, 30, 60, 120, 240, 480]);
    assert.equal(h.calls.length, 8);
    assert.equal(h.q.get(m!.id), undefined, 'retired after the 8th attempt');
    const r = h.q.getRetired(m!.id)!;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.results.length, 8);
    assert.deepEqual(h.dsns.map((d) => d.action), ['delayed', 'failed'], 'one delayed DSN, then the failure DSN');
  });
});

test('permanent failure: failure DSN, immediate suppression for 550 5.1.1; suppressed recipients are not dialed', async () => {
  await harness(async (h) => {
    h.script = () => ({ status: 'permanent', code: 550, enhanced: '5.1.1', message: 'no such user', host: 'mx.example' });
    const [m] = await h.q.add({ ...base, recipients: [{ localpart: 'Gone+x', domain: 'bad.example' }] });
    h.s.kick();
    await h.s.idle();
    assert.equal(h.q.getRetired(m!.id)!.outcome, 'failed');
    assert.deepEqual(h.dsns, [{ action: 'failed', ids: [m!.id] }]);
    assert.ok(h.q.lookupSuppression('mjl', 'gone@bad.example'));
    const [n] = await h.q.add({ ...base, recipients: [{ localpart: 'gone', domain: 'bad.example' }] });
    h.s.kick();
    await h.s.idle();
    assert.equal(h.calls.length, 1, 'not dialed again');
    assert.equal(h.q.getRetired(n!.id)!.outcome, 'suppressed');
    assert.equal(h.dsns.at(-1)!.action, 'failed');
  });
});

test('other permanent failures suppress only after three in a row', async () => {
  await harness(async (h) => {
    h.script = () => ({ status: 'permanent', code: 552, enhanced: '5.2.2', message: 'mailbox full' });
    for (let i = 1; i <= 3; i++) {
      await h.q.add({ ...base, recipients: [{ localpart: 'full', domain: 'big.example' }] });
      h.s.kick();
      await h.s.idle();
      assert.equal(!!h.q.lookupSuppression('mjl', 'full@big.example'), i === 3, `after failure ${i}`);
      h.setNow(h.now() + 1000);
    }
  });
});

test('NextAttempt is pushed before delivering; one delivery per domain at a time; held messages wait', async () => {
  const releases: Array<() => void> = [];
  const seen: string[] = [];
  let started = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  /** Resolves once n deliveries have started (the transport tells us; no polling). */
  const startedCount = (n: number) => new Promise<void>((resolve) => (started >= n ? resolve() : waiters.push({ n, resolve })));
  await harness(
    async (h) => {
      const [a] = await h.q.add({ ...base, recipients: [{ localpart: 'a', domain: 'same.example' }] });
      await h.q.add({ ...base, recipients: [{ localpart: 'b', domain: 'same.example' }] });
      await h.q.add({ ...base, recipients: [{ localpart: 'c', domain: 'other.example' }] });
      const [held] = await h.q.add({ ...base, recipients: [{ localpart: 'd', domain: 'held.example' }] });
      h.q.hold({ ids: [held!.id] }, true);
      h.s.kick();
      // Both domains started, same.example only once.
      await startedCount(2);
      assert.deepEqual(seen.sort(), ['a', 'c']);
      const during = h.q.get(a!.id)!;
      assert.equal(during.attempts, 1);
      assert.ok(during.nextAttempt.getTime() > h.now(), 'a crash now would not retry at once');
      for (const r of releases.splice(0)) r();
      await startedCount(3); // b starts once a has finished
      for (const r of releases.splice(0)) r();
      await h.s.idle();
      assert.deepEqual(seen.sort(), ['a', 'b', 'c'], 'b after a, never concurrently');
      assert.equal(h.q.count(), 1);
      assert.equal(h.q.get(held!.id)!.attempts, 0, 'held message not attempted');
    },
    {
      deliver: async (msgs) => {
        seen.push(...msgs.map((m) => m.recipientLocalpart));
        const done = new Promise<void>((r) => releases.push(r));
        started++;
        for (const w of waiters.filter((x) => started >= x.n)) w.resolve();
        await done;
        return msgs.map((m) => ({ id: m.id, status: 'delivered' as const, message: 'ok' }));
      },
    },
  );
});

test('sender DSNs are stored with the outcome and survive a failed delivery into the Inbox (as after a crash): delivered at the next start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-sched-'));
  const clock = () => new Date(Date.UTC(2026, 10, 21, 12, 0, 0));
  try {
    let q = await QueueStore.open({ dataDir, clock, keepRetiredFor: () => 86_400_000 });
    const delivered: Array<{ account: string; message: string }> = [];
    let inboxBroken = true;
    const deps = {
      clock,
      random: () => 0.5,
      deliver: async (msgs: QueuedMsg[]) => msgs.map((m) => ({ id: m.id, status: 'permanent' as const, code: 550, enhanced: '5.1.1', message: 'no such user' })),
      composeDsn: (msgs: ReadonlyArray<QueuedMsg | RetiredMsg>, action: string) => msgs.map((m) => ({ account: m.senderAccount, message: Buffer.from(`${action} ${m.recipientLocalpart}@${m.recipientDomain}`) })),
      deliverDsn: async (account: string, message: Buffer) => {
        if (inboxBroken) throw new Error('disk full');
        delivered.push({ account, message: message.toString() });
      },
    };
    let s = new Scheduler({ queue: q, ...deps });
    s.start();
    await q.add({ ...base, recipients: [{ localpart: 'gone', domain: 'remote.example' }] });
    s.kick();
    await s.idle();
    await s.stop();
    assert.equal(q.count(), 0, 'the outcome is recorded');
    assert.deepEqual(delivered, []);
    assert.deepEqual(q.dsnOutbox().map((d) => [d.account, d.message.toString()]), [['mjl', 'failed gone@remote.example']], 'the DSN waits in the outbox');
    await q.close();

    // "Restart": a new store and scheduler on the same files deliver it once, then it is gone.
    inboxBroken = false;
    q = await QueueStore.open({ dataDir, clock, keepRetiredFor: () => 86_400_000 });
    s = new Scheduler({ queue: q, ...deps });
    s.start();
    await s.idle();
    await s.stop();
    assert.deepEqual(delivered, [{ account: 'mjl', message: 'failed gone@remote.example' }]);
    assert.deepEqual(q.dsnOutbox(), []);
    await q.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('no DSN is stored for a row dropped while its attempt ran', async () => {
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let finish!: () => void;
  const gate = new Promise<void>((r) => (finish = r));
  // The transport waits until the row is dropped by an admin, then reports a permanent failure.
  const deliver = async (msgs: QueuedMsg[]): Promise<RecipientOutcome[]> => {
    started();
    await gate;
    return msgs.map((x) => ({ id: x.id, status: 'permanent' as const, code: 554, enhanced: '5.7.1', message: 'refused' }));
  };
  await harness(
    async (h) => {
      const [m] = await h.q.add({ ...base, recipients: [{ localpart: 'x', domain: 'drop.example' }] });
      h.s.kick();
      await running;
      await h.q.retire({ ids: [m!.id] }, 'canceled');
      finish();
      await h.s.idle();
      assert.deepEqual(h.dsns, [], 'nothing composed for the dropped row');
      assert.deepEqual(h.q.dsnOutbox(), []);
    },
    { deliver },
  );
});
