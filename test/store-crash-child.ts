/**
 * Child process for test/store-crash.test.ts: delivers N messages concurrently into an account in
 * the given data dir, printing "ack <id> <uid> <sha256>" as each delivery resolves and "done" once
 * all have; then keeps delivering (unacknowledged) until it is killed.
 *
 *   node dist/test/store-crash-child.js <dataDir> <n> [inlineMaxSize]
 */
import { createHash, randomBytes } from 'node:crypto';
import { Store } from '../store/store.js';

async function main(): Promise<void> {
  const [dataDir, nArg, inlineArg] = process.argv.slice(2);
  if (!dataDir) throw new Error('usage: store-crash-child <dataDir> <n>');
  const n = Number(nArg ?? 1000);
  const store = await Store.open({ dataDir, inlineMaxSize: Number(inlineArg ?? 0) });
  const acct = store.account('crash');
  const make = (i: number): Buffer => {
    const body = randomBytes(200 + ((i * 7919) % 8000)).toString('base64');
    return Buffer.from(`Subject: crash ${i}\r\nX-Seq: ${i}\r\n\r\n${body}\r\n`);
  };
  let acked = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const data = make(i);
      const d = await acct.deliver({ mailbox: 'Inbox', data, subject: `crash ${i}` });
      const sha = createHash('sha256').update(data).digest('hex');
      // stdout to a pipe is synchronous on Linux: the line is out before we continue.
      process.stdout.write(`ack ${d.id} ${d.uid} ${sha}\n`);
      acked++;
    }),
  );
  process.stdout.write(`done ${acked}\n`);
  // Keep the store busy so the kill lands in the middle of writes and commits.
  let i = n;
  const more = async (): Promise<void> => {
    for (;;) await acct.deliver({ mailbox: 'Inbox', data: make(i++) });
  };
  await Promise.all(Array.from({ length: 20 }, more));
}

main().catch((err: unknown) => {
  process.stderr.write(`store-crash-child: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(2);
});
