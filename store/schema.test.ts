// Account schema migrations: migration 5 rebuilds the message table with the small columns first
// and keeps every row, blob and index; migration 6 moves the parse tree into message_parsed;
// migration 7 moves the preformatted IMAP strings into message_imap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from './db.js';
import { ACCOUNT_MIGRATIONS } from './schema.js';

test('migration 5 reorders message columns and keeps rows, blobs and indexes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-schema-'));
  try {
    const path = join(dir, 'index.db');
    let db = openDb(path, ACCOUNT_MIGRATIONS.filter((m) => m.version <= 4));
    db.prepare("INSERT INTO mailbox (name, uidValidity, highestModseq, createSeq) VALUES ('Inbox', 1, 1, 1)").run();
    const ins = db.prepare(
      `INSERT INTO message (id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, messageId, subject, parsed, mailFrom, rcptTo, remoteIp, meta, expunged, imapEnvelope, imapBodyStructure)
       VALUES (?, 1, ?, 5, 5, 1, '["a"]', 1000, 10, 'mid', 'subj', ?, 'f@x', 't@x', '::1', '{}', ?, 'ENV', 'BS')`,
    );
    ins.run(1, 1, JSON.stringify({ big: 'x'.repeat(20000) }), 0);
    ins.run(2, 2, null, 1);
    db.prepare('INSERT INTO message_blob (id, data) VALUES (1, ?)').run(Buffer.from('hello'));
    const before = db.prepare('SELECT id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, messageId, subject, parsed, mailFrom, rcptTo, remoteIp, meta, expunged, imapEnvelope, imapBodyStructure FROM message ORDER BY id').all();
    db.close();

    db = openDb(path, ACCOUNT_MIGRATIONS.filter((m) => m.version <= 5));
    const cols = (db.prepare("SELECT name FROM pragma_table_info('message')").pluck().all() as string[]);
    assert.deepEqual(cols.slice(-2), ['meta', 'parsed'], 'large columns last');
    assert.ok(!cols.includes('textIndexed'));
    const after = db.prepare('SELECT id, mailboxId, uid, modseq, createSeq, flags, keywords, receivedAt, size, messageId, subject, parsed, mailFrom, rcptTo, remoteIp, meta, expunged, imapEnvelope, imapBodyStructure FROM message ORDER BY id').all();
    assert.deepEqual(after, before);
    assert.deepEqual(db.prepare('SELECT data FROM message_blob WHERE id = 1').pluck().get(), Buffer.from('hello'));
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    const idx = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'message' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    assert.deepEqual(idx, ['message_mailbox_modseq', 'message_mailbox_uid']);
    assert.throws(() => db.prepare('INSERT INTO message (id, mailboxId, uid, modseq, createSeq, receivedAt, size) VALUES (3, 1, 1, 1, 1, 1, 1)').run(), /UNIQUE/);
    assert.throws(() => db.prepare('INSERT INTO message_blob (id, data) VALUES (99, x\'00\')').run(), /FOREIGN KEY/);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 6 moves parse trees into message_parsed; FULL_COLS reads them back', async () => {
  const { FULL_COLS } = await import('./account-sql.js');
  const dir = mkdtempSync(join(tmpdir(), 'moxts-schema-'));
  try {
    const path = join(dir, 'index.db');
    let db = openDb(path, ACCOUNT_MIGRATIONS.filter((m) => m.version <= 5));
    db.prepare("INSERT INTO mailbox (name, uidValidity, highestModseq, createSeq) VALUES ('Inbox', 1, 1, 1)").run();
    const ins = db.prepare("INSERT INTO message (id, mailboxId, uid, modseq, createSeq, receivedAt, size, parsed, expunged) VALUES (?, 1, ?, 5, 5, 1000, 10, ?, ?)");
    const tree = JSON.stringify({ big: 'y'.repeat(5000) });
    ins.run(1, 1, tree, 0);
    ins.run(2, 2, null, 1);
    db.close();

    db = openDb(path, ACCOUNT_MIGRATIONS);
    assert.deepEqual(db.prepare('SELECT id, parsed FROM message_parsed ORDER BY id').all(), [{ id: 1, parsed: tree }]);
    assert.equal(db.prepare('SELECT count(*) FROM message WHERE parsed IS NOT NULL').pluck().get(), 0, 'message rows no longer carry the tree');
    const rows = db.prepare(`SELECT ${FULL_COLS} FROM message ORDER BY id`).all() as Array<{ id: number; parsed: string | null }>;
    assert.deepEqual(rows.map((r) => [r.id, r.parsed]), [[1, tree], [2, null]]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 7 moves the IMAP strings into message_imap; IMAP_COLS and FULL_COLS read them back', async () => {
  const { FULL_COLS, IMAP_COLS } = await import('./account-sql.js');
  const dir = mkdtempSync(join(tmpdir(), 'moxts-schema-'));
  try {
    const path = join(dir, 'index.db');
    let db = openDb(path, ACCOUNT_MIGRATIONS.filter((m) => m.version <= 6));
    db.prepare("INSERT INTO mailbox (name, uidValidity, highestModseq, createSeq) VALUES ('Inbox', 1, 1, 1)").run();
    const ins = db.prepare('INSERT INTO message (id, mailboxId, uid, modseq, createSeq, receivedAt, size, imapEnvelope, imapBodyStructure) VALUES (?, 1, ?, 5, 5, 1000, 10, ?, ?)');
    ins.run(1, 1, 'ENV1', 'BS1');
    ins.run(2, 2, null, null);
    ins.run(3, 3, 'ENV3', null);
    db.close();

    db = openDb(path, ACCOUNT_MIGRATIONS);
    assert.deepEqual(db.prepare('SELECT id, envelope, bodyStructure FROM message_imap ORDER BY id').all(), [
      { id: 1, envelope: 'ENV1', bodyStructure: 'BS1' },
      { id: 3, envelope: 'ENV3', bodyStructure: null },
    ]);
    assert.equal(db.prepare('SELECT count(*) FROM message WHERE imapEnvelope IS NOT NULL OR imapBodyStructure IS NOT NULL').pluck().get(), 0);
    for (const cols of [FULL_COLS, IMAP_COLS]) {
      const rows = db.prepare(`SELECT ${cols} FROM message ORDER BY id`).all() as Array<{ id: number; imapEnvelope: string | null; imapBodyStructure: string | null }>;
      assert.deepEqual(rows.map((r) => [r.id, r.imapEnvelope, r.imapBodyStructure]), [[1, 'ENV1', 'BS1'], [2, null, null], [3, 'ENV3', null]]);
    }
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
