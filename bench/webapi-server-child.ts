/**
 * Child process for `npm run bench -- webapi`: a real moxts server with the webapi on plain HTTP,
 * one account with a password and send limits high enough for the run, and an all-empty hold rule
 * so queued messages stay queued (delivery has its own benchmark). Prints `READY <port>`; stops
 * on SIGTERM.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../test/helpers/server.js';
import { generateDkimKey } from '../auth/dkim-keys.js';

// argv[2]: which DKIM signatures each Send gets (none, ed25519, rsa, both).
const dkim = process.argv[2] ?? 'none';
const algs = dkim === 'both' ? (['ed25519', 'rsa'] as const) : dkim === 'none' ? [] : [dkim as 'ed25519' | 'rsa'];
const keyDir = mkdtempSync(join(tmpdir(), 'moxts-bench-dkim-'));
const selectors = Object.fromEntries(
  algs.map((alg) => {
    const file = join(keyDir, `${alg}.pem`);
    writeFileSync(file, generateDkimKey(alg));
    return [`bench${alg}`, { PrivateKeyFile: file }];
  }),
);

const ts = await startTestServer({
  cacheDns: true,
  ...(algs.length ? { domains: { 'example.com': { LocalpartCatchallSeparator: '+', DKIM: { Selectors: selectors, Sign: Object.keys(selectors) } } } } : {}),
  listener: { WebAPIHTTP: { Enabled: true, Port: 0 } },
  accounts: { app: { Domain: 'example.com', Destinations: { 'app@example.com': {} }, MaxOutgoingMessagesPerDay: 1e9, MaxFirstTimeRecipientsPerDay: 1e9 } },
  passwords: { app: 'benchpass' },
});
ts.server.queue.addHoldRule({ account: '', senderDomain: '', recipientDomain: '' });
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
process.stdout.write(`READY ${ts.server.listeners.find((l) => l.service === 'webapi')!.port}\n`);
