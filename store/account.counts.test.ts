/**
 * Randomized consistency check: after a random mix of operations, every mailbox's incremental
 * counts (total, unseen, deleted, size, uidNext, highestModseq) and the account quota equal what
 * the message rows say, and every live message is readable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.js';
import type { FlagName } from './types.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

for (const inlineMaxSize of [0, 300]) {
  test(`random operations keep counts consistent (inline ${inlineMaxSize})`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moxts-counts-'));
    const rnd = prng(42 + inlineMaxSize);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const flagNames: FlagName[] = ['seen', 'answered', 'flagged', 'deleted', 'draft'];
    const s = await Store.open({ dataDir, inlineMaxSize });
    try {
      const a = s.account('r');
      const names = ['Inbox', 'Archive', 'Trash', 'Work'];
      a.createMailbox('Work');
      const ids = () => names.map((n) => a.mailbox(n)!.id);
      for (let step = 0; step < 150; step++) {
        const mb = pick(ids());
        const live = a.listMessages(mb);
        const some = live.filter(() => rnd() < 0.3).map((m) => m.uid);
        const op = rnd();
        if (op < 0.35) {
          const n = 1 + Math.floor(rnd() * 5);
          await Promise.all(
            Array.from({ length: n }, (_, i) =>
              a.deliver({
                mailbox: mb,
                data: Buffer.from(`Subject: ${step}.${i}\r\n\r\n${'x'.repeat(Math.floor(rnd() * 600))}\r\n`),
                flags: flagNames.filter(() => rnd() < 0.3),
                keywords: rnd() < 0.2 ? ['$label1'] : [],
              }),
            ),
          );
        } else if (op < 0.6) {
          a.setFlags(mb, some, {
            mode: pick(['add', 'remove', 'replace'] as const),
            flags: flagNames.filter(() => rnd() < 0.4),
            keywords: rnd() < 0.3 ? ['work'] : [],
          });
        } else if (op < 0.7) {
          a.expunge(mb, rnd() < 0.5 ? {} : { uids: some, deletedOnly: false });
        } else if (op < 0.85) {
          const dst = pick(ids().filter((x) => x !== mb));
          a.moveMessages(mb, some, dst);
        } else {
          await a.copyMessages(mb, some, pick(ids()));
        }
      }
      await a.settle();
      let quota = 0;
      for (const id of ids()) {
        const mb = a.mailbox(id)!;
        const live = a.listMessages(id);
        const all = a.changesSince(id, 0);
        assert.equal(mb.total, live.length, `${mb.name} total`);
        assert.equal(mb.unseen, live.filter((m) => !m.flags.seen).length, `${mb.name} unseen`);
        assert.equal(mb.deleted, live.filter((m) => m.flags.deleted).length, `${mb.name} deleted`);
        const size = live.reduce((n, m) => n + m.size, 0);
        assert.equal(mb.size, size, `${mb.name} size`);
        quota += size;
        const uids = [...live.map((m) => m.uid), ...all.vanished];
        assert.equal(new Set(uids).size, uids.length, `${mb.name} uids unique incl. tombstones`);
        if (uids.length) assert.ok(mb.uidNext > Math.max(...uids));
        const maxMod = Math.max(0, ...all.changed.map((m) => m.modseq));
        assert.ok(mb.highestModseq >= maxMod);
        for (const m of live) assert.equal((await a.readMessage(m.id)).length, m.size);
      }
      assert.equal(a.quota().used, quota);
    } finally {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
