import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirMaker, DirSyncer, installMessageFile, readRange, sweepTmp, writeTempFile } from './msgfile.js';
import { messageDirName, messageRelPath } from './paths.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moxts-msgfile-'));
}

test('install from bytes and from a caller temp file; ranged reads', async () => {
  const dir = tmp();
  try {
    const syncer = new DirSyncer();
    const dirs = new DirMaker(syncer);
    const tmpDir = join(dir, 'tmp');
    mkdirSync(tmpDir);
    const data = Buffer.from('Subject: hi\r\n\r\nhello world\r\n');
    const t1 = join(dir, 'msg', 'a', '1');
    await installMessageFile({ target: t1, data, syncer, dirs });
    assert.deepEqual(readFileSync(t1), data);
    assert.deepEqual(readdirSync(tmpDir), []);
    const src = await writeTempFile(tmpDir, data);
    const t2 = join(dir, 'msg', 'a', '2');
    await installMessageFile({ target: t2, data: { tempPath: src }, syncer, dirs });
    assert.deepEqual(readFileSync(t2), data);
    assert.ok(existsSync(src)); // caller's file stays; caller removes it
    assert.equal((await readRange(t1, 0, 7)).toString(), 'Subject');
    assert.equal((await readRange(t1, 15)).toString(), 'hello world\r\n');
    assert.equal((await readRange(t1, 15, 1000)).toString(), 'hello world\r\n');
    assert.equal((await readRange(t1, 1000, 2000)).length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('failed install leaves nothing behind', async () => {
  const dir = tmp();
  try {
    const syncer = new DirSyncer();
    const dirs = new DirMaker(syncer);
    const tmpDir = join(dir, 'tmp');
    mkdirSync(tmpDir);
    writeFileSync(join(dir, 'file'), 'x');
    // Target directory cannot be created: its parent is a file.
    await assert.rejects(installMessageFile({ target: join(dir, 'file', 'sub', '1'), data: Buffer.from('x'), syncer, dirs }));
    assert.deepEqual(readdirSync(tmpDir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('concurrent directory fsyncs are shared and all resolve', async () => {
  const dir = tmp();
  try {
    const syncer = new DirSyncer();
    await Promise.all(Array.from({ length: 100 }, () => syncer.sync(dir)));
    await assert.rejects(syncer.sync(join(dir, 'missing')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweepTmp removes everything and creates the dir', async () => {
  const dir = tmp();
  try {
    const t = join(dir, 'tmp');
    assert.equal(await sweepTmp(t), 0);
    writeFileSync(join(t, 'a'), 'x');
    mkdirSync(join(t, 'd'));
    writeFileSync(join(t, 'd', 'b'), 'x');
    assert.equal(await sweepTmp(t), 2);
    assert.deepEqual(readdirSync(t), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('message paths spread over 8192-file directories', () => {
  assert.equal(messageDirName(1), '0');
  assert.equal(messageDirName(8191), '0');
  assert.equal(messageDirName(8192), '1');
  assert.equal(messageDirName(8192 * 64), '10');
  assert.equal(messageRelPath(8193), join('1', '8193'));
});
