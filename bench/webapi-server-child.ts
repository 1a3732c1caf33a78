/**
 * Child process for `npm run bench -- webapi`: a real moxts server with the webapi on plain HTTP,
 * one account with a password and send limits high enough for the run, and an all-empty hold rule
 * so queued messages stay queued (delivery has its own benchmark). Prints `READY <port>`; stops
 * on SIGTERM.
 */
import { startTestServer } from '../test/helpers/server.js';

const ts = await startTestServer({
  cacheDns: true,
  listener: { WebAPIHTTP: { Enabled: true, Port: 0 } },
  accounts: { app: { Domain: 'example.com', Destinations: { 'app@example.com': {} }, MaxOutgoingMessagesPerDay: 1e9, MaxFirstTimeRecipientsPerDay: 1e9 } },
  passwords: { app: 'benchpass' },
});
ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${ts.server.listeners.find((l) => l.service === 'webapi')!.port}\n`);
