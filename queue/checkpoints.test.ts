import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.js';
import { periodicCheckpoints } from './checkpoints.js';
import { Checkpointer } from '../store/checkpointer.js';

function withDb(fn: (db: ReturnType<typeof openDb>, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-ckpt-'));
  const path = join(dir, 'queue.db');
  const db = openDb(path, [{ version: 1, sql: 'CREATE TABLE t (x)' }], { synchronous: 'NORMAL' });
  // The checkpoint timer does not keep the process alive (unref); this does while the test waits.
  const alive = setInterval(() => {}, 60_000);
  return fn(db, path).finally(() => {
    clearInterval(alive);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

test('periodic checkpoints: automatic checkpoint off, a checkpoint asked for only after writes', async () => {
  await withDb(async (db, path) => {
    let asked: (p: string) => void = () => {};
    const requests: string[] = [];
    const cp = {
      available: true,
      request(p: string) {
        requests.push(p);
        asked(p);
        return Promise.resolve();
      },
    };
    const pc = periodicCheckpoints(db, path, cp, 5);
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
      const next = () => new Promise<string>((r) => (asked = r));
      const first = next();
      db.prepare('INSERT INTO t VALUES (1)').run();
      assert.equal(await first, path);
      // Ticks without writes ask nothing (else there would be more than 2 below); a write asks again.
      const second = next();
      db.prepare('INSERT INTO t VALUES (2)').run();
      await second;
      assert.equal(requests.length, 2);
    } finally {
      pc.stop();
    }
  });
});

test('periodic checkpoints: without a usable checkpointer SQLite checkpoints itself', async () => {
  await withDb(async (db, path) => {
    periodicCheckpoints(db, path, undefined).stop();
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    const cp = { available: true, request: () => Promise.resolve() };
    const pc = periodicCheckpoints(db, path, cp, 5);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    // The checkpointer fails: the automatic checkpoint comes back at the next tick.
    cp.available = false;
    const deadline = Date.now() + 10_000;
    while (db.pragma('wal_autocheckpoint', { simple: true }) !== 1000 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    pc.stop();
  });
});

test('periodic checkpoints with the real checkpointer keep the WAL from growing', async () => {
  await withDb(async (db, path) => {
    const cp = new Checkpointer();
    const pc = periodicCheckpoints(db, path, cp, 5);
    try {
      const ins = db.prepare('INSERT INTO t VALUES (?)');
      const big = Buffer.alloc(16 * 1024);
      for (let i = 0; i < 200; i++) ins.run(big);
      const r = await cp.request(path);
      assert.ok(!('error' in r && (r as { error?: string }).error), 'checkpoint ran');
      const left = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
      assert.equal(left[0]!.log, left[0]!.checkpointed, 'everything in the WAL was checkpointed');
    } finally {
      pc.stop();
      await cp.close();
    }
  });
});
