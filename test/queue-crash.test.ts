/**
 * Crash test for the outgoing queue: 1,000 queued deliveries (one recipient each, 50 domains) to
 * an SMTP sink; the server (a child process) is SIGKILLed in the middle of the burst. After a
 * restart every recipient has the message at least once, and only deliveries that were in flight
 * at the kill (attempt started, outcome not recorded) may arrive a second time. Nothing is lost:
 * the queue ends empty with every message retired as delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { writeTestConfig } from './helpers/server.js';
import { startSink } from '../smtp/client/testsink.js';
import { QueueStore } from '../queue/store.js';
import { nullLogger } from '../log/logger.js';

const CHILD = fileURLToPath(new URL('./queue-crash-child.js', import.meta.url));
const N = 1000;
/** Kill when the sink has this many messages (the burst is well under way). */
const KILL_AT = 300;

function startChild(dir: string, sinkPort: number, shiftMs: number): Promise<{ child: ChildProcess; empty: Promise<void> }> {
  const child = spawn(process.execPath, [CHILD, dir, String(sinkPort), String(shiftMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let onEmpty: () => void = () => {};
  const empty = new Promise<void>((r) => (onEmpty = r));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l === 'READY') resolve({ child, empty });
      if (l === 'EMPTY') onEmpty();
    });
    child.once('exit', (code, sig) => reject(new Error(`server child exited early: ${code ?? sig}`)));
  });
}

test('SIGKILL during 1,000 queued deliveries: after restart every recipient has it, duplicates only for deliveries in flight', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxts-queuecrash-'));
  await writeTestConfig(dir);
  const dataDir = join(dir, 'data');
  const all: string[] = [];
  {
    const q = await QueueStore.open({ dataDir, log: nullLogger() });
    for (let i = 0; i < N; i++) {
      const rcpt = `r${i}@d${i % 50}.example`;
      all.push(rcpt);
      await q.add({ account: 'mjl', mailFrom: { localpart: 'mjl', domain: 'example.com' }, recipients: [{ localpart: `r${i}`, domain: `d${i % 50}.example` }], message: Buffer.from(`From: <mjl@example.com>\r\nTo: <${rcpt}>\r\nSubject: ${i}\r\n\r\nmessage for ${rcpt}\r\n`) });
    }
    await q.close();
  }

  const got = new Map<string, number>();
  let total = 0;
  let child: ChildProcess | undefined;
  let onAll: () => void = () => {};
  const allArrived = new Promise<void>((r) => (onAll = r));
  const sink = await startSink({
    dataEnd: (msg) => {
      const to = /^To: <([^>]+)>/m.exec(msg.toString())![1]!;
      got.set(to, (got.get(to) ?? 0) + 1);
      total++;
      if (total === KILL_AT && child) {
        // Before this message's 250: it is certainly in flight.
        child.kill('SIGKILL');
        return null;
      }
      if (got.size === N) onAll();
      return '250 2.0.0 ok';
    },
  });
  try {
    child = (await startChild(dir, sink.port, 0)).child;
    await once(child, 'exit');
    const deliveredBeforeKill = total;
    assert.ok(deliveredBeforeKill >= KILL_AT && got.size < N, 'killed in the middle of the burst');

    // What the queue knew at the kill: attempts started whose outcome was not recorded.
    const q = await QueueStore.open({ dataDir, log: nullLogger() });
    const inFlight = new Set(q.list({}, { field: 'queued' }, N).filter((m) => m.attempts > 0).map((m) => `${m.recipientLocalpart}@${m.recipientDomain}`));
    const left = q.count();
    await q.close();
    assert.ok(left > 0 && left < N, `${left} still queued`);
    assert.ok(inFlight.size >= 1 && inFlight.size <= 10, `in flight at the kill: ${inFlight.size} (at most the concurrency)`);

    // Restart an hour later (injected clock): the in-flight attempts' backoff has passed.
    const second = await startChild(dir, sink.port, 3600_000);
    child = second.child;
    await allArrived;
    await second.empty;
    child.kill('SIGTERM');
    await once(child, 'exit');

    for (const r of all) assert.ok((got.get(r) ?? 0) >= 1, `${r} got the message`);
    const twice = [...got].filter(([, n]) => n > 1).map(([r]) => r);
    assert.ok(twice.every((r) => inFlight.has(r)), `duplicates only for in-flight deliveries: ${twice.join(' ')}`);
    assert.ok([...got.values()].every((n) => n <= 2), 'at most once more');

    const q2 = await QueueStore.open({ dataDir, log: nullLogger() });
    try {
      assert.equal(q2.count(), 0, 'queue empty: nothing lost');
    } finally {
      await q2.close();
    }
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
