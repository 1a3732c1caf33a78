/**
 * `npm run bench -- queue [--n 10] [--size 4096] [--recipients 1000]`
 *
 * Outgoing delivery rate: N messages of `size` bytes, each to `recipients` recipients spread over
 * 50 domains, are put in the queue (QueueStore.add, durable), then a moxts server in a child
 * process starts and its scheduler delivers them to a local SMTP sink (smtp/client/testsink.ts,
 * every MX of the 50 domains resolves to it through a dns2 server). Recipients of one message and
 * domain share a transaction; 10 deliveries at once, one per domain (mox's limits). Measured from
 * the server being ready until its queue is empty (every outcome recorded durably). Reports
 * recipients/s, SMTP transactions/s and the server's CPU seconds per 1,000 recipients.
 * Target (issue "Submission and the outbound queue"): ≥ 1,000 recipients/s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { writeTestConfig } from '../test/helpers/server.js';
import { startSink } from '../smtp/client/testsink.js';
import { QueueStore } from '../queue/store.js';
import { nullLogger } from '../log/logger.js';
import { arg, cpuSeconds } from './util.js';

const CHILD = fileURLToPath(new URL('./queue-server-child.js', import.meta.url));

function message(size: number, i: number): Buffer {
  const head = `From: <mjl@example.com>\r\nTo: <list@example.com>\r\nSubject: bench delivery ${i}\r\nMessage-ID: <bench-${i}@example.com>\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again 0123456789.\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body);
}

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '10'));
  const size = Number(arg(args, 'size', '4096'));
  const perMsg = Number(arg(args, 'recipients', '1000'));
  const dir = mkdtempSync(join(tmpdir(), 'moxts-benchq-'));
  await writeTestConfig(dir);
  const q = await QueueStore.open({ dataDir: join(dir, 'data'), log: nullLogger() });
  for (let i = 0; i < n; i++) {
    const recipients = Array.from({ length: perMsg }, (_, k) => ({ localpart: `u${i}-${k}`, domain: `dest${k % 50}.example` }));
    await q.add({ account: 'mjl', mailFrom: { localpart: 'mjl', domain: 'example.com' }, recipients, message: message(size, i) });
  }
  await q.close();
  const total = n * perMsg;

  let rcpts = 0;
  let transactions = 0;
  const sink = await startSink({
    rcpt: () => {
      rcpts++;
      return '250 2.1.5 ok';
    },
    dataEnd: () => {
      transactions++;
      return '250 2.0.0 queued';
    },
  });
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, [CHILD, dir, String(sink.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let t0 = 0;
    let cpu0: number | undefined;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on('line', (l) => {
        if (l === 'READY') {
          t0 = performance.now();
          cpu0 = cpuSeconds(child!.pid);
        }
        if (l === 'EMPTY') resolve();
      });
      child!.once('exit', (code) => reject(new Error(`server exited: ${code}`)));
    });
    const secs = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(child.pid);
    console.log(`${n} messages x ${perMsg} recipients (${total} recipients, 50 domains), ${size} bytes each`);
    console.log(`  delivered: ${rcpts} recipients in ${transactions} SMTP transactions, ${secs.toFixed(2)} s`);
    console.log(`  rate: ${(total / secs).toFixed(0)} recipients/s, ${(transactions / secs).toFixed(0)} transactions/s (target >= 1000 recipients/s)`);
    if (cpu !== undefined && cpu0 !== undefined) console.log(`  server CPU: ${(cpu - cpu0).toFixed(2)} s, ${(((cpu - cpu0) / total) * 1000).toFixed(3)} s per 1000 recipients`);
    if (rcpts < total) console.log(`  WARNING: the sink saw only ${rcpts} of ${total} recipients`);
    child.kill('SIGTERM');
    await once(child, 'exit');
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
