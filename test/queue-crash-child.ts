/**
 * Child process for test/queue-crash.test.ts: serves the config in argv[2] (a directory) with a
 * dns2 server publishing MX records d0..d49.example → 127.0.0.1, and dials MX hosts on the sink
 * port argv[3]. argv[4] shifts the clock (ms), so a restarted server sees the attempts that were
 * in flight at the kill as due. Prints "READY", and "EMPTY" once the queue is empty; SIGTERM
 * stops cleanly.
 */
import { join } from 'node:path';
import { startServer } from '../cmd/server.js';
import { startTestDns, type TestDnsZone } from '../dns/testserver.js';
import { nullLogger } from '../log/logger.js';

const dir = process.argv[2]!;
const sinkPort = Number(process.argv[3]);
const shift = Number(process.argv[4] ?? 0);
const zone: TestDnsZone = {};
for (let i = 0; i < 50; i++) {
  zone[`d${i}.example`] = { MX: [{ exchange: `mx.d${i}.example`, priority: 10 }] };
  zone[`mx.d${i}.example`] = { A: ['127.0.0.1'] };
}
const dns = await startTestDns(zone);
const server = await startServer({
  configPath: join(dir, 'mox.conf'),
  log: nullLogger(),
  resolver: dns.resolver,
  clock: shift ? () => new Date(Date.now() + shift) : undefined,
  delivery: { port: sinkPort, connectTimeoutMs: 5000, commandTimeoutMs: 10_000, dataTimeoutMs: 10_000 },
});
process.on('SIGTERM', () => {
  void server.stop().then(() => dns.close().then(() => process.exit(0)));
});
process.stdout.write('READY\n');
// Tell the parent when the queue has become empty (every message delivered and retired).
const watch = setInterval(() => {
  if (server.queue.count() === 0) {
    clearInterval(watch);
    process.stdout.write('EMPTY\n');
  }
}, 100);
