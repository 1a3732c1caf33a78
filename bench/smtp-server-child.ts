/**
 * Child process for `npm run bench -- smtp`: a real moxts server (SMTP on 127.0.0.1:0) with a
 * dns2 DNS server publishing SPF/DMARC for the sending domain, so each message goes through the
 * full path (verification, headers, parsing, durable group-committed storage), and IMAP so the
 * bench can check that every acknowledged message is visible there. Prints
 * `READY <smtp port> <imap port>` when listening; stops on SIGTERM.
 */
import { answerStats } from './server-stats.js';
import { startTestServer } from '../test/helpers/server.js';

const BENCH_PASSWORD = process.env.BENCH_PASSWORD ?? 'benchbench';

const ts = await startTestServer({
  cacheDns: true,
  // BENCH_INLINE_MAX=<bytes>: the store's inline message limit (A/B of DEFAULT_INLINE_MAX_SIZE).
  storeTuning: process.env.BENCH_INLINE_MAX ? { inlineMaxSize: Number(process.env.BENCH_INLINE_MAX) } : undefined,
  imap: true,
  passwords: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`user${i}`, BENCH_PASSWORD])),
  // All load comes from 127.0.0.1: lift the per-IP volume limits (defaults: 500 messages/minute).
  smtpLimits: {
    messagesPerMinute: [1e9, 1e9, 1e9],
    messagesPerDay: [1e9, 1e9, 1e9],
    mibPerMinute: [1e9, 1e9, 1e9],
    mibPerDay: [1e9, 1e9, 1e9],
    connectionsPerMinute: [1e9, 1e9, 1e9],
    concurrentConnections: [1e6, 1e6, 1e6],
  },
  zone: {
    'sender.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    '_dmarc.sender.example': { TXT: ['v=DMARC1;p=reject'] },
    'client.sender.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
  },
  accounts: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`user${i}`, { Domain: 'example.com', Destinations: { [`user${i}@example.com`]: {} } }])),
});
// Handler first, then READY: whoever reads READY may signal us at once.
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
answerStats(ts.server.store);
process.stdout.write(`READY ${ts.smtpPort} ${ts.imapPort}\n`);
