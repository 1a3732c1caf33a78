import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalSyncer } from './walsync.js';

test('WalSyncer: syncs the file at the path, reopens when it was replaced, refuses after close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-wal-'));
  try {
    const p = join(dir, 'index.db-wal');
    writeFileSync(p, 'a');
    const w = new WalSyncer(p);
    await w.sync();
    await w.sync();
    const ino1 = statSync(p).ino;
    // Replace the file (SQLite never does this while our connection is open; the guard copes).
    unlinkSync(p);
    writeFileSync(join(dir, 'keep'), 'x'); // make inode reuse for the new file less likely
    writeFileSync(p, 'b');
    assert.notEqual(statSync(p).ino, ino1);
    await w.sync();
    // Missing file: the sync fails (the caller refuses to acknowledge).
    unlinkSync(p);
    await assert.rejects(w.sync());
    writeFileSync(p, 'c');
    await w.sync();
    await w.close();
    await assert.rejects(w.sync(), /closed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
