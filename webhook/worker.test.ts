/**
 * WebhookWorker against real HTTP receivers on 127.0.0.1 and a real queue.db: results of
 * requests answered together are recorded in one group commit (and every one of them is
 * recorded), claimed hooks dropped when superseded before they are sent, and the per-attempt
 * timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore } from '../queue/store.js';
import { recordEvent } from '../queue/events.js';
import { WebhookStore } from './store.js';
import { WebhookWorker } from './worker.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

/** A receiver that holds every request until `release()` (or answers at once after it). */
async function gatedReceiver(): Promise<{ url: string; paths: string[]; arrived: (n: number) => Promise<void>; release: () => void; close: () => Promise<void> }> {
  const held: ServerResponse[] = [];
  const paths: string[] = [];
  let open = false;
  let waiter: { n: number; resolve: () => void } | undefined;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      paths.push(req.url ?? '');
      if (open) res.end('ok');
      else held.push(res);
      if (waiter && paths.length >= waiter.n) waiter.resolve();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    arrived: (n) => (paths.length >= n ? Promise.resolve() : new Promise((resolve) => (waiter = { n, resolve }))),
    release: () => {
      open = true;
      // All answers written in one go: they reach the worker together.
      for (const r of held.splice(0)) r.end('ok');
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

async function withWorker(
  opts: { url: (account: string) => string; timeoutMs?: number },
  fn: (x: { q: QueueStore; store: WebhookStore; worker: WebhookWorker; now: { ms: number } }) => Promise<void>,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-hookworker-'));
  const now = { ms: T0 };
  const q = await QueueStore.open({ dataDir });
  const store = WebhookStore.open({ dataDir, clock: () => new Date(now.ms), keepRetiredFor: () => 3_600_000 });
  const worker = new WebhookWorker({ store, outgoing: (a) => ({ url: opts.url(a) }), userAgent: 'test', clock: () => new Date(now.ms), random: () => 0.5, timeoutMs: opts.timeoutMs, eventPollMs: 1e9 });
  try {
    await fn({ q, store, worker, now });
  } finally {
    await worker.stop();
    await store.close();
    await q.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('results of requests answered together are recorded in one commit, every one of them', async () => {
  const rx = await gatedReceiver();
  try {
    await withWorker({ url: (a) => `${rx.url}/${a}` }, async ({ q, store, worker }) => {
      // 10 accounts (10 URLs, 10 requests at once), 3 events each.
      for (let i = 1; i <= 30; i++) recordEvent(q.db, { account: `a${i % 10}`, event: 'delivered', queueMsgId: i, subject: `m${i}` }, new Date(T0));
      worker.start();
      await rx.arrived(10);
      assert.equal(rx.paths.length, 10, 'one request at a time per URL');
      assert.equal(new Set(rx.paths).size, 10);
      rx.release();
      await rx.arrived(30);
      await worker.idle();
      assert.equal(worker.stats.attempts, 30);
      assert.equal(worker.stats.recorded, 30);
      assert.ok(worker.stats.resultCommits < 30, `${worker.stats.resultCommits} commits for 30 results: results share commits`);
      assert.equal(store.count(), 0);
      const retired = store.listRetired({}, 100);
      assert.equal(retired.length, 30);
      for (const h of retired) {
        assert.equal(h.success, true);
        assert.equal(h.attempts, 1);
        assert.deepEqual(
          h.results.map((r) => r.code),
          [200],
        );
      }
    });
  } finally {
    await rx.close();
  }
});

test('a claimed hook superseded before it is sent is not sent', async () => {
  const rx = await gatedReceiver();
  try {
    await withWorker({ url: () => `${rx.url}/one` }, async ({ q, store, worker }) => {
      // One URL: message 1's hook goes out and is held at the receiver; messages 2 and 3 are claimed, waiting.
      for (let i = 1; i <= 3; i++) recordEvent(q.db, { account: 'a', event: 'delayed', queueMsgId: i, subject: `m${i}` }, new Date(T0));
      worker.start();
      await rx.arrived(1);
      // A newer event for message 2 supersedes its queued (claimed) hook.
      recordEvent(q.db, { account: 'a', event: 'delivered', queueMsgId: 2, subject: 'm2' }, new Date(T0));
      worker.eventsArrived();
      // Consumed (the event row goes in the transaction that supersedes the hook).
      while (store.hasEvents()) await new Promise((r) => setImmediate(r));
      rx.release();
      await rx.arrived(3);
      await worker.idle();
      const retired = store.listRetired({}, 100);
      const byEvent = retired.map((h) => `${h.queueMsgId}:${h.outgoingEvent}:${h.attempts}:${h.supersededById ? 'superseded' : h.success ? 'ok' : 'failed'}`).sort();
      assert.deepEqual(byEvent, ['1:delayed:1:ok', '2:delayed:0:superseded', '2:delivered:1:ok', '3:delayed:1:ok']);
      assert.equal(rx.paths.length, 3, 'the superseded hook was never sent');
    });
  } finally {
    await rx.close();
  }
});

test('an attempt times out (connection accepted, no answer): failed attempt with a timeout error, retried on schedule', async () => {
  const rx = await gatedReceiver();
  try {
    await withWorker({ url: () => `${rx.url}/slow`, timeoutMs: 300 }, async ({ q, store, worker, now }) => {
      recordEvent(q.db, { account: 'a', event: 'delivered', queueMsgId: 1 }, new Date(T0));
      worker.start();
      await rx.arrived(1);
      while (worker.stats.recorded < 1) await worker.idle();
      const [h] = store.list();
      assert.ok(h);
      assert.equal(h.attempts, 1);
      assert.equal(h.results[0]!.code, 0);
      assert.equal(h.results[0]!.error, 'timeout after 0.3s');
      assert.equal(h.results[0]!.success, false);
      // mox's schedule: the second attempt 1 minute after the first (random 0.5: no jitter).
      assert.equal(h.nextAttempt.getTime(), now.ms + 60_000);
    });
  } finally {
    await rx.close();
  }
});
