// The full-text index and the preformatted IMAP strings kept per message (store migration 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.js';
import { parseBuffer } from '../message/part.js';
import { formatBodyStructure, formatEnvelope } from '../message/bodystructure.js';

async function withStore(fn: (s: Store) => Promise<void>, inlineMaxSize?: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-textindex-'));
  const s = await Store.open({ dataDir, inlineMaxSize });
  try {
    await fn(s);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const mail = (subject: string, body: string, extra = '') =>
  Buffer.from(
    `From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\nTo: x@example.com\r\nSubject: ${subject}\r\n${extra}` +
      `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${body}\r\n` +
      `--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('attachmentword inside').toString('base64')}\r\n--b--\r\n`,
  );

for (const inline of [65536, 0]) {
  test(`deliveries are indexed in the background, header and body apart, attachments not (inline ${inline})`, async () => {
    await withStore(async (s) => {
      const a = s.account('a');
      const m1 = mail('quarterly figures', 'Caf=C3=A9 zebrafish meeting');
      const d1 = await a.deliver({ mailbox: 'Inbox', data: m1, parsed: parseBuffer(m1) });
      const m2 = mail('lunch', 'nothing here');
      const d2 = await a.deliver({ mailbox: 'Inbox', data: m2 }); // no parse tree: parsed for indexing
      const inbox = a.mailbox('Inbox')!.id;
      await a.indexPending();
      assert.equal(a.unindexedCount(inbox), 0);
      assert.deepEqual(a.searchText('"zebrafish"'), [d1.id]);
      assert.deepEqual(a.searchText('"EBRAF"'), [d1.id], 'substring, case-insensitive');
      assert.deepEqual(a.searchText('"cafe"'), [d1.id], 'decoded, diacritics removed');
      assert.deepEqual(a.searchText('body : "quarterly"'), [], 'subject is not body');
      assert.deepEqual(a.searchText('header : "quarterly"'), [d1.id]);
      assert.deepEqual(a.searchText('"jörg"'), [d1.id, d2.id], 'rfc2047 decoded header');
      assert.deepEqual(a.searchText('"attachmentword"'), [], 'attachments are not indexed');
      // Copies are indexed too; expunged ones leave the index.
      const c = await a.copyMessages(inbox, [1], 'Archive');
      await a.indexPending();
      const copy = a.getMessageByUid(c.mailboxId, c.dstUids[0]!)!;
      assert.deepEqual(a.searchText('"zebrafish"'), [d1.id, copy.id]);
      a.expunge(inbox, { uids: [1], deletedOnly: false });
      assert.deepEqual(a.searchText('"zebrafish"'), [copy.id]);
    }, inline);
  });
}

test('ENVELOPE and BODYSTRUCTURE are preformatted at delivery, kept by copy and move, cleared by expunge', async () => {
  await withStore(async (s) => {
    const a = s.account('a');
    const m = mail('hi', 'text');
    const parsed = parseBuffer(m);
    await a.deliver({ mailbox: 'Inbox', data: m, parsed });
    await a.deliver({ mailbox: 'Inbox', data: m });
    const inbox = a.mailbox('Inbox')!.id;
    const [x, y] = a.listMessages(inbox, { imap: true });
    assert.equal(x!.imapEnvelope, formatEnvelope(parsed));
    assert.equal(x!.imapBodyStructure, formatBodyStructure(parsed, true));
    assert.equal(x!.parsed, undefined, 'imap listing leaves the parse tree out');
    assert.equal(y!.imapEnvelope, null);
    const c = await a.copyMessages(inbox, [1], 'Archive');
    assert.equal(a.getMessageByUid(c.mailboxId, c.dstUids[0]!)!.imapEnvelope, x!.imapEnvelope);
    const mv = a.moveMessages(c.mailboxId, c.dstUids, 'Trash');
    assert.equal(a.getMessageByUid(mv.mailboxId, mv.dstUids[0]!)!.imapBodyStructure, x!.imapBodyStructure);
    const id = x!.id;
    a.expunge(inbox, { uids: [1], deletedOnly: false });
    assert.equal(a.db.prepare('SELECT count(*) FROM message_imap WHERE id = ?').pluck().get(id), 0);
    assert.equal(a.db.prepare('SELECT count(*) FROM message WHERE imapEnvelope IS NOT NULL OR imapBodyStructure IS NOT NULL').pluck().get(), 0, 'message rows no longer carry them (migration 7)');
    // Deleting a mailbox removes its messages' strings too.
    const trash = a.mailbox('Trash')!.id;
    const kept = a.listMessages(trash, { imap: true })[0]!.id;
    const sub = a.createMailbox('Sub');
    await a.copyMessages(trash, mv.dstUids, sub.id);
    const subId = a.listMessages(sub.id, { imap: true })[0]!.id;
    a.deleteMailbox(sub.id);
    assert.equal(a.db.prepare('SELECT count(*) FROM message_imap WHERE id = ?').pluck().get(subId), 0);
    assert.equal(a.db.prepare('SELECT count(*) FROM message_imap WHERE id = ?').pluck().get(kept), 1);
  });
});

test('imapMessages: the lean listing agrees with listMessages on what IMAP uses', async () => {
  await withStore(async (s) => {
    const a = s.account('a');
    const m = mail('hi', 'text');
    for (let i = 0; i < 5; i++) await a.deliver({ mailbox: 'Inbox', data: m, parsed: parseBuffer(m), flags: i % 2 ? ['seen'] : [], keywords: i === 3 ? ['Work'] : [] });
    const inbox = a.mailbox('Inbox')!.id;
    a.expunge(inbox, { uids: [2], deletedOnly: false });
    const full = a.listMessages(inbox, { imap: true });
    const lean = a.imapMessages(inbox, null, { envelope: true, bodyStructure: true });
    const pick = (l: typeof full) => l.map((x) => ({ id: x.id, uid: x.uid, modseq: x.modseq, flags: x.flags, keywords: x.keywords, receivedAt: x.receivedAt, size: x.size, env: x.imapEnvelope, bs: x.imapBodyStructure }));
    assert.deepEqual(pick(lean), pick(full));
    assert.deepEqual(a.imapMessages(inbox, [5, [1, 3]]).map((x) => x.uid), [1, 3, 5]);
    assert.equal(a.imapMessages(inbox, [1])[0]!.imapEnvelope, null, 'not asked for');
    const ids = full.map((x) => x.id);
    assert.deepEqual([...a.uidsOfIds(inbox, [...ids, 99999]).entries()], full.map((x) => [x.id, x.uid]));
  });
});
