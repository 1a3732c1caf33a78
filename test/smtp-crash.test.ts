/**
 * Crash test for incoming SMTP: 50 concurrent senders deliver to a server in a child process,
 * which is SIGKILLed mid-load. After a restart, every message that got a 250 is stored exactly
 * once with its bytes intact, and no temp file is left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { connect } from 'node:net';
import { writeTestConfig } from './helpers/server.js';
import { startChild, CrashClient } from './helpers/crash.js';
import { Store } from '../store/index.js';
import { nullLogger } from '../log/logger.js';

const CHILD = fileURLToPath(new URL('./smtp-crash-child.js', import.meta.url));
const SENDERS = 50;
/** Kill once this many messages have been acknowledged (deliveries are still in flight then). */
const KILL_AFTER = 400;

test('SIGKILL during 50 concurrent SMTP senders: every acknowledged message is stored once and intact', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-smtpcrash-'));
  await writeTestConfig(dir);
  const { child, port } = await startChild(CHILD, [dir]);

  const acked = new Map<string, string>(); // token → exact message bytes sent
  let seq = 0;
  let killed = false;
  let resolveKill!: () => void;
  const killNow = new Promise<void>((r) => (resolveKill = r));

  const sender = async (n: number) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const s = new CrashClient(sock);
    try {
      await s.reply();
      s.send(`EHLO sender${n}.example\r\n`);
      await s.reply();
      for (;;) {
        const token = `t${n}-${seq++}`;
        // Bodies of varying size, some large enough to be spilled to a temp file during DATA.
        const body = `${token} `.repeat(1 + ((seq * 37) % 7) * (seq % 11 === 0 ? 9000 : 60));
        const msg = `From: <s${n}@sender.example>\r\nTo: <mjl@example.com>\r\nSubject: crash ${token}\r\nMessage-ID: <${token}@sender.example>\r\n\r\n${body}\r\n`;
        s.send(`MAIL FROM:<s${n}@sender.example>\r\nRCPT TO:<mjl@example.com>\r\nDATA\r\n`);
        const [m, r, d] = await Promise.all([s.reply(), s.reply(), s.reply()]);
        if (!m.startsWith('250') || !r.startsWith('250') || !d.startsWith('354')) throw new Error(`refused: ${m} | ${r} | ${d}`);
        s.send(`${msg}.\r\n`);
        const final = await s.reply();
        if (!final.startsWith('250')) throw new Error(`DATA refused: ${final}`);
        acked.set(token, msg);
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          resolveKill();
        }
      }
    } catch (e) {
      if (!killed) throw new Error(`sender ${n} failed before the kill (${acked.size} acknowledged): ${(e as Error).message}`);
    } finally {
      sock.destroy();
    }
  };

  const senders = Array.from({ length: SENDERS }, (_, i) => sender(i));
  await killNow;
  child.kill('SIGKILL');
  await once(child, 'exit');
  await Promise.all(senders);
  assert.ok(acked.size >= KILL_AFTER);

  // Restart on the same directory: startup sweeps what was never acknowledged.
  const again = await startChild(CHILD, [dir]);
  again.child.kill('SIGTERM');
  const [code] = await once(again.child, 'exit');
  assert.equal(code, 0);
  assert.deepEqual(readdirSync(join(dir, 'data', 'tmp')), [], 'no temp files left behind');

  const store = await Store.open({ dataDir: join(dir, 'data'), log: nullLogger() });
  try {
    const a = store.account('mjl');
    const msgs = a.listMessages(a.mailbox('Inbox')!.id);
    const byToken = new Map<string, number[]>();
    for (const m of msgs) {
      const t = /^<(t\d+-\d+)@sender\.example>$/.exec(m.messageId)?.[1];
      assert.ok(t, `unexpected message id ${m.messageId}`);
      byToken.set(t, [...(byToken.get(t) ?? []), m.id]);
    }
    for (const [token, sent] of acked) {
      const ids = byToken.get(token);
      assert.equal(ids?.length, 1, `acknowledged message ${token} stored exactly once`);
      const stored = (await a.readMessage(ids[0]!)).toString();
      assert.ok(stored.endsWith(sent), `message ${token} intact`);
    }
    for (const [token, ids] of byToken) assert.equal(ids.length, 1, `${token} stored at most once`);
    // Files on disk match rows: nothing orphaned remains after the restart's sweep.
    const box = a.mailbox('Inbox')!;
    assert.equal(box.total, msgs.length);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
