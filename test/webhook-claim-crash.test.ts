/**
 * A crash between claiming a webhook and committing its result: the server (a child process) has
 * sent a webhook and got its 200, but the result cannot be committed (the test holds queue.db's
 * write lock); it is SIGKILLed. The claim lived only in memory and no result was recorded, so
 * after a restart the webhook is sent again, with the same webhook-id and as attempt 1, and then
 * recorded exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { writeTestConfig } from './helpers/server.js';
import { startChild } from './helpers/crash.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { QueueStore } from '../queue/store.js';
import { recordEvent } from '../queue/events.js';
import { WebhookStore } from '../webhook/store.js';
import { nullLogger } from '../log/logger.js';

// The SMTP crash test's child: serves the config in a directory (the webhook worker starts with it).
const CHILD = fileURLToPath(new URL('./smtp-crash-child.js', import.meta.url));
const TOTAL = 5;

test('SIGKILL after a webhook was answered but before its result was committed: sent again with the same webhook-id, recorded once', { timeout: 120_000 }, async () => {
  const rx = await WebhookReceiver.start();
  const dir = mkdtempSync(join(tmpdir(), 'moxts-hookclaim-'));
  await writeTestConfig(dir, {
    accounts: { mjl: { Domain: 'example.com', Destinations: { 'mjl@example.com': {} }, KeepRetiredWebhookPeriod: '24h', OutgoingWebhook: { URL: `${rx.url}/hook` } } } as never,
  });
  const dataDir = join(dir, 'data');
  const q = await QueueStore.open({ dataDir, log: nullLogger() });
  q.db.transaction(() => {
    for (let i = 1; i <= TOTAL; i++) recordEvent(q.db, { account: 'mjl', event: 'delivered', queueMsgId: i, subject: `m${i}` }, new Date());
  })();
  await q.close();

  // Before answering the first request, take queue.db's write lock: the server can read (claim)
  // but not commit the result.
  const lock = new Database(join(dataDir, 'queue.db'));
  let locked = false;
  rx.respond = () => {
    if (!locked) {
      lock.exec('BEGIN IMMEDIATE');
      locked = true;
    }
    return { status: 200 };
  };
  let { child } = await startChild(CHILD, [dir]);
  try {
    // One request at a time per URL: the second request is sent only after the first answer
    // was in, so the server had that 200 when it is killed.
    await rx.waitFor(2);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const first = rx.requests[0]!;
    const firstId = String(first.headers['webhook-id']);
    // Nothing was recorded: the hook is still queued, with no attempt.
    const row = lock.prepare('SELECT attempts, results, webhook_id FROM hook WHERE id = ?').get(Number(first.headers['x-mox-webhook-id'])) as { attempts: number; results: string; webhook_id: string };
    assert.deepEqual(row, { attempts: 0, results: '[]', webhook_id: firstId });
    lock.exec('ROLLBACK');
    lock.close();

    const before = rx.requests.length;
    rx.respond = () => ({ status: 200 });
    ({ child } = await startChild(CHILD, [dir]));
    const ids = () => new Set(rx.requests.map((r) => String(r.headers['webhook-id'])));
    while (ids().size < TOTAL || rx.requests.slice(before).every((r) => String(r.headers['webhook-id']) !== firstId)) await rx.waitFor(rx.requests.length + 1);
    const db = new Database(join(dataDir, 'queue.db'), { readonly: true });
    try {
      while (db.prepare('SELECT count(*) FROM hook').pluck().get() !== 0) await new Promise((r) => setTimeout(r, 20));
    } finally {
      db.close();
    }
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  const again = rx.requests.filter((r) => String(r.headers['webhook-id']) === String(rx.requests[0]!.headers['webhook-id']));
  assert.ok(again.length >= 2, 'the answered but unrecorded webhook was sent again after the restart');
  for (const r of again) {
    assert.equal(r.headers['x-mox-webhook-attempt'], '1', 'an unrecorded attempt does not count');
    assert.equal(r.body, again[0]!.body);
  }
  const store = WebhookStore.open({ dataDir, keepRetiredFor: () => 86_400_000 });
  try {
    const retired = store.listRetired({}, 100);
    assert.equal(retired.length, TOTAL);
    for (const h of retired) {
      assert.equal(h.success, true);
      assert.equal(h.attempts, 1, `hook ${h.id}: one recorded attempt`);
    }
  } finally {
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
