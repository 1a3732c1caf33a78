/**
 * Child process for test/submission-crash.test.ts: serves the config in argv[2] (a directory)
 * with the per-IP limits lifted (all load comes from 127.0.0.1), sets account mjl's password to
 * argv[3], and prints "READY <submission port>". SIGTERM stops cleanly; the parent SIGKILLs it
 * mid-load.
 */
import { join } from 'node:path';
import { startServer } from '../cmd/server.js';
import { startTestDns } from '../dns/testserver.js';
import { nullLogger } from '../log/logger.js';
import { hashPassword } from '../auth/password.js';

const dir = process.argv[2]!;
const dns = await startTestDns({});
const big = [1e9, 1e9, 1e9] as const;
const server = await startServer({
  configPath: join(dir, 'mox.conf'),
  log: nullLogger(),
  resolver: dns.resolver,
  unknownRecipientDelayMs: 0,
  failedLoginDelayMs: 0,
  smtpLimits: { messagesPerMinute: big, messagesPerDay: big, mibPerMinute: big, mibPerDay: big, connectionsPerMinute: big, concurrentConnections: big },
});
server.store.account('mjl').setPassword(await hashPassword(process.argv[3]!, { scryptN: 1024, scramIterations: 4096 }));
process.on('SIGTERM', () => {
  void server.stop().then(() => dns.close().then(() => process.exit(0)));
});
process.stdout.write(`READY ${server.listeners.find((l) => l.service === 'submission')!.port}\n`);
