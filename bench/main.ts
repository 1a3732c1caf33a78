/**
 * `npm run bench -- <name> [args]`: throughput and latency benchmarks. Not part of `npm test`:
 * speed targets live here, never in timed unit tests.
 *
 * Each benchmark is a module exporting `run(args: string[]): Promise<void>` that prints its figures.
 */
const BENCHES: Record<string, { describe: string; load: () => Promise<{ run(args: string[]): Promise<void> }> }> = {
  deliver: { describe: 'store deliver(): 4 KiB messages, 50 concurrent (group commit)', load: () => import('./deliver.js') },
  submit: { describe: 'SMTP submission into the queue: 4 KiB messages, 20 authenticated connections, durable 250', load: () => import('./submit.js') },
  imap: { describe: 'IMAP on a 10,000-message generated mailbox: APPEND rate, SELECT, FETCH ENVELOPE/BODYSTRUCTURE, bodies, SEARCH TEXT, STORE, EXPUNGE', load: () => import('./imap.js') },
  webhooks: { describe: 'webhook deliveries/s to a local receiver answering 200, each result recorded durably (1 and 10 URLs)', load: () => import('./webhooks.js') },
  webapi: { describe: 'webapi Send: small text message, one recipient, 20 concurrent clients, durable 200', load: () => import('./webapi.js') },
  smtp: { describe: 'incoming SMTP: 4 KiB and 100 KiB messages at concurrency 1, 10, 50; end of DATA to durable 250', load: () => import('./smtp.js') },
  queue: { describe: 'outgoing delivery: 4 KiB messages, 1,000 recipients each over 50 domains, to a local SMTP sink (recipients/s)', load: () => import('./queue.js') },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  const names = name && name !== 'all' ? [name] : Object.keys(BENCHES);
  for (const n of names) {
    const b = BENCHES[n];
    if (!b) {
      console.error(`unknown benchmark ${JSON.stringify(n)}; available: ${Object.keys(BENCHES).join(', ')}`);
      process.exit(2);
    }
    console.log(`== bench ${n}: ${b.describe}`);
    await (await b.load()).run(args);
  }
}

await main(process.argv.slice(2));
