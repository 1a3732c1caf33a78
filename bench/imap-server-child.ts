/**
 * Child process for `npm run bench -- imap`: a real moxts server with IMAP on 127.0.0.1:0
 * (plaintext login allowed) and account mjl. Prints `READY <imapPort> <dataDir>`; stops on SIGTERM.
 */
import { startTestServer } from '../test/helpers/server.js';

const ts = await startTestServer({
  imap: true,
  passwords: { mjl: 'bench password' },
  imapLimits: { connectionsPerMinute: [1e9, 1e9, 1e9], concurrentConnections: [1e6, 1e6, 1e6] },
});
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${ts.imapPort} ${ts.dir}\n`);
