import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { Store, DEFAULT_INLINE_MAX_SIZE, type StoreOptions } from './store.js';
import { QuotaExceededError, MailboxNotFoundError, StoreError } from './types.js';
import type { Change } from './changes.js';
import { messagePath, tmpDir } from './paths.js';
import { createLogger } from '../log/logger.js';

async function withStore(fn: (s: Store, dataDir: string) => Promise<void>, opts: Partial<StoreOptions> = {}): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-store-'));
  const s = await Store.open({ dataDir, clock: () => new Date('2026-01-02T03:04:05Z'), ...opts });
  try {
    await fn(s, dataDir);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const msg = (n: number | string) => Buffer.from(`Subject: test ${n}\r\nMessage-ID: <${n}@x>\r\n\r\nbody ${n}\r\n`);

test('new account has default mailboxes with special-use and distinct UIDVALIDITY', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const mbs = a.listMailboxes();
    assert.deepEqual(mbs.map((m) => m.name).sort(), ['Archive', 'Drafts', 'Inbox', 'Junk', 'Sent', 'Trash']);
    const su = Object.fromEntries(mbs.map((m) => [m.name, m.specialUse]));
    assert.deepEqual(su, { Archive: '\\Archive', Drafts: '\\Drafts', Inbox: null, Junk: '\\Junk', Sent: '\\Sent', Trash: '\\Trash' });
    assert.equal(new Set(mbs.map((m) => m.uidValidity)).size, 6);
    assert.ok(mbs.every((m) => m.uidNext === 1 && m.total === 0 && m.subscribed));
    assert.equal(a.mailbox('INBOX')!.name, 'Inbox');
    assert.equal(s.account('mjl'), a); // cached
  });
});

test('reopen keeps data; migrations idempotent', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-store-'));
  try {
    let s = await Store.open({ dataDir });
    const d = await s.account('a').deliver({ mailbox: 'Inbox', data: msg(1) });
    await s.close();
    s = await Store.open({ dataDir });
    const a = s.account('a');
    assert.equal(a.listMailboxes().length, 6);
    assert.equal(a.getMessage(d.id)!.uid, 1);
    const d2 = await a.deliver({ mailbox: 'Inbox', data: msg(2) });
    assert.ok(d2.id > d.id);
    assert.equal(d2.uid, 2);
    await s.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('deliver: row and file bytes identical, uid/uidnext/modseq progression, counts', async () => {
  await withStore(async (s, dataDir) => {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!;
    const m0 = a.highestModseq();
    const d1 = await a.deliver({
      mailbox: 'Inbox',
      data: msg(1),
      parsed: { part: 'tree' },
      meta: { spf: 'pass' },
      mailFrom: 'a@x',
      rcptTo: 'mjl@y',
      remoteIp: '192.0.2.1',
      messageId: '<1@x>',
      subject: 'test 1',
    });
    const d2 = await a.deliver({ mailbox: inbox.id, data: msg(2), flags: ['seen'], keywords: ['$Junk'] });
    assert.equal(d1.uid, 1);
    assert.equal(d2.uid, 2);
    assert.ok(d1.modseq > m0 && d2.modseq > d1.modseq);
    assert.deepEqual(readFileSync(messagePath(dataDir, 'mjl', d1.id)), msg(1));
    assert.deepEqual(await a.readMessage(d2.id), msg(2));
    const m1 = a.getMessage(d1.id)!;
    assert.deepEqual(m1.parsed, { part: 'tree' });
    assert.deepEqual(m1.meta, { spf: 'pass' });
    assert.equal(m1.size, msg(1).length);
    assert.equal(m1.receivedAt.toISOString(), '2026-01-02T03:04:05.000Z');
    assert.equal(m1.mailFrom, 'a@x');
    assert.equal(m1.remoteIp, '192.0.2.1');
    assert.equal(m1.subject, 'test 1');
    assert.equal(m1.createSeq, d1.modseq);
    const m2 = a.getMessageByUid(inbox.id, 2)!;
    assert.equal(m2.flags.seen, true);
    assert.deepEqual(m2.keywords, ['$junk']);
    const after = a.mailbox('Inbox')!;
    assert.equal(after.uidNext, 3);
    assert.equal(after.total, 2);
    assert.equal(after.unseen, 1);
    assert.equal(after.size, msg(1).length + msg(2).length);
    assert.equal(after.highestModseq, d2.modseq);
    assert.deepEqual(after.keywords, ['$junk']);
    assert.equal(a.quota().used, after.size);
    assert.deepEqual(a.listMessages(inbox.id).map((m) => m.uid), [1, 2]);
    assert.deepEqual(a.listMessages(inbox.id, { uids: [[2, Infinity]] }).map((m) => m.uid), [2]);
    assert.equal(a.listMessages(inbox.id, { afterUid: 1, limit: 10 }).length, 1);
    assert.equal(a.listMessages(inbox.id)[0]!.parsed, undefined);
    assert.deepEqual(a.listMessages(inbox.id, { full: true })[0]!.parsed, { part: 'tree' });
    // No temp files left.
    assert.deepEqual(readdirSync(tmpDir(dataDir)), []);
  }, { inlineMaxSize: 0 }); // message files (inline storage is tested below)
});

test('concurrent deliveries are batched, each gets a unique increasing uid; events in commit order', async () => {
  const logged: string[] = [];
  await withStore(async (s) => {
    const a = s.account('mjl');
    const events: Change[] = [];
    s.changes.subscribe('mjl', (c) => events.push(c));
    const ds = await Promise.all(Array.from({ length: 300 }, (_, i) => a.deliver({ mailbox: 'Inbox', data: msg(i) })));
    const uids = ds.map((d) => d.uid).sort((x, y) => x - y);
    assert.deepEqual(uids, Array.from({ length: 300 }, (_, i) => i + 1));
    assert.equal(new Set(ds.map((d) => d.id)).size, 300);
    const evUids = events.flatMap((e) => (e.kind === 'add' ? e.uids : []));
    assert.deepEqual(evUids, uids);
    const mods = events.map((e) => e.modseq);
    assert.deepEqual(mods, [...mods].sort((x, y) => x - y));
    assert.ok(events.length < 300, `batched into ${events.length} events`);
    assert.equal(a.batchRedos, 0, 'no batch redone with savepoints');
    assert.equal(a.mailbox('Inbox')!.total, 300);
    for (const d of ds.slice(0, 20)) {
      const m = a.getMessage(d.id)!;
      assert.deepEqual(await a.readMessage(d.id), msg(Number(/test (\d+)/.exec(m.subject || (await a.readMessage(d.id)).toString())![1])));
    }
    // Batches took the set-based path (one mailbox update per batch), not the row-by-row retry.
    assert.deepEqual(logged.filter((l) => l.includes('redone row by row')), []);
  }, { log: createLogger({ level: 'warn', destination: { write: (l: string) => void logged.push(l) } }) });
});

test('a batch over several mailboxes: uids per mailbox in batch order, one modseq per row, counts and highestModseq as row by row', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const arch = a.createMailbox('Folder');
    const before = a.mailbox('Inbox')!;
    // All queued before the first flush: one batch, mailboxes interleaved, some seen or deleted.
    const spec = Array.from({ length: 12 }, (_, i) => ({ mailbox: i % 3 === 1 ? arch.id : 'Inbox', flags: i % 4 === 0 ? ['seen'] : i % 5 === 0 ? ['deleted'] : [] }));
    const ds = await Promise.all(spec.map((x, i) => a.deliver({ mailbox: x.mailbox, data: msg(i), flags: x.flags as ['seen'] })));
    const mods = ds.map((d) => d.modseq);
    assert.deepEqual(mods, Array.from({ length: 12 }, (_, i) => mods[0]! + i), 'one modseq per row, in batch order');
    for (const mb of [before, arch]) {
      const mine = ds.filter((d) => d.mailboxId === mb.id);
      assert.deepEqual(mine.map((d) => d.uid), mine.map((_, i) => mb.uidNext + i), `uids of ${mb.name} in batch order`);
      const now = a.mailbox(mb.id)!;
      const sp = spec.filter((_, i) => ds[i]!.mailboxId === mb.id);
      assert.equal(now.total, mb.total + mine.length);
      assert.equal(now.unseen, mb.unseen + sp.filter((x) => !x.flags.includes('seen')).length);
      assert.equal(now.deleted, mb.deleted + sp.filter((x) => x.flags.includes('deleted')).length);
      assert.equal(now.uidNext, mb.uidNext + mine.length);
      assert.equal(now.highestModseq, Math.max(...mine.map((d) => d.modseq)));
      assert.equal(now.size, mb.size + mine.reduce((n, d, i) => n + msg(spec.indexOf(sp[i]!)).length, 0));
    }
    for (const [i, d] of ds.entries()) assert.deepEqual(await a.readMessage(d.id), msg(i));
    // Taken by the batch path (one mailbox update per mailbox), not redone row by row.
    assert.equal(a.batchRedos, 0, 'no batch redone with savepoints');
  });
});

test('deliver from a caller temp file; into missing mailbox creates it; append does not', async () => {
  await withStore(async (s, dataDir) => {
    const a = s.account('mjl');
    const spool = join(tmpDir(dataDir), 'smtp-spool');
    writeFileSync(spool, msg('spool'));
    const d = await a.deliver({ mailbox: 'Lists/node', data: { tempPath: spool } });
    assert.deepEqual(await a.readMessage(d.id), msg('spool'));
    assert.ok(a.mailbox('Lists') && a.mailbox('Lists/node'));
    assert.equal(a.mailbox('Lists/node')!.id, d.mailboxId);
    await assert.rejects(a.append('Nope', { data: msg(1) }), MailboxNotFoundError);
    const ap = await a.append('Sent', { data: msg(2), flags: ['seen', 'draft'], receivedAt: new Date(1000) });
    assert.equal(a.getMessage(ap.id)!.receivedAt.getTime(), 1000);
    assert.equal(a.mailbox('Sent')!.unseen, 0);
  });
});

test('quota exceeded rejects with QuotaExceededError and leaves no file', async () => {
  await withStore(
    async (s, dataDir) => {
      const a = s.account('q');
      await a.deliver({ mailbox: 'Inbox', data: Buffer.alloc(600) });
      await assert.rejects(a.deliver({ mailbox: 'Inbox', data: Buffer.alloc(600) }), (e: unknown) => {
        assert.ok(e instanceof QuotaExceededError);
        assert.equal(e.code, 'quota');
        assert.equal(e.limit, 1000);
        return true;
      });
      // Concurrent: reservations count, so only one of two 300-byte messages fits.
      const rs = await Promise.allSettled([a.deliver({ mailbox: 'Inbox', data: Buffer.alloc(300) }), a.deliver({ mailbox: 'Inbox', data: Buffer.alloc(300) })]);
      assert.deepEqual(rs.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      assert.equal(a.quota().used, 900);
      assert.equal(a.mailbox('Inbox')!.total, 2);
      const files = readdirSync(join(dataDir, 'accounts', 'q', 'msg'), { recursive: true }).filter((f) => /\d+$/.test(String(f)) && String(f).includes('/'));
      assert.equal(files.length, 2);
    },
    { quotaMessageSize: () => 1000, inlineMaxSize: 0 },
  );
});

test('a failing message in a batch does not fail the others', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const mb = a.createMailbox('Doomed');
    const ps = [a.deliver({ mailbox: 'Inbox', data: msg(1) }), a.deliver({ mailbox: mb.id, data: msg(2) }), a.deliver({ mailbox: 'Inbox', data: msg(3) })];
    a.deleteMailbox(mb.id); // before the batch commits: its row insert fails
    const rs = await Promise.allSettled(ps);
    assert.deepEqual(rs.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(a.mailbox('Inbox')!.total, 2);
    const rej = rs[1] as PromiseRejectedResult;
    assert.ok(rej.reason instanceof MailboxNotFoundError);
    assert.equal(a.batchRedos, 1, 'the batch was redone row by row');
    const id2 = (rs[0] as PromiseFulfilledResult<{ id: number }>).value.id + 1;
    await a.settle();
    assert.equal(existsSync(a.messageFilePath(id2)), false);
  });
});

test('flags and keywords: add/remove/replace bump modseq, counts, UNCHANGEDSINCE', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!.id;
    for (let i = 1; i <= 3; i++) await a.deliver({ mailbox: 'Inbox', data: msg(i) });
    const events: Change[] = [];
    s.changes.subscribe('mjl', (c) => events.push(c));
    const r1 = a.setFlags(inbox, [[1, 2]], { mode: 'add', flags: ['seen', 'deleted'], keywords: ['$Forwarded'] });
    assert.equal(r1.changed.length, 2);
    assert.ok(r1.modseq! > 3);
    let mb = a.mailbox(inbox)!;
    assert.equal(mb.unseen, 1);
    assert.equal(mb.deleted, 2);
    assert.equal(mb.highestModseq, r1.modseq);
    assert.deepEqual(mb.keywords, ['$forwarded']);
    assert.deepEqual(a.getMessageByUid(inbox, 1)!.keywords, ['$forwarded']);
    // No-op change: no modseq bump, no event.
    const r2 = a.setFlags(inbox, [1], { mode: 'add', flags: ['seen'] });
    assert.equal(r2.modseq, null);
    assert.equal(r2.changed.length, 0);
    // UNCHANGEDSINCE: uid 1,2 have modseq r1.modseq; uid 3 lower.
    const r3 = a.setFlags(inbox, [[1, 3]], { mode: 'remove', flags: ['deleted'], unchangedSince: r1.modseq! - 1 });
    assert.deepEqual(r3.failed, [1, 2]);
    assert.equal(r3.changed.length, 0); // uid 3 had no \Deleted
    const r4 = a.setFlags(inbox, [[1, 3]], { mode: 'replace', flags: ['flagged'], keywords: ['work'], unchangedSince: r1.modseq! });
    assert.deepEqual(r4.failed, []);
    assert.equal(r4.changed.length, 3);
    mb = a.mailbox(inbox)!;
    assert.equal(mb.unseen, 3);
    assert.equal(mb.deleted, 0);
    assert.deepEqual(a.getMessageByUid(inbox, 2)!.flags, { seen: false, answered: false, flagged: true, deleted: false, draft: false });
    assert.deepEqual(a.getMessageByUid(inbox, 2)!.keywords, ['work']);
    assert.deepEqual(events.map((e) => e.kind), ['flags', 'flags']);
    assert.throws(() => a.setFlags(inbox, [1], { mode: 'add', keywords: ['bad word'] }), StoreError);
  });
});

test('copy, move and expunge with tombstones; changesSince for QRESYNC', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!;
    const archive = a.mailbox('Archive')!;
    const ds = [];
    for (let i = 1; i <= 4; i++) ds.push(await a.deliver({ mailbox: 'Inbox', data: msg(i), flags: i === 1 ? ['seen'] : [] }));
    const before = a.highestModseq();

    const c = await a.copyMessages(inbox.id, [1, 2], 'Archive');
    assert.deepEqual(c.srcUids, [1, 2]);
    assert.deepEqual(c.dstUids, [1, 2]);
    assert.equal(c.uidValidity, archive.uidValidity);
    const copied = a.getMessageByUid(archive.id, 1)!;
    assert.notEqual(copied.id, ds[0]!.id);
    assert.deepEqual(await a.readMessage(copied.id), msg(1));
    assert.equal(copied.flags.seen, true);
    assert.equal(a.mailbox('Archive')!.total, 2);
    assert.equal(a.mailbox('Archive')!.unseen, 1);
    assert.equal(a.quota().used, [1, 2, 3, 4, 1, 2].reduce((n, i) => n + msg(i).length, 0));

    const mv = a.moveMessages(inbox.id, [3], archive.id);
    assert.deepEqual(mv.srcUids, [3]);
    assert.deepEqual(mv.dstUids, [3]);
    const moved = a.getMessageByUid(archive.id, 3)!;
    assert.equal(moved.id, ds[2]!.id); // same id and file
    assert.deepEqual(await a.readMessage(moved.id), msg(3));
    assert.equal(a.getMessageByUid(inbox.id, 3)!.expunged, true); // tombstone

    a.setFlags(inbox.id, [4], { mode: 'add', flags: ['deleted'] });
    const ex = a.expunge(inbox.id);
    assert.deepEqual(ex.uids, [4]);
    await a.settle();
    assert.equal(existsSync(a.messageFilePath(ds[3]!.id)), false);
    const ex2 = a.expunge(inbox.id, { uids: [1], deletedOnly: false });
    assert.deepEqual(ex2.uids, [1]);

    const mb = a.mailbox(inbox.id)!;
    assert.equal(mb.total, 1);
    assert.equal(mb.uidNext, 5);
    assert.equal(mb.size, msg(2).length);
    assert.deepEqual(a.listMessages(inbox.id).map((m) => m.uid), [2]);
    assert.deepEqual(a.uids(inbox.id), [2]);

    const ch = a.changesSince(inbox.id, before);
    assert.deepEqual(ch.vanished.sort(), [1, 3, 4]);
    assert.deepEqual(ch.changed.map((m) => m.uid), []);
    assert.equal(ch.highestModseq, a.mailbox(inbox.id)!.highestModseq);
    assert.deepEqual(a.changesSince(archive.id, before).changed.map((m) => m.uid), [1, 2, 3]);
    // Copied file survives expunge of the original (hard link).
    assert.deepEqual(await a.readMessage(copied.id), msg(1));
    assert.equal(a.quota().used, [2, 1, 2, 3].reduce((n, i) => n + msg(i).length, 0));
  });
});

test('mailboxes: create with parents, rename with children, delete, subscribe', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const events: Change[] = [];
    s.changes.subscribe('mjl', (c) => events.push(c));
    a.createMailbox('Work/Projects/X');
    assert.ok(a.mailbox('Work') && a.mailbox('Work/Projects'));
    assert.throws(() => a.createMailbox('Work'), (e: unknown) => e instanceof StoreError && e.code === 'exists');
    assert.throws(() => a.createMailbox('a//b'), StoreError);
    assert.throws(() => a.createMailbox('a*'), StoreError);
    const x = a.mailbox('Work/Projects/X')!;
    const d = await a.deliver({ mailbox: x.id, data: msg(1) });
    const renamed = a.renameMailbox('Work', 'Old/Work');
    assert.deepEqual(renamed.map((m) => m.name).sort(), ['Old/Work', 'Old/Work/Projects', 'Old/Work/Projects/X']);
    assert.equal(a.mailbox('Old/Work/Projects/X')!.id, x.id);
    assert.equal(a.mailbox('Old/Work/Projects/X')!.uidValidity, x.uidValidity);
    assert.ok(a.mailbox('Old'));
    assert.equal(a.mailbox('Work'), undefined);
    assert.equal(a.getMessage(d.id)!.mailboxId, x.id);
    assert.ok(a.listSubscriptions().includes('Old/Work/Projects/X'));
    assert.throws(() => a.renameMailbox('Inbox', 'Foo'), StoreError);
    assert.throws(() => a.renameMailbox('Old', 'Old/Sub'), StoreError);
    assert.throws(() => a.deleteMailbox('Old/Work'), (e: unknown) => e instanceof StoreError && e.code === 'haschildren');
    a.deleteMailbox('Old/Work/Projects/X');
    await a.settle();
    assert.equal(existsSync(a.messageFilePath(d.id)), false);
    assert.equal(a.quota().used, 0);
    assert.throws(() => a.deleteMailbox('Inbox'), StoreError);
    // New mailbox with a previously used name gets a new UIDVALIDITY.
    const again = a.createMailbox('Old/Work/Projects/X');
    assert.notEqual(again.uidValidity, x.uidValidity);
    a.setSubscribed('Elsewhere', true);
    a.setSubscribed('Sent', false);
    assert.ok(a.listSubscriptions().includes('Elsewhere'));
    assert.equal(a.mailbox('Sent')!.subscribed, false);
    const kinds = events.map((e) => e.kind);
    assert.ok(kinds.includes('mailbox-add') && kinds.includes('mailbox-rename') && kinds.includes('mailbox-remove') && kinds.includes('subscribe'));
    const mods = events.map((e) => e.modseq);
    assert.deepEqual(mods, [...mods].sort((p, q) => p - q));
  });
});

test('accounts are isolated: change bus and data', async () => {
  await withStore(async (s) => {
    const a = s.account('a');
    const b = s.account('b');
    const seenA: Change[] = [];
    s.changes.subscribe('a', (c) => seenA.push(c));
    s.changes.subscribe('a', () => {
      throw new Error('bad listener');
    });
    await Promise.all([a.deliver({ mailbox: 'Inbox', data: msg(1) }), b.deliver({ mailbox: 'Inbox', data: msg(2) })]);
    assert.equal(seenA.length, 1);
    assert.equal(seenA[0]!.account, 'a');
    assert.equal(b.mailbox('Inbox')!.total, 1);
  });
});

test('startup sweeps tmp and unreferenced message files', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-store-'));
  try {
    let s = await Store.open({ dataDir, inlineMaxSize: 0 });
    const a = s.account('a');
    const d = await a.deliver({ mailbox: 'Inbox', data: msg(1) });
    await s.close();
    // Simulate a crash: a temp file, and a message file whose row was never committed.
    writeFileSync(join(tmpDir(dataDir), 'deliver-x'), 'partial');
    const orphan = messagePath(dataDir, 'a', d.id + 5);
    writeFileSync(orphan, 'orphan');
    const farOrphan = messagePath(dataDir, 'a', 100000);
    mkdirSync(dirname(farOrphan), { recursive: true });
    writeFileSync(farOrphan, 'orphan');
    s = await Store.open({ dataDir, inlineMaxSize: 0 });
    assert.deepEqual(readdirSync(tmpDir(dataDir)), []);
    const a2 = s.account('a');
    assert.equal(existsSync(orphan), false);
    assert.equal(existsSync(farOrphan), false);
    assert.deepEqual(await a2.readMessage(d.id), msg(1));
    await s.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('password record stored in the account', async () => {
  await withStore(async (s) => {
    const a = s.account('a');
    assert.equal(a.getPassword(), undefined);
    a.setPassword({ v: 1, scrypt: { hash: 'x' } });
    a.setPassword({ v: 1, scrypt: { hash: 'y' } });
    assert.deepEqual(a.getPassword(), { v: 1, scrypt: { hash: 'y' } });
  });
});

test('full-text index hook', async () => {
  await withStore(async (s) => {
    const a = s.account('a');
    const d1 = await a.deliver({ mailbox: 'Inbox', data: msg(1) });
    const d2 = await a.deliver({ mailbox: 'Inbox', data: msg(2) });
    a.indexText(d1.id, 'hello wonderful world');
    a.indexText(d2.id, 'goodbye world');
    assert.deepEqual(a.searchText('world'), [d1.id, d2.id]);
    assert.deepEqual(a.searchText('wonderful'), [d1.id]);
    a.expunge(a.mailbox('Inbox')!.id, { uids: [1], deletedOnly: false });
    assert.deepEqual(a.searchText('world'), [d2.id]);
  });
});

test('closed store rejects use', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-store-'));
  try {
    const s = await Store.open({ dataDir });
    const a = s.account('a');
    const p = a.deliver({ mailbox: 'Inbox', data: msg(1) });
    await s.close(); // waits for the in-flight delivery
    await p;
    assert.throws(() => s.account('a'), StoreError);
    await assert.rejects(a.deliver({ mailbox: 'Inbox', data: msg(2) }), StoreError);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('inline messages (inlineMaxSize): no file, ranged reads, copy/move/expunge/delete, reopen', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-store-'));
  try {
    let s = await Store.open({ dataDir, inlineMaxSize: 1024 });
    let a = s.account('a');
    const small = await a.deliver({ mailbox: 'Inbox', data: msg('small') });
    const big = await a.deliver({ mailbox: 'Inbox', data: Buffer.alloc(2000, 'x') });
    assert.equal(a.isInline(small.id), true);
    assert.equal(existsSync(a.messageFilePath(small.id)), false);
    assert.equal(a.isInline(big.id), false);
    assert.equal(existsSync(a.messageFilePath(big.id)), true);
    assert.deepEqual(await a.readMessage(small.id), msg('small'));
    assert.equal((await a.readMessage(small.id, 0, 7)).toString(), 'Subject');
    assert.equal((await a.readMessage(small.id, 9, 13)).toString(), 'test');
    assert.equal((await a.readMessage(small.id, 5000)).length, 0);
    const inbox = a.mailbox('Inbox')!.id;
    const c = await a.copyMessages(inbox, [[1, 2]], 'Archive');
    const copy = a.getMessageByUid(a.mailbox('Archive')!.id, c.dstUids[0]!)!;
    assert.equal(a.isInline(copy.id), true);
    assert.deepEqual(await a.readMessage(copy.id), msg('small'));
    a.moveMessages(inbox, [1], 'Trash');
    assert.deepEqual(await a.readMessage(small.id), msg('small'));
    a.expunge(a.mailbox('Trash')!.id, { deletedOnly: false });
    assert.equal(a.isInline(small.id), false);
    assert.deepEqual(await a.readMessage(copy.id), msg('small'));
    await s.close();
    s = await Store.open({ dataDir, inlineMaxSize: 1024 });
    a = s.account('a');
    assert.deepEqual(await a.readMessage(copy.id), msg('small'));
    a.deleteMailbox('Archive');
    assert.equal(a.isInline(copy.id), false);
    assert.equal(a.quota().used, 2000);
    await s.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('default: messages up to 256 KiB inline, larger ones as files; ranged reads of both', async () => {
  await withStore(async (s) => {
    const a = s.account('d');
    const body = (n: number) => Buffer.from('Subject: x\r\n\r\n' + 'y'.repeat(n - 16) + '\r\n');
    const atLimit = body(DEFAULT_INLINE_MAX_SIZE);
    const over = body(DEFAULT_INLINE_MAX_SIZE + 1);
    assert.equal(atLimit.length, DEFAULT_INLINE_MAX_SIZE);
    const d1 = await a.deliver({ mailbox: 'Inbox', data: atLimit });
    const d2 = await a.deliver({ mailbox: 'Inbox', data: over });
    assert.equal(a.isInline(d1.id), true);
    assert.equal(existsSync(a.messageFilePath(d1.id)), false);
    assert.equal(a.isInline(d2.id), false);
    assert.equal(existsSync(a.messageFilePath(d2.id)), true);
    for (const [id, data] of [[d1.id, atLimit], [d2.id, over]] as const) {
      assert.deepEqual(await a.readMessage(id), data);
      assert.deepEqual(await a.readMessage(id, 3, 9), data.subarray(3, 9));
      assert.deepEqual(await a.readMessage(id, data.length - 5), data.subarray(data.length - 5));
      assert.deepEqual(await a.readMessage(id, 10, data.length + 100), data.subarray(10));
      assert.equal((await a.readMessage(id, data.length + 1)).length, 0);
    }
  });
});

test('removeAccount waits for deliveries, closes the database and deletes the data', async () => {
  await withStore(async (s, dataDir) => {
    const a = s.account('gone');
    const pending = a.deliver({ mailbox: 'Inbox', data: Buffer.from('Subject: x\r\n\r\nx\r\n') });
    await s.removeAccount('gone');
    await pending; // acknowledged before the removal went ahead
    assert.equal(existsSync(join(dataDir, 'accounts', 'gone')), false);
    // A later use starts a fresh, empty account.
    const again = s.account('gone');
    assert.equal(again.listMessages(again.mailbox('Inbox')!.id).length, 0);
    await assert.rejects(s.removeAccount('../escape'));
  });
});

test('delivery batches commit at synchronous=NORMAL and fsync the WAL; other writes stay FULL; changes stay in commit order', async () => {
  await withStore(async (s) => {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!;
    await a.deliver({ mailbox: 'Inbox', data: msg(1) });
    assert.equal(a.db.pragma('synchronous', { simple: true }), 2, 'FULL outside delivery batches');
    const events: Change[] = [];
    s.changes.subscribe('mjl', (c) => events.push(c));
    const p = a.deliver({ mailbox: 'Inbox', data: msg(2) });
    let flagsDone = false;
    // (Inline, so the row is queued synchronously.) The batch is flushed on setImmediate; this
    // one runs right after it, while its WAL fsync is still on the thread pool: the row is
    // committed, its change not yet published.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        assert.equal(a.isSyncing, true);
        assert.equal(a.db.pragma('synchronous', { simple: true }), 2);
        assert.equal(a.mailbox('Inbox')!.total, 2, 'committed');
        assert.equal(events.length, 0, 'not published before the fsync');
        const r = a.setFlags(inbox.id, [1], { mode: 'add', flags: ['seen'] });
        assert.ok(r.modseq);
        assert.equal(events.length, 0, 'flags change waits behind the batch');
        flagsDone = true;
        resolve();
      }),
    );
    const d = await p;
    assert.ok(flagsDone);
    assert.deepEqual(
      events.map((e) => [e.kind, e.modseq]),
      [
        ['add', d.modseq],
        ['flags', d.modseq + 1],
      ],
    );
    assert.equal(a.isSyncing, false);
    // Published at once again when no batch is waiting.
    a.setFlags(inbox.id, [2], { mode: 'add', flags: ['flagged'] });
    assert.equal(events.length, 3);
  }, { inlineMaxSize: 1024 });
});

test('bounded concurrent WAL fsyncs: accounts wait for a slot, their rows form larger batches, all are acknowledged', async () => {
  for (const maxConcurrentSyncs of [1, 2]) {
    await withStore(
      async (s) => {
        const accts = ['a', 'b', 'c'].map((n) => s.account(n));
        const events = new Map<string, number[]>();
        for (const a of accts) s.changes.subscribe(a.name, (c) => c.kind === 'add' && events.set(a.name, [...(events.get(a.name) ?? []), ...c.uids]));
        const ds = await Promise.all(accts.flatMap((a) => Array.from({ length: 40 }, (_, i) => a.deliver({ mailbox: 'Inbox', data: msg(`${a.name}${i}`) }))));
        assert.equal(ds.length, 120);
        for (const a of accts) {
          const inbox = a.mailbox('Inbox')!;
          assert.equal(inbox.total, 40);
          assert.deepEqual(a.uids(inbox.id), Array.from({ length: 40 }, (_, i) => i + 1));
          assert.deepEqual(events.get(a.name), Array.from({ length: 40 }, (_, i) => i + 1), 'published in commit order');
          assert.equal(a.isSyncing, false);
        }
        // Later deliveries still go through (slots were all returned).
        await Promise.all(accts.map((a) => a.deliver({ mailbox: 'Inbox', data: msg('late') })));
      },
      { maxConcurrentSyncs },
    );
  }
});
