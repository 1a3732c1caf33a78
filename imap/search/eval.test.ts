// SEARCH evaluation against a real store (full-text index included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../store/store.js';
import type { Account } from '../../store/account.js';
import { parseBuffer } from '../../message/part.js';
import { evaluateSearch, sentDay, type SearchContext } from './eval.js';
import type { SearchKey } from './types.js';

function mail(o: { from: string; to: string; subject: string; date: string; body: string; extra?: string }): Buffer {
  return Buffer.from(
    `From: ${o.from}\r\nTo: ${o.to}\r\nSubject: ${o.subject}\r\nDate: ${o.date}\r\n${o.extra ?? ''}Content-Type: text/plain; charset=utf-8\r\n\r\n${o.body}\r\n`,
  );
}

async function withMailbox(fn: (a: Account, ctx: SearchContext) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moxts-search-'));
  const s = await Store.open({ dataDir });
  try {
    const a = s.account('a');
    const msgs = [
      // uid 1
      { m: mail({ from: 'Alice <alice@example.org>', to: 'bob@example.com', subject: 'Budget meeting', date: 'Tue, 1 Jul 2003 23:52:37 -0700', body: 'The zebrafish numbers are in.' }), flags: ['seen'] as const, kw: ['$label1'], at: '2003-07-02T08:00:00Z' },
      // uid 2
      { m: mail({ from: '=?utf-8?q?J=C3=B6rg?= <jorg@example.net>', to: 'carol@example.com', subject: 'Re: lunch', date: 'Wed, 2 Jul 2003 10:00:00 +0000', body: 'See you at noon. ok', extra: 'X-Priority: 1\r\n' }), flags: ['flagged', 'deleted'] as const, kw: [], at: '2003-07-03T00:00:00Z' },
      // uid 3
      { m: mail({ from: 'bob@example.com', to: 'alice@example.org', subject: 'numbers', date: 'garbage', body: 'x'.repeat(3000) }), flags: [] as const, kw: [], at: '2003-07-10T12:00:00Z' },
    ];
    for (const x of msgs) {
      await a.deliver({ mailbox: 'Inbox', data: x.m, parsed: parseBuffer(x.m), flags: [...x.flags], keywords: x.kw, receivedAt: new Date(x.at) });
    }
    const mailboxId = a.mailbox('Inbox')!.id;
    await fn(a, { account: a, mailboxId, uids: a.uids(mailboxId), rev2: true, now: () => new Date('2003-07-10T13:00:00Z') });
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const d = (year: number, month: number, day: number) => ({ year, month, day });

test('flags, keywords, sizes, sets, boolean structure, modseq, within', async () => {
  await withMailbox(async (a, ctx) => {
    const q = async (...keys: SearchKey[]) => (await evaluateSearch(ctx, keys)).uids;
    assert.deepEqual(await q({ kind: 'all' }), [1, 2, 3]);
    assert.deepEqual(await q({ kind: 'flag', flag: 'seen', set: true }), [1]);
    assert.deepEqual(await q({ kind: 'flag', flag: 'seen', set: false }), [2, 3]);
    assert.deepEqual(await q({ kind: 'flag', flag: 'deleted', set: true }, { kind: 'flag', flag: 'flagged', set: true }), [2]);
    assert.deepEqual(await q({ kind: 'keyword', keyword: '$Label1', set: true }), [1]);
    assert.deepEqual(await q({ kind: 'keyword', keyword: '$label1', set: false }), [2, 3]);
    assert.deepEqual(await q({ kind: 'size', op: 'larger', size: 1000 }), [3]);
    assert.deepEqual(await q({ kind: 'size', op: 'smaller', size: 1000 }), [1, 2]);
    assert.deepEqual(await q({ kind: 'seq', set: { kind: 'ranges', ranges: [{ first: 2, last: '*' }] } }), [2, 3]);
    assert.deepEqual(await q({ kind: 'uid', set: { kind: 'ranges', ranges: [{ first: 7, last: '*' }] } }), [3], 'n:* includes the last uid');
    assert.deepEqual(await q({ kind: 'not', key: { kind: 'seq', set: { kind: 'ranges', ranges: [{ first: 1, last: 1 }] } } }), [2, 3]);
    assert.deepEqual(await q({ kind: 'or', a: { kind: 'flag', flag: 'seen', set: true }, b: { kind: 'size', op: 'larger', size: 1000 } }), [1, 3]);
    assert.deepEqual(await q({ kind: 'and', keys: [{ kind: 'all' }, { kind: 'flag', flag: 'seen', set: false }] }, { kind: 'flag', flag: 'deleted', set: false }), [3]);
    assert.deepEqual(await q({ kind: 'uid', set: { kind: 'saved' } }), []);
    assert.deepEqual((await evaluateSearch({ ...ctx, saved: [1, 3] }, [{ kind: 'seq', set: { kind: 'saved' } }])).seqs, [1, 3]);
    const inbox = ctx.mailboxId;
    const fr = a.setFlags(inbox, [3], { mode: 'add', flags: ['answered'] });
    const r = await evaluateSearch(ctx, [{ kind: 'modseq', modseq: fr.modseq! }]);
    assert.deepEqual(r.uids, [3]);
    assert.equal(r.highestModseq, fr.modseq);
    assert.deepEqual(await q({ kind: 'younger', seconds: 7200 }), [3]);
    assert.deepEqual(await q({ kind: 'older', seconds: 7200 }), [1, 2]);
    // rev1 \Recent
    const rev1 = { ...ctx, rev2: false, isRecent: (uid: number) => uid >= 2 };
    assert.deepEqual((await evaluateSearch(rev1, [{ kind: 'recent' }])).uids, [2, 3]);
    assert.deepEqual((await evaluateSearch(rev1, [{ kind: 'new' }])).uids, [2, 3]);
    assert.deepEqual((await evaluateSearch(rev1, [{ kind: 'old' }])).uids, [1]);
    assert.deepEqual(await q({ kind: 'recent' }), []);
  });
});

test('dates: internal date ignores time (UTC day), SENT* use the Date header in its own zone', async () => {
  await withMailbox(async (_a, ctx) => {
    const q = async (...keys: SearchKey[]) => (await evaluateSearch(ctx, keys)).uids;
    assert.deepEqual(await q({ kind: 'date', which: 'internal', op: 'on', date: d(2003, 7, 2) }), [1]);
    assert.deepEqual(await q({ kind: 'date', which: 'internal', op: 'before', date: d(2003, 7, 3) }), [1]);
    assert.deepEqual(await q({ kind: 'date', which: 'internal', op: 'since', date: d(2003, 7, 3) }), [2, 3]);
    assert.deepEqual(await q({ kind: 'date', which: 'sent', op: 'on', date: d(2003, 7, 1) }), [1], 'Date: zone kept (UTC would be Jul 2)');
    assert.deepEqual(await q({ kind: 'date', which: 'sent', op: 'since', date: d(2003, 7, 2) }), [2, 3], 'no usable Date: internal date');
    assert.deepEqual(await q({ kind: 'date', which: 'sent', op: 'before', date: d(2003, 7, 2) }), [1]);
    assert.equal(sentDay('1 Jan 99 00:00 GMT'), 19990101);
    assert.equal(sentDay('nonsense'), null);
  });
});

test('TEXT/BODY through the full-text index, header keys, short strings', async () => {
  await withMailbox(async (_a, ctx) => {
    const q = async (...keys: SearchKey[]) => (await evaluateSearch(ctx, keys)).uids;
    assert.deepEqual(await q({ kind: 'text', value: 'ZEBRAFISH' }), [1]);
    assert.deepEqual(await q({ kind: 'body', value: 'zebra' }), [1]);
    assert.deepEqual(await q({ kind: 'body', value: 'lunch' }), [], 'subject is not body');
    assert.deepEqual(await q({ kind: 'text', value: 'lunch' }), [2]);
    assert.deepEqual(await q({ kind: 'text', value: 'numbers' }), [1, 3]);
    assert.deepEqual(await q({ kind: 'text', value: 'ok' }), [2], 'short: scanned');
    assert.deepEqual(await q({ kind: 'body', value: 'xx' }), [3], 'short: scanned');
    assert.deepEqual(await q({ kind: 'header', field: 'from', value: 'alice' }), [1]);
    assert.deepEqual(await q({ kind: 'header', field: 'to', value: 'alice' }), [3]);
    assert.deepEqual(await q({ kind: 'header', field: 'FROM', value: 'jörg' }), [2], 'rfc2047-decoded');
    assert.deepEqual(await q({ kind: 'header', field: 'subject', value: 'BUDGET' }), [1]);
    assert.deepEqual(await q({ kind: 'header', field: 'x-priority', value: '' }), [2], 'empty value: has the field');
    assert.deepEqual(await q({ kind: 'header', field: 'x-priority', value: '1' }), [2]);
    assert.deepEqual(await q({ kind: 'header', field: 'cc', value: '' }), []);
    assert.deepEqual(await q({ kind: 'not', key: { kind: 'header', field: 'from', value: 'example.org' } }), [2, 3]);
  });
});

test('a message delivered just before the search is found (pending indexing is awaited)', async () => {
  await withMailbox(async (a, ctx) => {
    const m = mail({ from: 'x@y', to: 'z@y', subject: 's', date: 'Thu, 3 Jul 2003 00:00:00 +0000', body: 'platypus' });
    await a.deliver({ mailbox: 'Inbox', data: m, parsed: parseBuffer(m) });
    const r = await evaluateSearch({ ...ctx, uids: a.uids(ctx.mailboxId) }, [{ kind: 'text', value: 'platypus' }]);
    assert.deepEqual(r.uids, [4]);
  });
});
