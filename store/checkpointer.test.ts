import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.js';
import { Checkpointer } from './checkpointer.js';
import { accountDbPath } from './paths.js';
import { openDb } from './db.js';
import { ACCOUNT_MIGRATIONS } from './schema.js';

function walFrames(db: ReturnType<typeof openDb>): { log: number; checkpointed: number } {
  // A PASSIVE checkpoint with nothing to do reports the WAL's frame counts without copying.
  const r = (db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>)[0]!;
  return { log: r.log, checkpointed: r.checkpointed };
}

test('checkpointer: accounts turn autocheckpoint off; the worker checkpoints, then restarts a long WAL; data intact after reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-ckpt-'));
  try {
    // A low restart threshold, so this test sees a RESTART checkpoint.
    const store = await Store.open({ dataDir: dir, checkpointRestartAfterFrames: 100 });
    const path = accountDbPath(dir, 'mjl');
    const body = (i: number) => Buffer.from(`Subject: m${i}\r\n\r\n${'x'.repeat(8000)} ${i}\r\n`);
    const n = 2000;
    try {
      const a = store.account('mjl');
      assert.equal(a.db.pragma('wal_autocheckpoint', { simple: true }), 0);
      // ~8 KiB inline each: well over 4 MiB of WAL, so the account asks for checkpoints itself.
      await Promise.all(Array.from({ length: n }, (_, i) => a.deliver({ mailbox: 'Inbox', data: body(i) })));
      const cp = store.checkpointer!;
      const first = await cp.request(path);
      assert.equal(first.error, undefined);
      assert.ok(first.log > 100 && first.checkpointed === first.log, `whole WAL checkpointed: ${JSON.stringify(first)}`);
      const second = await cp.request(path);
      assert.equal(second.mode, 'RESTART', 'a WAL over the threshold gets a RESTART checkpoint');
      // The next write starts the log over: the WAL now holds only that transaction's frames.
      await a.deliver({ mailbox: 'Inbox', data: body(n) });
      assert.ok(walFrames(a.db).log < 20, `wal started over: ${JSON.stringify(walFrames(a.db))}`);
    } finally {
      await store.close();
    }

    // Reopen with a plain connection: every message is there, byte for byte.
    const db = openDb(path, ACCOUNT_MIGRATIONS);
    assert.equal(db.prepare('SELECT count(*) FROM message').pluck().get() as number, n + 1);
    db.close();
    const s2 = await Store.open({ dataDir: dir });
    const a2 = s2.account('mjl');
    const ms = a2.listMessages(a2.mailbox('Inbox')!.id);
    assert.equal(ms.length, n + 1);
    assert.deepEqual(await a2.readMessage(ms[n - 1]!.id), body(n - 1));
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpointer: coalesces requests, never creates a missing database, reports errors without throwing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-ckpt-'));
  const cp = new Checkpointer();
  try {
    const missing = join(dir, 'nope.db');
    const r = await cp.request(missing);
    assert.match(r.error ?? '', /unable to open|does not exist|SQLITE_CANTOPEN/i);
    assert.throws(() => statSync(missing), /ENOENT/);
    const path = join(dir, 'x.db');
    const db = openDb(path, [{ version: 1, sql: 'CREATE TABLE t (x BLOB)' }]);
    db.pragma('wal_autocheckpoint = 0');
    for (let i = 0; i < 50; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096, i));
    const rs = await Promise.all([cp.request(path), cp.request(path), cp.request(path)]);
    assert.ok(rs.every((x) => x.error === undefined));
    assert.equal(rs[2]!.checkpointed, rs[2]!.log);
    assert.ok(rs[2]!.log > 0);
    db.close();
  } finally {
    await cp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpointer: a store without the worker keeps SQLite automatic checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-ckpt-'));
  try {
    const store = await Store.open({ dataDir: dir, checkpointWorker: false });
    assert.equal(store.account('mjl').db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
