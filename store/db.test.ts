import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, migrate, userVersion, type Migration } from './db.js';
import { ACCOUNT_MIGRATIONS } from './schema.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moxts-db-'));
}

test('openDb sets WAL, synchronous=FULL, foreign keys', () => {
  const dir = tmp();
  try {
    const db = openDb(join(dir, 'x.db'), []);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 2); // FULL
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.ok(Number(db.pragma('busy_timeout', { simple: true })) > 0);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations are applied in order, tracked by user_version, idempotent', () => {
  const dir = tmp();
  try {
    const m1: Migration[] = [{ version: 1, sql: 'CREATE TABLE t (a INTEGER)' }];
    const path = join(dir, 'x.db');
    let db = openDb(path, m1);
    assert.equal(userVersion(db), 1);
    assert.equal(migrate(db, m1), 1); // again: nothing applied, no error
    db.close();
    const m2: Migration[] = [...m1, { version: 2, sql: (d) => d.exec('ALTER TABLE t ADD COLUMN b TEXT') }];
    db = openDb(path, m2);
    assert.equal(userVersion(db), 2);
    db.prepare('INSERT INTO t (a, b) VALUES (1, ?)').run('x');
    db.close();
    db = openDb(path, m2);
    assert.equal(userVersion(db), 2);
    db.close();
    // Older code refuses a newer database.
    assert.throws(() => openDb(path, m1), /newer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing migration leaves the database at the old version', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'x.db');
    const m1: Migration[] = [{ version: 1, sql: 'CREATE TABLE t (a INTEGER)' }];
    openDb(path, m1).close();
    const bad: Migration[] = [...m1, { version: 2, sql: 'CREATE TABLE u (a INTEGER); CREATE TABLE t (x)' }];
    assert.throws(() => openDb(path, bad));
    const db = openDb(path, m1);
    assert.equal(userVersion(db), 1);
    assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'u'").pluck().get(), 0);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration list must be numbered 1..n', () => {
  const dir = tmp();
  try {
    assert.throws(() => openDb(join(dir, 'x.db'), [{ version: 2, sql: 'SELECT 1' }]), /out of order/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('account schema migrates and re-opens cleanly', () => {
  const dir = tmp();
  try {
    const p = join(dir, 'index.db');
    openDb(p, ACCOUNT_MIGRATIONS).close();
    const db = openDb(p, ACCOUNT_MIGRATIONS);
    assert.equal(userVersion(db), ACCOUNT_MIGRATIONS.length);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
