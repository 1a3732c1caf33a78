/**
 * setFlags' set-based path (+FLAGS/-FLAGS of system flags, one UPDATE per uid range): overlapping
 * ranges count each message once, counts and modseq move as with the row-by-row path, and
 * UNCHANGEDSINCE reports the messages it left alone. Also: the parse tree (message_parsed, schema
 * migration 6) follows copies and goes away with expunge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.js';
import { parseBuffer } from '../message/part.js';

test('set-based +FLAGS/-FLAGS: overlapping ranges, counts, one modseq, UNCHANGEDSINCE', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-flags-'));
  const s = await Store.open({ dataDir });
  try {
    const a = s.account('f');
    const inbox = a.mailbox('Inbox')!;
    for (let i = 1; i <= 6; i++) {
      await a.deliver({ mailbox: 'Inbox', data: Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`), flags: i % 2 ? ['seen'] : [] });
    }
    assert.equal(a.mailbox(inbox.id)!.unseen, 3);

    const before = a.highestModseq();
    const r = a.setFlags(inbox.id, [[1, 4], [3, 6], 2], { mode: 'add', flags: ['seen', 'deleted'] });
    assert.deepEqual(r.changed.map((c) => c.uid), [1, 2, 3, 4, 5, 6], 'each message once, in uid order');
    assert.equal(r.modseq, before + 1);
    assert.ok(r.changed.every((c) => c.modseq === r.modseq && c.flags.seen && c.flags.deleted));
    let mb = a.mailbox(inbox.id)!;
    assert.equal(mb.unseen, 0);
    assert.equal(mb.deleted, 6);
    assert.equal(mb.highestModseq, r.modseq);

    // No-op: nothing changes, no modseq.
    const again = a.setFlags(inbox.id, [[1, 6]], { mode: 'add', flags: ['seen'] });
    assert.equal(again.modseq, null);
    assert.equal(again.changed.length, 0);
    assert.equal(a.highestModseq(), r.modseq);

    // Message 2 changes later; a conditional -FLAGS since r.modseq leaves it alone.
    a.setFlags(inbox.id, [2], { mode: 'add', flags: ['flagged'] });
    const c = a.setFlags(inbox.id, [[1, 6]], { mode: 'remove', flags: ['seen'], unchangedSince: r.modseq! });
    assert.deepEqual(c.failed, [2]);
    assert.deepEqual(c.changed.map((x) => x.uid), [1, 3, 4, 5, 6]);
    mb = a.mailbox(inbox.id)!;
    assert.equal(mb.unseen, 5);
    assert.equal(mb.deleted, 6);
    const live = a.listMessages(inbox.id);
    assert.equal(live.filter((m) => !m.flags.seen).length, mb.unseen);
    assert.deepEqual(live.find((m) => m.uid === 2)!.flags, { seen: true, answered: false, flagged: true, deleted: true, draft: false });
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('parse tree: kept in message_parsed, copied with the message, removed by expunge', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-flags-'));
  const s = await Store.open({ dataDir });
  try {
    const a = s.account('p');
    const data = Buffer.from('Subject: tree\r\nContent-Type: text/plain\r\n\r\nhello\r\n');
    const d = await a.deliver({ mailbox: 'Inbox', data, parsed: parseBuffer(data) });
    const orig = a.getMessage(d.id)!;
    assert.ok(orig.parsed, 'parse tree read back');
    const copy = await a.copyMessages(d.mailboxId, [d.uid], 'Archive');
    const copied = a.getMessageByUid(copy.mailboxId, copy.dstUids[0]!)!;
    assert.deepEqual(copied.parsed, orig.parsed);
    a.expunge(d.mailboxId, { uids: [d.uid], deletedOnly: false });
    assert.equal(a.db.prepare('SELECT count(*) FROM message_parsed WHERE id = ?').pluck().get(d.id), 0);
    assert.equal(a.db.prepare('SELECT count(*) FROM message_parsed WHERE id = ?').pluck().get(copied.id), 1);
    a.deleteMailbox('Archive');
    assert.equal(a.db.prepare('SELECT count(*) FROM message_parsed').pluck().get(), 0);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
