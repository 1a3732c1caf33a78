// The full-text index in fts.db, filled by the worker thread (or on the event loop without it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.js';
import { parseBuffer } from '../message/part.js';
import { accountDir } from './paths.js';

const mail = (i: number, word: string) => Buffer.from(`Subject: m${i}\r\n\r\nbody ${word} number${i}\r\n`);

for (const ftsWorker of [true, false]) {
  test(`fts: deliveries still in progress hold the watermark back; all are indexed afterwards (worker ${ftsWorker})`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
    // inline 0: every delivery writes and fsyncs a file, so rows commit later and out of id order.
    const s = await Store.open({ dataDir, inlineMaxSize: 0, ftsWorker });
    try {
      const a = s.account('mjl');
      const inbox = a.mailbox('Inbox')!.id;
      const first = await a.deliver({ mailbox: 'Inbox', data: mail(0, 'platypus'), parsed: parseBuffer(mail(0, 'platypus')) });
      const inProgress = Array.from({ length: 40 }, (_, i) => a.deliver({ mailbox: 'Inbox', data: mail(i + 1, i % 2 ? 'wombat' : 'quokka') }));
      // Ids are handed out, no row is committed: indexing covers the committed message only.
      await a.indexPending();
      assert.deepEqual(a.searchText('"platypus"'), [first.id]);
      const done = await Promise.all(inProgress);
      await a.indexPending();
      assert.equal(a.unindexedCount(inbox), 0);
      assert.equal(a.searchText('"wombat"').length, 20);
      assert.equal(a.searchText('"quokka"').length, 20);
      assert.deepEqual(a.searchText('"number17"'), [done[16]!.id]);
      assert.ok(existsSync(join(accountDir(dataDir, 'mjl'), 'fts.db')));
      // Expunged messages drop out of results at once.
      a.expunge(inbox, { uids: [done[16]!.uid], deletedOnly: false });
      assert.deepEqual(a.searchText('"number17"'), []);
    } finally {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

test('fts: the index survives a reopen and continues from its watermark', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
  try {
    let s = await Store.open({ dataDir });
    let a = s.account('mjl');
    await a.deliver({ mailbox: 'Inbox', data: mail(1, 'echidna') });
    await a.indexPending();
    await s.close();
    s = await Store.open({ dataDir });
    a = s.account('mjl');
    const d2 = await a.deliver({ mailbox: 'Inbox', data: mail(2, 'echidna') });
    await a.indexPending();
    assert.equal(a.searchText('"echidna"').length, 2);
    assert.equal(a.searchText('"echidna"')[1], d2.id);
    await s.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Resolve once cond() holds, checking after each timer tick; fail after `ms`. */
async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('fts: deferred indexing: nothing is indexed while deliveries keep coming; SEARCH catches up at once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
  // An hour of idle time needed and no backlog bound: background indexing cannot start in this test.
  const s = await Store.open({ dataDir, indexIdleMs: 3_600_000, indexMaxDelayMs: 3_600_000, indexMaxBacklog: 1e9 });
  try {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!.id;
    const d = await a.deliver({ mailbox: 'Inbox', data: mail(1, 'bandicoot'), parsed: parseBuffer(mail(1, 'bandicoot')) });
    assert.equal(a.unindexedCount(inbox), 1, 'not indexed after delivery');
    // What IMAP SEARCH does first (imap/search/eval.ts): catch up, then query.
    await a.indexPending();
    assert.equal(a.unindexedCount(inbox), 0);
    assert.deepEqual(a.searchText('"bandicoot"'), [d.id]);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('fts: deferred indexing runs once deliveries pause', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
  const s = await Store.open({ dataDir, indexIdleMs: 30, indexMaxDelayMs: 3_600_000, indexMaxBacklog: 1e9 });
  try {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!.id;
    for (let i = 0; i < 5; i++) await a.deliver({ mailbox: 'Inbox', data: mail(i, 'numbat') });
    await until(() => a.unindexedCount(inbox) === 0);
    assert.equal(a.searchText('"numbat"').length, 5);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('fts: deferred indexing does not wait for a pause once the backlog bound is reached', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
  const s = await Store.open({ dataDir, indexIdleMs: 3_600_000, indexMaxDelayMs: 3_600_000, indexMaxBacklog: 3 });
  try {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!.id;
    await Promise.all(Array.from({ length: 3 }, (_, i) => a.deliver({ mailbox: 'Inbox', data: mail(i, 'quoll') })));
    await until(() => a.unindexedCount(inbox) === 0);
    assert.equal(a.searchText('"quoll"').length, 3);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('fts: deferred indexing does not wait longer than the maximum delay', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-fts-'));
  const s = await Store.open({ dataDir, indexIdleMs: 3_600_000, indexMaxDelayMs: 50, indexMaxBacklog: 1e9 });
  try {
    const a = s.account('mjl');
    const inbox = a.mailbox('Inbox')!.id;
    await a.deliver({ mailbox: 'Inbox', data: mail(1, 'dunnart') });
    await until(() => a.unindexedCount(inbox) === 0);
    assert.equal(a.searchText('"dunnart"').length, 1);
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
