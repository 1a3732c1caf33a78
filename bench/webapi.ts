/**
 * `npm run bench -- webapi [--n N] [--concurrency 20] [--warmup 5000] [--idempotency]`
 *
 * Webapi Send: a moxts server in a child process, and here N Send requests (a small text message,
 * one recipient, urlencoded `request=` as mox's client sends it, HTTP Basic auth) from
 * `concurrency` clients, each with its own keep-alive connection (undici Pool). A 200 means the
 * message is durably queued. Reports requests/s, p50/p99 latency and the server's CPU time per
 * request. `--idempotency` sends a fresh Idempotency-Key with each request. Target (issue
 * "Webapi"): ≥ 1,000 Send/s at concurrency 20.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { createWriteStream } from 'node:fs';
import { Pool } from 'undici';
import { arg, cpuSeconds, threadCpuSeconds, threadBreakdown } from './util.js';
import { cpuTimes, stealPercent } from './steal.js';

const AUTH = 'Basic ' + Buffer.from('app@example.com:benchpass').toString('base64');

async function runOne(pool: Pool, n: number, conc: number, idem: boolean, tag: string): Promise<{ rate: number; p50: number; p99: number; failures: number }> {
  const lat: number[] = [];
  let next = 0;
  let failures = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) break;
        const req = { To: [{ Address: `user${i % 1000}@dest${i % 50}.example` }], Subject: `bench ${i}`, Text: 'Hello from the webapi benchmark.\nA second line.\n' };
        const headers: Record<string, string> = { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' };
        if (idem) headers['idempotency-key'] = `${tag}-${i}`;
        const t0 = process.hrtime.bigint();
        const res = await pool.request({ path: '/webapi/v0/Send', method: 'POST', headers, body: new URLSearchParams({ request: JSON.stringify(req) }).toString() });
        const text = await res.body.text();
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (res.statusCode !== 200) {
          failures++;
          if (failures === 1) console.error(`first failure: ${res.statusCode} ${text}`);
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { rate: n / secs, p50: q(0.5), p99: q(0.99), failures };
}

/**
 * Requests before the measured run (JIT, databases, the first password check), so the run measures
 * the steady state. V8 keeps optimising (and re-optimising) the request path for several thousand
 * requests: after 1,000 the compiler threads still took ~0.2 ms per request of a 5,000 run, after
 * 5,000 about a tenth of that.
 */
const WARMUP = 5000;

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'n', '5000'));
  const conc = Number(arg(args, 'concurrency', '20'));
  const idem = args.includes('--idempotency');
  const warmup = Number(arg(args, 'warmup', String(WARMUP)));
  // DKIM signing of every Send: none (default), ed25519, rsa (2048) or both (two signatures, as
  // `config domain add` sets up a domain).
  const dkim = arg(args, 'dkim', 'none');
  if (!['none', 'ed25519', 'rsa', 'both'].includes(dkim)) throw new Error('--dkim: none, ed25519, rsa or both');
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('./webapi-server-child.js', import.meta.url)), dkim], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    // BENCH_SERVER_STDOUT=<file>: keep the server's stdout (e.g. --trace-gc or --trace-deopt output).
    const keep = process.env.BENCH_SERVER_STDOUT ? createWriteStream(process.env.BENCH_SERVER_STDOUT) : undefined;
    createInterface({ input: child.stdout! }).on('line', (l) => {
      keep?.write(l + '\n');
      const m = /^READY (\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: conc, pipelining: 1 });
  try {
    console.log(`server pid ${child.pid} on 127.0.0.1:${port}; ${warmup} warm-up then ${n} measured Send requests, ${conc} concurrent clients, one recipient each${idem ? ', Idempotency-Key on each' : ''}, DKIM signatures: ${dkim}`);
    if (warmup > 0) await runOne(pool, warmup, conc, idem, 'warmup');
    const cpu0 = cpuSeconds(child.pid);
    const th0 = threadCpuSeconds(child.pid);
    const own0 = process.cpuUsage();
    const st0 = cpuTimes();
    const r = await runOne(pool, n, conc, idem, 'run');
    const own = process.cpuUsage(own0);
    const steal = stealPercent(st0, cpuTimes());
    const cpu1 = cpuSeconds(child.pid);
    const th1 = threadCpuSeconds(child.pid);
    const srv = cpu0 !== undefined && cpu1 !== undefined ? (((cpu1 - cpu0) * 1000) / n).toFixed(3) : '-';
    console.log('Send/s     p50 ms   p99 ms   failures   server cpu ms/req   client cpu ms/req');
    console.log(
      `${r.rate.toFixed(0).padStart(6)}   ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}   ${String(r.failures).padEnd(10)} ${srv.padStart(8)}            ${((own.user + own.system) / 1000 / n).toFixed(3).padStart(8)}`,
    );
    // Server CPU by thread: the event loop, and the rest (libuv pool doing the WAL fdatasyncs, GC helpers).
    if (child.pid) console.log(`server ${threadBreakdown(child.pid, th0, th1, n).replace('ms/msg', 'ms/req')}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; hypervisor steal ${steal}`);
  } finally {
    await pool.close();
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
