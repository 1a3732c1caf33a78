/**
 * Benchmark of Account.deliver(): throughput and latency of durable deliveries with group commit.
 *
 *   node dist/bench/main.js deliver [--n 5000] [--concurrency 50] [--size 4096] [--accounts 1] [--inline BYTES] [--debug-log] [--keep]
 *
 * --inline sets StoreOptions.inlineMaxSize (messages up to BYTES stored in index.db, no file);
 * default the store's default (DEFAULT_INLINE_MAX_SIZE, 64 KiB); --inline 0: message files.
 *
 * Each of `concurrency` workers delivers messages of `size` bytes one after another into a fresh
 * temp data dir until `n` are done; latency is measured per delivery (call to resolve).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Store, DEFAULT_INLINE_MAX_SIZE } from '../store/store.js';
import { createLogger } from '../log/logger.js';

function arg(args: string[], name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad value for --${name}`);
  return v;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function run(args: string[]): Promise<void> {
  const n = arg(args, 'n', 5000);
  const concurrency = arg(args, 'concurrency', 50);
  const size = arg(args, 'size', 4096);
  const naccounts = arg(args, 'accounts', 1);
  const inline = arg(args, 'inline', DEFAULT_INLINE_MAX_SIZE);
  const keep = args.includes('--keep');
  const dataDir = await mkdtemp(join(tmpdir(), 'moxts-bench-deliver-'));
  // --debug-log: per-batch "delivery batch committed" lines (rows, ms) on stderr.
  const log = args.includes('--debug-log') ? createLogger({ level: 'debug' }) : undefined;
  const store = await Store.open({ dataDir, inlineMaxSize: inline, log });
  try {
    const accounts = Array.from({ length: naccounts }, (_, i) => store.account(`bench${i}`));
    // A header-ish prefix and random body so files are not all identical.
    const body = randomBytes(size);
    const lat: number[] = [];
    let next = 0;
    // Warm up (creates directories, prepares statements).
    await accounts[0]!.deliver({ mailbox: 'Inbox', data: body });
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const worker = async (w: number): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const data = Buffer.from(body);
        data.writeUInt32BE(i, 0);
        const s = process.hrtime.bigint();
        await accounts[(w + i) % naccounts]!.deliver({ mailbox: 'Inbox', data, mailFrom: 'bench@example.org', rcptTo: 'bench@localhost' });
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    const line = [
      `deliver: n=${n} size=${size} concurrency=${concurrency} accounts=${naccounts} inline<=${inline}`,
      `${(n / secs).toFixed(0)} msg/s`,
      `p50 ${pct(lat, 50).toFixed(2)} ms`,
      `p99 ${pct(lat, 99).toFixed(2)} ms`,
      `max ${lat[lat.length - 1]!.toFixed(2)} ms`,
      `cpu ${((cpu.user + cpu.system) / 1000 / n).toFixed(3)} ms/msg (user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s)`,
      `(${secs.toFixed(2)} s, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'default 4'})`,
    ].join('  ');
    console.log(line);
  } finally {
    await store.close();
    if (!keep) await rm(dataDir, { recursive: true, force: true });
    else console.log(`data dir kept: ${dataDir}`);
  }
}
