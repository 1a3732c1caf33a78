/**
 * Crash test for SMTP submission: 20 concurrent authenticated clients submit to a server in a
 * child process, which is SIGKILLed mid-burst. After a restart, every submission that got a 250
 * is in the queue exactly once per recipient, with its message intact (X-Mox-Extra headers removed;
 * small messages inline in queue.db, messages spilled to disk as files), its Extra stored, and no
 * unreferenced queue file, inline message or temp file is left. An all-empty hold rule keeps delivery away from the rows being checked.
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
import { QueueStore } from '../queue/store.js';
import { nullLogger } from '../log/logger.js';

const CHILD = fileURLToPath(new URL('./submission-crash-child.js', import.meta.url));
const CLIENTS = 20;
/** Kill once this many submissions have been acknowledged (more are in flight then). */
const KILL_AFTER = 300;
const PASSWORD = 'crashtest';

test('SIGKILL during 20 concurrent submission clients: every 250 is queued exactly once, file intact', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-subcrash-'));
  await writeTestConfig(dir, { listener: { Submission: { Enabled: true, Port: 0, NoRequireSTARTTLS: true } } });
  const pre = await QueueStore.open({ dataDir: join(dir, 'data'), log: nullLogger() });
  pre.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
  await pre.close();
  const { child, port } = await startChild(CHILD, [dir, PASSWORD]);

  // token → what the queue must hold: the message without its X-Mox-Extra header, the recipients, Extra.
  const acked = new Map<string, { stored: string; rcpts: string[]; extra: Record<string, string> }>();
  let seq = 0;
  let killed = false;
  let resolveKill!: () => void;
  const killNow = new Promise<void>((r) => (resolveKill = r));

  const client = async (n: number) => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const c = new CrashClient(sock);
    try {
      await c.reply();
      c.send(`EHLO client${n}.example\r\n`);
      await c.reply();
      c.send(`AUTH PLAIN ${Buffer.from(`\0mjl@example.com\0${PASSWORD}`).toString('base64')}\r\n`);
      const a = await c.reply();
      if (!a.startsWith('235')) throw new Error(`auth: ${a}`);
      for (;;) {
        const i = seq++;
        const token = `t${n}-${i}`;
        const rcpts = Array.from({ length: 1 + (i % 3) }, (_, k) => `r${k}@dest${i % 5}.example`);
        // Some bodies are big enough to be spilled to a temp file during DATA.
        const body = `${token} `.repeat(i % 13 === 0 ? 40_000 : 50 + (i % 7) * 30);
        const head = `From: <mjl@example.com>\r\nSubject: crash ${token}\r\nMessage-ID: <${token}@client.example>\r\n`;
        const withExtra = i % 2 === 0;
        const msg = `${head}${withExtra ? `X-Mox-Extra-Token: ${token}\r\n` : ''}\r\n${body}\r\n`;
        c.send(`MAIL FROM:<mjl@example.com>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
        const replies = await Promise.all(Array.from({ length: rcpts.length + 2 }, () => c.reply()));
        if (!replies.slice(0, -1).every((r) => r.startsWith('250')) || !replies[replies.length - 1]!.startsWith('354')) throw new Error(`refused: ${replies.join(' | ')}`);
        c.send(`${msg}.\r\n`);
        const final = await c.reply();
        if (!final.startsWith('250')) throw new Error(`DATA refused: ${final}`);
        acked.set(token, { stored: `${head}\r\n${body}\r\n`, rcpts, extra: withExtra ? { Token: token } : {} });
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          resolveKill();
        }
      }
    } catch (e) {
      if (!killed) throw new Error(`client ${n} failed before the kill (${acked.size} acknowledged): ${(e as Error).message}`);
    } finally {
      sock.destroy();
    }
  };

  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  await killNow;
  child.kill('SIGKILL');
  await once(child, 'exit');
  await Promise.all(clients);
  assert.ok(acked.size >= KILL_AFTER);

  // Restart: startup sweeps temp files and queue files no row refers to.
  const again = await startChild(CHILD, [dir, PASSWORD]);
  again.child.kill('SIGTERM');
  const [code] = await once(again.child, 'exit');
  assert.equal(code, 0);
  assert.deepEqual(readdirSync(join(dir, 'data', 'tmp')), [], 'no temp files left behind');

  const q = await QueueStore.open({ dataDir: join(dir, 'data'), log: nullLogger() });
  try {
    const rows = q.list({}, { field: 'queued' }, 1_000_000);
    const byToken = new Map<string, typeof rows>();
    for (const r of rows) {
      const t = /^<(t\d+-\d+)@client\.example>$/.exec(r.messageId)?.[1];
      assert.ok(t, `unexpected message id ${r.messageId}`);
      byToken.set(t, [...(byToken.get(t) ?? []), r]);
    }
    for (const [token, sent] of acked) {
      const rs = byToken.get(token);
      assert.ok(rs, `acknowledged submission ${token} is queued`);
      assert.deepEqual(rs.map((r) => `${r.recipientLocalpart}@${r.recipientDomain}`).sort(), [...sent.rcpts].sort(), `${token}: one row per recipient, exactly once`);
      assert.ok(new Set(rs.map((r) => r.baseId)).size === 1, `${token}: one submission`);
      for (const r of rs) assert.deepEqual(r.extra, sent.extra);
      const bytes = (await q.messageBytes(rs[0]!.id)).toString();
      assert.ok(bytes.endsWith(sent.stored), `${token}: message file intact, X-Mox-Extra removed`);
    }
    // Unacknowledged submissions may have been committed just before the kill; never twice.
    for (const [token, rs] of byToken) assert.equal(new Set(rs.map((r) => r.baseId)).size, 1, `${token} queued at most once`);
    // Every message (a file, or inline in queue.db for small ones) belongs to a row, and every
    // submission has exactly one of them.
    const root = join(dir, 'data', 'queue', 'msg');
    const files = readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
    const inline = (q.db.prepare('SELECT base_id FROM msg_body').pluck().all() as number[]).map(String);
    assert.ok(files.length > 0 && inline.length > 0, `both kinds were stored (${files.length} files, ${inline.length} inline)`);
    assert.deepEqual([...files, ...inline].sort(), [...new Set(rows.map((r) => String(r.baseId)))].sort());
  } finally {
    await q.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
