import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from '../queue/store.js';
import { recordEvent } from '../queue/events.js';
import { WebhookStore, type HookResult, type OutgoingTarget } from './store.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

async function withStore(fn: (s: WebhookStore, q: QueueStore, clock: { ms: number }, keep: Map<string, number>) => Promise<void> | void): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-hookstore-'));
  const clock = { ms: T0 };
  const keep = new Map<string, number>([['mjl', 3_600_000]]);
  const q = await QueueStore.open({ dataDir });
  const s = WebhookStore.open({ dataDir, clock: () => new Date(clock.ms), keepRetiredFor: (a) => keep.get(a) });
  try {
    await fn(s, q, clock, keep);
  } finally {
    await s.close();
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const ok = (code = 200): HookResult => ({ start: T0, durationMs: 3, url: 'u', success: code === 200, code, error: code === 200 ? '' : `http status ${code}`, response: '' });

test('consumeEvents: filter, capture of URL/Authorization, superseding, events deleted', async () => {
  await withStore(async (s, q) => {
    const targets: Record<string, OutgoingTarget> = { mjl: { url: 'http://h/1', authorization: 'Bearer a', events: ['delayed', 'delivered'] } };
    const ev = (account: string, event: 'delayed' | 'delivered' | 'failed', id: number) => recordEvent(q.db, { account, event, queueMsgId: id, subject: `s${id}`, extra: { x: '1' } }, new Date(T0));
    ev('mjl', 'delayed', 1);
    ev('mjl', 'failed', 2); // not subscribed
    ev('nobody', 'delivered', 3); // no webhook
    ev('mjl', 'delayed', 4);
    let r = await s.commit(() => s.consumeEvents((a) => targets[a]));
    assert.equal(r.consumed, 4);
    assert.equal(r.created.length, 2);
    assert.equal(s.hasEvents(), false);
    const h1 = s.list({ event: 'delayed' }).find((h) => h.queueMsgId === 1)!;
    assert.equal(h1.url, 'http://h/1');
    assert.equal(h1.authorization, 'Bearer a');
    assert.deepEqual(h1.extra, { x: '1' });
    assert.equal(h1.subject, 's1');
    assert.match(h1.webhookId, /^msg_/);
    assert.equal(JSON.parse(h1.payload).Event, 'delayed');
    // Config changes later do not change queued hooks.
    targets.mjl = { url: 'http://h/2' };
    ev('mjl', 'delivered', 1);
    r = await s.commit(() => s.consumeEvents((a) => targets[a]));
    const [newer] = r.created;
    assert.equal(s.get(h1.id), undefined, 'superseded hook left the queue');
    const old = s.getRetired(h1.id)!;
    assert.equal(old.supersededById, newer);
    assert.equal(old.hasAuthorization, true);
    assert.equal(s.get(newer!)!.url, 'http://h/2');
    assert.deepEqual(s.list().map((h) => h.queueMsgId).sort(), [1, 4]);
    // An incoming hook is never superseded.
    const inc = await s.commit(() => s.addIncoming('mjl', { url: 'http://h/in' }, '{}'));
    assert.equal(s.get(inc)!.isIncoming, true);
    assert.equal(s.count({ event: 'incoming' }), 1);
  });
});

test('finishAttempt: retry, success, late results of superseded hooks, keep period 0', async () => {
  await withStore(async (s, q, clock, keep) => {
    const id = await s.commit(() => s.addIncoming('mjl', { url: 'u', authorization: 'x' }, '{"a":1}'));
    assert.equal(s.finishAttempt(id, ok(500), T0 + 60_000), 'retried');
    let h = s.get(id)!;
    assert.equal(h.attempts, 1);
    assert.equal(h.nextAttempt.getTime(), T0 + 60_000);
    clock.ms += 60_000;
    assert.equal(s.finishAttempt(id, ok(200), null), 'retired');
    const r = s.getRetired(id)!;
    assert.equal(r.success, true);
    assert.equal(r.attempts, 2);
    assert.deepEqual(r.results.map((x) => x.code), [500, 200]);
    assert.equal(r.keepUntil.getTime(), clock.ms + 3_600_000);
    assert.equal(r.payload, '{"a":1}');
    // A result for a hook superseded while in flight is appended to the retired record.
    recordEvent(q.db, { account: 'mjl', event: 'delayed', queueMsgId: 9 }, new Date(clock.ms));
    const [a] = s.consumeEvents(() => ({ url: 'u' })).created;
    recordEvent(q.db, { account: 'mjl', event: 'delivered', queueMsgId: 9 }, new Date(clock.ms));
    s.consumeEvents(() => ({ url: 'u' }));
    assert.equal(s.finishAttempt(a!, ok(200), null), 'late');
    assert.match(s.getRetired(a!)!.results[0]!.error, /\(superseded\)$/);
    // Accounts keeping no retired webhooks: finished hooks disappear.
    keep.set('mjl', 0);
    const b = s.addIncoming('mjl', { url: 'u' }, '{}');
    assert.equal(s.finishAttempt(b, ok(200), null), 'retired');
    assert.equal(s.getRetired(b), undefined);
    assert.equal(s.finishAttempt(b, ok(200), null), 'gone');
  });
});

test('claimDue: a URL\'s due hooks earliest first, at most max; held and not-yet-durable ids skipped', async () => {
  await withStore(async (s, _q, clock) => {
    const a1 = s.addIncoming('mjl', { url: 'A' }, '{"a":1}');
    clock.ms += 1;
    const b1 = s.addIncoming('mjl', { url: 'B' }, '{}');
    const a2 = s.addIncoming('mjl', { url: 'A' }, '{"a":2}');
    clock.ms += 1;
    const a3 = s.addIncoming('mjl', { url: 'A' }, '{"a":3}');
    const ids = (url: string, max = 10, held = new Set<number>()) => s.claimDue(url, max, held).map((h) => h.id);
    assert.deepEqual(ids('A'), [a1, a2, a3]);
    assert.deepEqual(ids('B'), [b1]);
    assert.deepEqual(ids('C'), []);
    assert.deepEqual(ids('A', 2), [a1, a2]);
    assert.deepEqual(ids('A', 2, new Set([a1])), [a2, a3], 'held hooks are stepped over, max still reached');
    const [h] = s.claimDue('A', 1);
    assert.deepEqual(h, { id: a1, webhookId: s.get(a1)!.webhookId, account: 'mjl', url: 'A', authorization: '', payload: '{"a":1}', attempts: 0, nextAttempt: T0 });
    // Written in a commit that is not durable yet: not claimable until it is.
    let during: number[] = [];
    let a4 = 0;
    await s.commit(() => {
      a4 = s.addIncoming('mjl', { url: 'A' }, '{}');
      during = ids('A');
      assert.equal(s.firstNotDurable(), a4);
    });
    assert.deepEqual(during, [a1, a2, a3]);
    assert.deepEqual(ids('A'), [a1, a2, a3, a4]);
    assert.equal(s.firstNotDurable(), Number.MAX_SAFE_INTEGER);
    s.schedule({ ids: [a2] }, { addMs: 60_000 });
    assert.deepEqual(ids('A'), [a1, a3, a4]);
    assert.equal(s.nextDue(clock.ms)!.getTime(), T0 + 1 + 60_000);
    clock.ms += 60_000;
    assert.deepEqual(ids('A'), [a1, a3, a4, a2]);
  });
});

test('finishAttempts: several results in one transaction, each recorded; history appended', async () => {
  await withStore(async (s, _q, clock) => {
    const a = s.addIncoming('mjl', { url: 'u' }, '{}');
    const b = s.addIncoming('mjl', { url: 'u' }, '{}');
    const c = s.addIncoming('mjl', { url: 'u' }, '{}');
    assert.equal(s.finishAttempt(b, ok(500), T0 + 60_000), 'retried');
    const out = await s.commit(() =>
      s.finishAttempts([
        { id: a, result: ok(200), next: null },
        { id: b, result: ok(503), next: T0 + 120_000 },
        { id: c, result: ok(200), next: null },
        { id: 999, result: ok(200), next: null },
      ]),
    );
    assert.deepEqual(out, ['retired', 'retried', 'retired', 'gone']);
    assert.deepEqual(s.getRetired(a)!.results.map((r) => r.code), [200]);
    assert.equal(s.getRetired(c)!.success, true);
    const hb = s.get(b)!;
    assert.equal(hb.attempts, 2);
    assert.deepEqual(hb.results.map((r) => r.code), [500, 503]);
    assert.equal(hb.nextAttempt.getTime(), T0 + 120_000);
    clock.ms += 1;
  });
});

test('cancel, replay with the same webhook-id, cleanup, ids never reused', async () => {
  await withStore(async (s, _q, clock) => {
    const id = s.addIncoming('mjl', { url: 'u' }, '{"p":1}');
    assert.throws(() => s.replay(id, { url: 'v' }), /no retired webhook/);
    assert.deepEqual(s.cancel({ account: 'mjl' }), [id]);
    const r = s.getRetired(id)!;
    assert.equal(r.results.at(-1)!.error, 'canceled by admin');
    assert.equal(r.success, false);
    assert.throws(() => s.replay(id, undefined), /has no IncomingWebhook configured/);
    const again = s.replay(id, { url: 'v', authorization: 'z' });
    const h = s.get(again)!;
    assert.equal(h.webhookId, r.webhookId);
    assert.equal(h.payload, '{"p":1}');
    assert.equal(h.url, 'v');
    assert.equal(h.attempts, 0);
    s.cancel({ ids: [again] });
    clock.ms += 3_600_000;
    assert.equal(s.cleanupRetired(), 2);
    const next = s.addIncoming('mjl', { url: 'u' }, '{}');
    assert.ok(next > again, 'AUTOINCREMENT: ids of cleaned-up hooks are not reused');
  });
});

test('secrets: created once, rotation keeps the old one for the overlap', async () => {
  await withStore(async (s, _q, clock) => {
    const a = s.secrets('mjl');
    assert.match(a.current, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(s.secrets('mjl'), a);
    assert.notEqual(s.secrets('other').current, a.current);
    const b = s.rotateSecret('mjl', 60_000);
    assert.notEqual(b.current, a.current);
    assert.equal(b.previous, a.current);
    clock.ms += 60_001;
    assert.deepEqual(s.secrets('mjl'), { current: b.current });
  });
});

test('commit: operations of one batch are durable together; a failing one does not undo the others', async () => {
  await withStore(async (s) => {
    const results = await Promise.allSettled([
      s.commit(() => s.addIncoming('mjl', { url: 'u' }, '{}')),
      s.commit(() => {
        s.addIncoming('mjl', { url: 'u' }, '{}');
        throw new Error('boom');
      }),
      s.commit(() => s.addIncoming('mjl', { url: 'u' }, '{}')),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(s.count(), 2);
  });
});
