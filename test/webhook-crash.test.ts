/**
 * Crash test for webhooks: 1,000 outgoing events are pending for 10 accounts (10 URLs, so 10
 * requests in flight), the receiver is slow, and the server (a child process) is SIGKILLed
 * mid-delivery. After a restart every webhook arrives at least once, none is invented, duplicates
 * are bounded by what was in flight (requests open plus results not yet committed), and every
 * attempt of a webhook carries the same webhook-id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { writeTestConfig } from './helpers/server.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import { QueueStore } from '../queue/store.js';
import { recordEvent } from '../queue/events.js';
import { WebhookStore } from '../webhook/store.js';
import { nullLogger } from '../log/logger.js';
import { MAX_CONCURRENT, RESULT_BATCH } from '../webhook/worker.js';

// The SMTP crash test's child: serves the config in a directory (the webhook worker starts with it).
const CHILD = fileURLToPath(new URL('./smtp-crash-child.js', import.meta.url));
const ACCOUNTS = 10;
const PER_ACCOUNT = 100;
const TOTAL = ACCOUNTS * PER_ACCOUNT;
const KILL_AFTER = 300;

function startChild(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (/^READY \d+$/.test(l)) resolve(child);
    });
    child.once('exit', (code, sig) => reject(new Error(`server child exited early: ${code ?? sig}`)));
  });
}

test('SIGKILL with 1,000 webhooks pending and a slow receiver: each delivered at least once, none invented, same webhook-id', { timeout: 180_000 }, async (t) => {
  const rx = await WebhookReceiver.start();
  rx.respond = () => ({ status: 200, delayMs: 15 });
  const dir = mkdtempSync(join(tmpdir(), 'moxts-hookcrash-'));
  const accounts: Record<string, unknown> = {};
  for (let a = 0; a < ACCOUNTS; a++) {
    accounts[`acct${a}`] = {
      Domain: 'example.com',
      Destinations: { [`acct${a}@example.com`]: {} },
      KeepRetiredWebhookPeriod: '24h',
      OutgoingWebhook: { URL: `${rx.url}/acct${a}` },
    };
  }
  await writeTestConfig(dir, { accounts: accounts as never });
  const dataDir = join(dir, 'data');
  // The pending events, as the queue records them.
  const q = await QueueStore.open({ dataDir, log: nullLogger() });
  q.db.transaction(() => {
    for (let i = 1; i <= TOTAL; i++) recordEvent(q.db, { account: `acct${i % ACCOUNTS}`, event: 'delivered', queueMsgId: i, subject: `m${i}` }, new Date());
  })();
  await q.close();

  let child = await startChild(dir);
  await rx.waitFor(KILL_AFTER);
  child.kill('SIGKILL');
  await once(child, 'exit');
  const beforeKill = rx.requests.length;

  child = await startChild(dir);
  try {
    const seen = () => new Set(rx.requests.map((r) => (JSON.parse(r.body) as { QueueMsgID: number }).QueueMsgID)).size;
    while (seen() < TOTAL) await rx.waitFor(rx.requests.length + 1);
    // Then until the server has recorded every result (a stop aborts requests still open).
    const db = new Database(join(dataDir, 'queue.db'), { readonly: true });
    try {
      while (db.prepare('SELECT (SELECT count(*) FROM hook) + (SELECT count(*) FROM event)').pluck().get() !== 0) await new Promise((r) => setTimeout(r, 50));
    } finally {
      db.close();
    }
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  }

  const byMsg = new Map<number, Set<string>>();
  for (const r of rx.requests) {
    const p = JSON.parse(r.body) as { QueueMsgID: number; Subject: string };
    assert.ok(p.QueueMsgID >= 1 && p.QueueMsgID <= TOTAL, `invented webhook for ${p.QueueMsgID}`);
    assert.equal(p.Subject, `m${p.QueueMsgID}`);
    assert.equal(r.path, `/acct${p.QueueMsgID % ACCOUNTS}`);
    const ids = byMsg.get(p.QueueMsgID) ?? new Set<string>();
    ids.add(String(r.headers['webhook-id']));
    byMsg.set(p.QueueMsgID, ids);
  }
  assert.equal(byMsg.size, TOTAL, 'every webhook delivered at least once');
  for (const [m, ids] of byMsg) assert.equal(ids.size, 1, `webhook for ${m} has one webhook-id on every attempt`);
  assert.equal(new Set([...byMsg.values()].map((s) => [...s][0])).size, TOTAL, 'webhook-ids are unique');
  const duplicates = rx.requests.length - TOTAL;
  // In flight at the kill: at most MAX_CONCURRENT open requests, plus answered requests whose
  // result was not yet committed (group commit: fewer than RESULT_BATCH wait, plus those answered
  // while their commit was queued, at most one per open request). Results committed but not yet
  // fsync'd survive a SIGKILL (they are in the OS's page cache).
  t.diagnostic(`killed after ${beforeKill} requests; ${rx.requests.length} requests in all, ${duplicates} duplicates`);
  assert.ok(duplicates <= 2 * MAX_CONCURRENT + RESULT_BATCH, `${duplicates} duplicates (killed after ${beforeKill} requests)`);

  // Afterwards the queue is empty and every webhook is retired as delivered.
  const store = WebhookStore.open({ dataDir, keepRetiredFor: () => 86_400_000 });
  try {
    assert.equal(store.count(), 0);
    const retired = store.listRetired({}, 10_000);
    assert.equal(retired.length, TOTAL);
    assert.ok(retired.every((h) => h.success));
    assert.equal(store.db.prepare('SELECT count(*) FROM event').pluck().get(), 0);
  } finally {
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
