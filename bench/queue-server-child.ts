/**
 * Server child for bench/queue.ts: serves the config in argv[2] with a dns2 server publishing MX
 * records dest0..dest49.example → 127.0.0.1, dialling MX hosts on the sink port argv[3]. Prints
 * "READY" when started and "EMPTY" once its queue is empty; SIGTERM stops it.
 */
import { join } from 'node:path';
import { startServer } from '../cmd/server.js';
import { startTestDns, type TestDnsZone } from '../dns/testserver.js';
import { cachingResolver } from '../dns/cache.js';
import { nullLogger } from '../log/logger.js';

const zone: TestDnsZone = {};
for (let i = 0; i < 50; i++) {
  zone[`dest${i}.example`] = { MX: [{ exchange: `mx.dest${i}.example`, priority: 10 }] };
  zone[`mx.dest${i}.example`] = { A: ['127.0.0.1'] };
}
const dns = await startTestDns(zone);
const server = await startServer({
  configPath: join(process.argv[2]!, 'mox.conf'),
  log: nullLogger(),
  // The production cache in front, as a real server has.
  resolver: cachingResolver(dns.resolver),
  delivery: { port: Number(process.argv[3]) },
});
process.on('SIGTERM', () => {
  void server.stop().then(() => dns.close().then(() => process.exit(0)));
});
process.stdout.write('READY\n');
const watch = setInterval(() => {
  if (server.queue.count() === 0) {
    clearInterval(watch);
    process.stdout.write('EMPTY\n');
  }
}, 20);
