/**
 * Crash scenario: a child process delivers 1,000 messages concurrently and reports each
 * acknowledged delivery; it is SIGKILLed right after the last acknowledgement while it keeps
 * delivering. Reopening the store must show every acknowledged message, intact, exactly once,
 * with consistent counts, and no temp or orphan files after the startup sweep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Store } from '../store/store.js';
import { messagesDir, tmpDir } from '../store/paths.js';

const N = 1000;

interface Ack {
  id: number;
  uid: number;
  sha: string;
}

function runChildUntilDone(dataDir: string, inlineMaxSize: number): Promise<{ acks: Ack[]; signal: NodeJS.Signals | null }> {
  const script = fileURLToPath(new URL('./store-crash-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dataDir, String(N), String(inlineMaxSize)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let stderr = '';
    let done = false;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const p = line.split(' ');
      if (p[0] === 'ack') acks.push({ id: Number(p[1]), uid: Number(p[2]), sha: p[3]! });
      else if (p[0] === 'done' && !done) {
        done = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!done) reject(new Error(`child exited (${code ?? signal}) before done: ${stderr}`));
      else resolve({ acks, signal });
    });
  });
}

for (const inlineMaxSize of [0, 4096]) {
  test(`SIGKILL after acknowledgements: every acknowledged message is present and intact (${inlineMaxSize ? 'small ones inline' : 'files'})`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moxts-crash-'));
    try {
      const { acks, signal } = await runChildUntilDone(dataDir, inlineMaxSize);
      assert.equal(signal, 'SIGKILL');
      assert.equal(acks.length, N);
      assert.equal(new Set(acks.map((a) => a.id)).size, N, 'ids unique');

      const store = await Store.open({ dataDir, inlineMaxSize });
      try {
        assert.deepEqual(readdirSync(tmpDir(dataDir)), [], 'tmp swept');
        const acct = store.account('crash');
        const inbox = acct.mailbox('Inbox')!;
        const live = acct.listMessages(inbox.id);
        const byId = new Map(live.map((m) => [m.id, m]));
        for (const a of acks) {
          const m = byId.get(a.id);
          assert.ok(m, `acknowledged message ${a.id} present`);
          assert.equal(m.uid, a.uid);
          const data = await acct.readMessage(a.id);
          assert.equal(data.length, m.size);
          assert.equal(createHash('sha256').update(data).digest('hex'), a.sha, `message ${a.id} intact`);
        }
        // Exactly once: uids unique, one row per acknowledged id, counts consistent.
        assert.equal(new Set(live.map((m) => m.uid)).size, live.length);
        const seqs = new Map<string, number>();
        for (const m of live) seqs.set(m.subject, (seqs.get(m.subject) ?? 0) + 1);
        for (const [subj, c] of seqs) if (subj) assert.equal(c, 1, `${subj} once`);
        assert.ok(live.length >= N);
        assert.equal(inbox.total, live.length);
        assert.equal(inbox.unseen, live.length);
        const size = live.reduce((s, m) => s + m.size, 0);
        assert.equal(inbox.size, size);
        assert.equal(acct.quota().used, size);
        assert.ok(inbox.uidNext > Math.max(...live.map((m) => m.uid)));
        // Every live row has its file with the right size; no file without a row.
        const files = new Map<number, number>();
        const msgDir = messagesDir(dataDir, 'crash');
        for (const d of readdirSync(msgDir)) {
          for (const f of readdirSync(join(msgDir, d))) files.set(Number(f), statSync(join(msgDir, d, f)).size);
        }
        const fileRows = live.filter((m) => !acct.isInline(m.id));
        if (inlineMaxSize) assert.ok(fileRows.length < live.length, 'some messages inline');
        else assert.equal(fileRows.length, live.length);
        assert.equal(files.size, fileRows.length, 'no orphan files after sweep');
        for (const m of fileRows) assert.equal(files.get(m.id), m.size, `file of ${m.id}`);
        // The store still works after the crash.
        const d = await acct.deliver({ mailbox: 'Inbox', data: Buffer.from('Subject: after\r\n\r\nx\r\n') });
        assert.ok(!byId.has(d.id));
        assert.equal((await acct.readMessage(d.id)).toString(), 'Subject: after\r\n\r\nx\r\n');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
