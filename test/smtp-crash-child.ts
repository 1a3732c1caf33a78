/**
 * Child process for test/smtp-crash.test.ts: serves the config in argv[2] (a directory) with a
 * dns2 server as resolver and the per-IP volume limits lifted (all load comes from 127.0.0.1).
 * Prints "READY <smtp port>"; SIGTERM stops cleanly. The parent SIGKILLs it mid-load.
 */
import { join } from 'node:path';
import { startServer } from '../cmd/server.js';
import { startTestDns } from '../dns/testserver.js';
import { nullLogger } from '../log/logger.js';

const dir = process.argv[2]!;
const dns = await startTestDns({});
const big = [1e9, 1e9, 1e9] as const;
const server = await startServer({
  configPath: join(dir, 'mox.conf'),
  log: nullLogger(),
  resolver: dns.resolver,
  unknownRecipientDelayMs: 0,
  smtpLimits: { messagesPerMinute: big, messagesPerDay: big, mibPerMinute: big, mibPerDay: big, connectionsPerMinute: big, concurrentConnections: big },
});
// Handler first, then READY: whoever reads READY may signal us at once.
process.on('SIGTERM', () => {
  void server.stop().then(() => dns.close().then(() => process.exit(0)));
});
process.stdout.write(`READY ${server.listeners.find((l) => l.service === 'smtp')!.port}\n`);
