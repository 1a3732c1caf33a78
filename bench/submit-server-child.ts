/**
 * Child process for `npm run bench -- submit`: a real moxts server with an SMTP submission
 * listener (plaintext allowed, so the figures are those of the submission path, not of TLS), one
 * account with a password and send limits high enough for the run, and an all-empty hold rule so
 * that queued messages stay queued (delivery is measured by its own benchmark). Prints
 * `READY <port>` when listening; stops on SIGTERM.
 */
import { startTestServer } from '../test/helpers/server.js';

const big = [1e9, 1e9, 1e9] as const;
const ts = await startTestServer({
  cacheDns: true,
  listener: { Submission: { Enabled: true, Port: 0, NoRequireSTARTTLS: true } },
  smtpLimits: { messagesPerMinute: big, messagesPerDay: big, mibPerMinute: big, mibPerDay: big, connectionsPerMinute: big, concurrentConnections: [1e6, 1e6, 1e6] },
  accounts: { app: { Domain: 'example.com', Destinations: { 'app@example.com': {} }, MaxOutgoingMessagesPerDay: 1e9, MaxFirstTimeRecipientsPerDay: 1e9 } },
  passwords: { app: 'benchpass' },
});
ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${ts.submissionPort}\n`);
