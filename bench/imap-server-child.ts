/**
 * Child process for `npm run bench -- imap`: a real moxts server with IMAP on 127.0.0.1:0
 * (plaintext login allowed) and account mjl. Prints `READY <imapPort> <dataDir>`; stops on SIGTERM.
 * "STATS" on stdin: one JSON line with what happened since the previous STATS (group-commit
 * batches with commit and WAL fsync times, event-loop delay, GC pauses), for the bench's
 * per-step diagnostics of the APPEND round trip.
 */
import { answerStats } from './server-stats.js';
import { startTestServer } from '../test/helpers/server.js';

const ts = await startTestServer({
  imap: true,
  passwords: { mjl: 'bench password' },
  imapLimits: { connectionsPerMinute: [1e9, 1e9, 1e9], concurrentConnections: [1e6, 1e6, 1e6] },
  // BENCH_INLINE_MAX=<bytes>: the store's inline message limit (A/B of DEFAULT_INLINE_MAX_SIZE).
  storeTuning: process.env.BENCH_INLINE_MAX ? { inlineMaxSize: Number(process.env.BENCH_INLINE_MAX) } : undefined,
});
process.on('SIGTERM', () => {
  void ts.stop().then(() => process.exit(0));
});
answerStats(ts.server.store);
process.stdout.write(`READY ${ts.imapPort} ${ts.dir}\n`);
